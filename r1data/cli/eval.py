"""``r1data eval``: score a model's predictions against a built corpus."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from r1data.cli import workspace_option
from r1data.errors import R1DataError, UsageError

SHOW_IDS = 20


def read_predictions(path: Path) -> tuple[dict[str, Any], list[str]]:
    """``{"id": ..., "completion": ...}`` per line -> ({id: completion}, duplicated ids).

    The first prediction of a duplicated id is kept; a bad line is a one-line error naming it."""
    predictions: dict[str, Any] = {}
    duplicates: list[str] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"{path}:{lineno}: not JSON ({e.msg})") from None
            if not isinstance(record, dict) or "id" not in record or "completion" not in record:
                raise UsageError(f"{path}:{lineno}: expected an object with 'id' and 'completion'")
            key = str(record["id"])
            if key in predictions:
                duplicates.append(key)
                continue
            predictions[key] = record["completion"]
    return predictions, duplicates


def run_eval(corpus: str, data: Path, predictions_path: Path, split: str | None = None,
             rewards: list[str] | None = None, progress: bool = False,
             workspace: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Join predictions to the rows of ``data`` by ``id`` and score them (the ``--json`` object).

    ``limit``: only the first N rows (of the split) count as the corpus."""
    from r1data import open_corpus
    from r1data.rewards.evaluation import evaluate, evaluation_for

    evaluation = evaluation_for(corpus, rewards or None, workspace)
    built = open_corpus(data)
    available = set(built.schema.names)
    if "id" not in available:
        raise UsageError(f"{data}: the corpus has no 'id' column to join predictions on")
    wanted = ["id"] + [c for c in evaluation.columns() if c in available and c != "id"]
    table = built.table(split, columns=wanted)
    if limit is not None:
        table = table.slice(0, limit)
    columns = {c: table.column(c).to_pylist() for c in wanted}
    ids = [str(i) for i in columns["id"]]
    predictions, duplicates = read_predictions(predictions_path)
    row_ids = set(ids)
    keep = [i for i, key in enumerate(ids) if key in predictions]
    missing = [key for key in ids if key not in predictions]
    extra = [key for key in predictions if key not in row_ids]
    if not predictions:
        raise UsageError(f"{predictions_path}: holds no prediction (expected JSON lines with 'id' and 'completion')")
    if not keep and ids:
        raise UsageError(f"{predictions_path}: no prediction id matches a row of {data}"
                         f"{f' (split {split})' if split else ''}; e.g. row id {ids[0]!r}, "
                         f"prediction id {next(iter(predictions), None)!r}")
    completions = [predictions[ids[i]] for i in keep]
    joined = {c: [v[i] for i in keep] for c, v in columns.items() if c != "id"}
    bar = None
    if progress and len(keep) * len(evaluation.rewards) >= 4096:
        from tqdm import tqdm

        bar = tqdm(total=len(keep) * len(evaluation.rewards), desc="scoring", unit="row", file=sys.stderr)
    try:
        result = evaluate(evaluation, completions, joined, progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    return {
        "corpus": corpus,
        "built_corpus": built.name,
        "data": str(data),
        "split": split or "all",
        "rewards_from": evaluation.origin,
        "rows": len(ids),
        "predictions": len(predictions) + len(duplicates),
        "scored": len(keep),
        "missing": len(missing),
        "extra": len(extra),
        "duplicates": len(duplicates),
        "missing_ids": missing[:SHOW_IDS],
        "extra_ids": extra[:SHOW_IDS],
        "duplicate_ids": duplicates[:SHOW_IDS],
        **result,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_report(r: dict[str, Any]) -> str:
    lines = [f"{r['corpus']}: {r['data']} (split {r['split']}; rewards from {r['rewards_from']})"]
    m = r.get("model")
    if m:
        u = m.get("usage") or {}
        cost = (f"; {u.get('api_calls', 0):,.0f} API calls, {u.get('cache_hits', 0):,.0f} cached, "
                f"${u.get('cost_usd', 0):.4f}") if m["kind"] == "api" else ""
        failed = "".join(f", {reason} {n:,}" for reason, n in m["failed"].items())
        lines.append(f"model {m['model']} ({m['kind']}; temperature {m['temperature']:g}, max {m['max_new_tokens']} "
                     f"new tokens; prompts from {Path(m['recipe']).name}): {m['generated']:,} of {m['rows_asked']:,} "
                     f"rows answered{failed}{cost}")
    lines.append(f"rows {r['rows']:,} · predictions {r['predictions']:,} · scored {r['scored']:,} · "
                 f"missing {r['missing']:,} (rows without a prediction) · extra {r['extra']:,} "
                 f"(predictions without a row) · duplicate ids {r['duplicates']:,}")
    for key, label in (("missing_ids", "missing ids"), ("extra_ids", "extra ids"), ("duplicate_ids", "duplicate ids")):
        if r[key]:
            count = r[key.replace("_ids", "s") if key == "duplicate_ids" else key.split("_")[0]]
            more = f" ... ({count - len(r[key])} more)" if count > len(r[key]) else ""
            lines.append(f"  {label}: {', '.join(r[key])}{more}")
    if r["rewards"]:
        lines.append("\nrewards (mean over the rows each applies to):")
        width = max(len(n) for n in [*r["rewards"], "weighted sum"])
        for name, v in r["rewards"].items():
            lines.append(f"  {name:<{width}}  {_fmt(v['mean']):>8}  ({v['rows']:,} rows, weight {v['weight']:g})")
            if v.get("unscored"):
                why = ", ".join(f"{reason} {n:,}" for reason, n in v["unscored"].items())
                lines.append(f"  {'':<{width}}  {sum(v['unscored'].values()):>8,} completions its model could "
                             f"not score: {why}")
        w = r["weighted"]
        lines.append(f"  {'weighted sum':<{width}}  {_fmt(w['mean']):>8}  ({w['rows']:,} rows; what GRPO adds up)")
    for name, why in r["skipped"].items():
        lines.append(f"  {name}: skipped, {why}")
    for name, what in r.get("backends", {}).items():
        lines.append(f"  {name}: scored with {what}")
    if r["metrics"]:
        lines.append("\nmetrics:")
        width = max(len(n) for n in r["metrics"])
        for name, v in r["metrics"].items():
            lines.append(f"  {name:<{width}}  {_fmt(v):>8}")
    return "\n".join(lines)


@click.command("eval")
@click.argument("corpus")
@click.option("--data", type=click.Path(file_okay=False), help="The built corpus folder. [default: out/CORPUS]")
@click.option("-p", "--predictions", type=click.Path(exists=True, dir_okay=False),
              help='JSONL, one {"id": ROW_ID, "completion": TEXT or [{"role": "assistant", "content": TEXT}]} per line.')
@click.option("--model", metavar="PROFILE_OR_DIR",
              help="Generate the completions with this model instead of reading --predictions: an annotator "
                   "profile (gpt-4o, gemini-2.5-pro, vllm-local, a profile YAML) or a checkpoint folder written "
                   "by `r1data train` (RUN, RUN/grpo, RUN/sft/final), run here with transformers.")
@click.option("--predictions-out", type=click.Path(dir_okay=False),
              help="With --model: keep the generated completions in this JSONL file (the --predictions format).")
@click.option("--recipe", help="With --model: the training recipe whose prompt to use. [default: train/CORPUS.yaml]")
@click.option("--temperature", type=click.FloatRange(min=0), help="With --model: sampling temperature. [default: 0, greedy]")
@click.option("--max-new-tokens", type=click.IntRange(min=1),
              help="With --model: the longest completion. [default: a profile's max_output_tokens; a checkpoint's "
                   "recipe grpo max_completion_length, else 512]")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="With a checkpoint: prompts per generate call.")
@click.option("--refresh", is_flag=True, help="With an API model: ask again instead of reusing cached answers.")
@click.option("--max-cost", type=float, metavar="USD", help="With an API model: stop once its calls cost this much.")
@click.option("--split", help="Score one split only. [default: all splits]")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N rows (of the split).")
@click.option("--reward", "rewards", multiple=True,
              help="Score with these rewards (repeatable) instead of the corpus's set; any corpus then works.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@workspace_option
def eval_cmd(corpus: str, data: str | None, predictions: str | None, model: str | None, predictions_out: str | None,
             recipe: str | None, temperature: float | None, max_new_tokens: int | None, batch_size: int,
             refresh: bool, max_cost: float | None, split: str | None, limit: int | None, rewards: tuple[str, ...],
             as_json: bool, no_progress: bool, workspace: str | None) -> None:
    """Score a model on a built CORPUS with the corpus's rewards and metrics: its PREDICTIONS
    (a file), or the completions a --model generates here.

    The rewards (weights, parameters) come from the spec's `rewards:` section
    (pipelines/CORPUS.yaml), else every reward of the corpus's family (`r1data.rewards.names()`).
    Predictions join the corpus rows by id. Rows without a prediction (missing) and
    predictions without a row (extra) are counted and listed, never dropped silently; the
    means are over the scored rows.

    With --model, the prompt is the one the corpus's training recipe builds (system prompt,
    prompt template, images, video frames), so eval sees what training saw; API answers are
    cached (a rerun pays nothing) and the report adds the model, its settings and its cost.
    A model-backed reward (a judge) reports the completions its model could not score.

    \b
    r1data eval xiangqi --data out/xiangqi -p preds.jsonl        legal@1, good@1, best@1, situation
    r1data eval earthreason --data out/er -p preds.jsonl --json  gIoU, cIoU, Pr@0.5..0.9 as JSON
    r1data eval vqa_verify --data out/vqa_verify --model gpt-4o --split test --limit 500
    r1data eval xiangqi --data out/xiangqi --model runs/x/grpo   a local checkpoint
    """
    from r1data.errors import UsageError

    path = Path(data) if data else Path("out") / corpus
    if (predictions is None) == (model is None):
        raise UsageError("r1data eval: give either --predictions FILE or --model PROFILE_OR_DIR")
    if model is None:
        given = [name for name, v in (("--predictions-out", predictions_out), ("--recipe", recipe),
                                      ("--temperature", temperature), ("--max-new-tokens", max_new_tokens),
                                      ("--max-cost", max_cost)) if v is not None]
        if given or refresh:
            raise UsageError(f"r1data eval: {(given or ['--refresh'])[0]} goes with --model")
    if max_cost is not None and max_cost <= 0:
        raise UsageError(f"--max-cost must be a positive number of US dollars, got {max_cost}")
    if model is None:
        result = run_eval(corpus, path, Path(predictions), split, list(rewards),  # type: ignore[arg-type]
                          progress=not no_progress, workspace=workspace, limit=limit)
    else:
        result = _eval_model(corpus, path, model, predictions_out, split=split, limit=limit, recipe=recipe,
                             temperature=temperature, max_new_tokens=max_new_tokens, batch_size=batch_size,
                             refresh=refresh, max_cost=max_cost, rewards=list(rewards), progress=not no_progress,
                             workspace=workspace)
    if result["built_corpus"] != corpus:
        click.echo(f"warning: {path} is a build of {result['built_corpus']!r}, scored as {corpus!r}", err=True)
    if as_json:
        click.echo(json.dumps(result, default=str))
    else:
        click.echo(format_report(result))


def _eval_model(corpus: str, data: Path, model: str, predictions_out: str | None, *, rewards: list[str],
                progress: bool, workspace: str | None, split: str | None, limit: int | None,
                **generation: Any) -> dict[str, Any]:
    """Generate with ``model``, then score the completions exactly as a predictions file."""
    import tempfile

    from r1data.models.evaluate import generate_predictions
    from r1data.rewards.evaluation import evaluation_for

    evaluation_for(corpus, rewards or None, workspace)     # an unknown reward fails before any call
    with tempfile.TemporaryDirectory(prefix="r1data-eval-") as tmp:
        out = Path(predictions_out) if predictions_out else Path(tmp) / "predictions.jsonl"
        info = generate_predictions(corpus, data, model, out, split=split, limit=limit, progress=progress,
                                    workspace=workspace, **generation)
        if not info["generated"]:
            why = ", ".join(f"{reason} {n:,}" for reason, n in info["failed"].items()) or "no row"
            raise R1DataError(f"--model {model} answered none of the {info['rows_asked']:,} rows ({why})")
        result = run_eval(corpus, data, out, split, rewards, progress=progress, workspace=workspace, limit=limit)
    if predictions_out:
        info["predictions_out"] = predictions_out
    return {**result, "model": info}
