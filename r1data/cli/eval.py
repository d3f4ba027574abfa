"""``r1data eval``: score a model's predictions against a built corpus."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from r1data.cli import workspace_option
from r1data.errors import UsageError

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
             workspace: str | None = None) -> dict[str, Any]:
    """Join predictions to the rows of ``data`` by ``id`` and score them (the ``--json`` object)."""
    from r1data import open_corpus
    from r1data.rewards.evaluation import evaluate, evaluation_for

    evaluation = evaluation_for(corpus, rewards or None, workspace)
    built = open_corpus(data)
    available = set(built.schema.names)
    if "id" not in available:
        raise UsageError(f"{data}: the corpus has no 'id' column to join predictions on")
    wanted = ["id"] + [c for c in evaluation.columns() if c in available and c != "id"]
    table = built.table(split, columns=wanted)
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
    lines = [f"{r['corpus']}: {r['data']} (split {r['split']}; rewards from {r['rewards_from']})",
             f"rows {r['rows']:,} · predictions {r['predictions']:,} · scored {r['scored']:,} · "
             f"missing {r['missing']:,} (rows without a prediction) · extra {r['extra']:,} "
             f"(predictions without a row) · duplicate ids {r['duplicates']:,}"]
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
    if r["metrics"]:
        lines.append("\nmetrics:")
        width = max(len(n) for n in r["metrics"])
        for name, v in r["metrics"].items():
            lines.append(f"  {name:<{width}}  {_fmt(v):>8}")
    return "\n".join(lines)


@click.command("eval")
@click.argument("corpus")
@click.option("--data", type=click.Path(file_okay=False), help="The built corpus folder. [default: out/CORPUS]")
@click.option("-p", "--predictions", required=True, type=click.Path(exists=True, dir_okay=False),
              help='JSONL, one {"id": ROW_ID, "completion": TEXT or [{"role": "assistant", "content": TEXT}]} per line.')
@click.option("--split", help="Score one split only. [default: all splits]")
@click.option("--reward", "rewards", multiple=True,
              help="Score with these rewards (repeatable) instead of the corpus's set; any corpus then works.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@workspace_option
def eval_cmd(corpus: str, data: str | None, predictions: str, split: str | None, rewards: tuple[str, ...],
             as_json: bool, no_progress: bool, workspace: str | None) -> None:
    """Score a model's PREDICTIONS on a built CORPUS with the corpus's rewards and metrics.

    The rewards (weights, parameters) come from the spec's `rewards:` section
    (pipelines/CORPUS.yaml), else every reward of the corpus's family (`r1data.rewards.names()`).
    Predictions join the corpus rows by id. Rows without a prediction (missing) and
    predictions without a row (extra) are counted and listed, never dropped silently; the
    means are over the scored rows.

    \b
    r1data eval xiangqi --data out/xiangqi -p preds.jsonl        legal@1, good@1, best@1, situation
    r1data eval earthreason --data out/er -p preds.jsonl --json  gIoU, cIoU, Pr@0.5..0.9 as JSON
    r1data eval scene30k -p preds.jsonl --reward scene30k.perception
    """
    path = Path(data) if data else Path("out") / corpus
    result = run_eval(corpus, path, Path(predictions), split, list(rewards), progress=not no_progress,
                      workspace=workspace)
    if result["built_corpus"] != corpus:
        click.echo(f"warning: {path} is a build of {result['built_corpus']!r}, scored as {corpus!r}", err=True)
    if as_json:
        click.echo(json.dumps(result, default=str))
    else:
        click.echo(format_report(result))
