"""``r1data rollout``: a model answers every row N times; a new build keeps the rows by pass rate."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from r1data.cli import _state, workspace_option
from r1data.errors import UsageError

SPEC_FILE = "rollout.yaml"
SCHEMA_FILE = "rollout.schema.yaml"


@click.command("rollout")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--model", required=True, metavar="PROFILE_OR_DIR",
              help="An annotator profile (gpt-4o, gemini-2.5-pro, vllm-local, a profile YAML) or a checkpoint folder "
                   "written by `r1data train` (RUN, RUN/grpo, RUN/sft/final), run here with transformers.")
@click.option("--samples", type=click.IntRange(min=1), default=8, show_default=True, help="Answers per row.")
@click.option("--keep-pass-rate", metavar="LO:HI",
              help="Keep the rows whose pass rate lies in [LO, HI] (e.g. 0.1:0.9); the others go to the rejects "
                   "with reason pass_rate. [default: keep every row]")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="The new build folder.")
@click.option("--accuracy", metavar="REWARD",
              help="The reward that says whether a sample is right. [default: the spec's reward marked "
                   "`accuracy: true`, else the corpus family's]")
@click.option("--pass-threshold", type=float, default=0.5, show_default=True,
              help="A sample passes when its accuracy reward is at least this.")
@click.option("--recipe", help="The training recipe whose prompt to use. [default: train/CORPUS.yaml]")
@click.option("--temperature", type=click.FloatRange(min=0),
              help="Sampling temperature. [default: the recipe's GRPO temperature, else 1.0]")
@click.option("--max-new-tokens", type=click.IntRange(min=1),
              help="The longest answer. [default: a profile's max_output_tokens; a checkpoint's recipe grpo "
                   "max_completion_length, else 512]")
@click.option("--split", help="Roll out one split only. [default: every split]")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N rows.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="With a checkpoint: prompts per generate call.")
@click.option("--no-completions", is_flag=True, help="Do not store the samples' texts (rollout_completions).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes (each takes its share of the profile's limits; each loads a local model).")
@click.option("--refresh", is_flag=True, help="Ask the API again instead of reusing cached answers.")
@click.option("--max-cost", type=float, metavar="USD",
              help="Stop cleanly once the API calls cost this many US dollars; rerun with a higher limit to continue.")
@click.option("--overwrite", is_flag=True, help="Delete a previous rollout in the output folder and start over.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@workspace_option
def rollout_cmd(out: str, model: str, samples: int, keep_pass_rate: str | None, output: str, accuracy: str | None,
                pass_threshold: float, recipe: str | None, temperature: float | None, max_new_tokens: int | None,
                split: str | None, limit: int | None, batch_size: int, no_completions: bool, workers: int,
                refresh: bool, max_cost: float | None, overwrite: bool, no_progress: bool,
                workspace: str | None) -> None:
    """Ask a model about every row of the build OUT, SAMPLES times, and write a new build to OUTPUT:
    the rows plus `pass_rate` (the share of samples the corpus's accuracy reward passes),
    `rollout_rewards` and `rollout_completions`.

    The prompt is the one the corpus's training recipe builds (as `r1data train` and `r1data eval
    --model` do). An API model's calls are concurrent within its profile's limits, retried and
    cached (sample k of N is its own cache entry): a rerun or a resumed rollout pays nothing
    twice. The new build runs on the build engine: resumable after a kill (rerun the same
    command), rejects and manifest included; its spec is OUTPUT/rollout.yaml. A histogram of
    pass rates ends the run.

    \b
    r1data rollout out/longvideo --model vllm-local --samples 8 --keep-pass-rate 0.1:0.9 -o out/longvideo-hard
    r1data rollout out/xiangqi --model runs/x/grpo --samples 4 -o out/xiangqi-rollout
    """
    from r1data.cli.build import summary
    from r1data.engine.runner import build
    from r1data.steps.rollout import format_histogram, parse_pass_range

    keep = parse_pass_range(keep_pass_rate) if keep_pass_rate is not None else None
    if max_cost is not None and max_cost <= 0:
        raise UsageError(f"--max-cost must be a positive number of US dollars, got {max_cost}")
    spec, schema = rollout_spec(Path(out), model, samples=samples, keep=keep, accuracy=accuracy,
                                pass_threshold=pass_threshold, recipe=recipe, temperature=temperature,
                                max_new_tokens=max_new_tokens, split=split, limit=limit, batch_size=batch_size,
                                keep_completions=not no_completions, workspace=workspace)
    target = Path(output)
    if target.resolve() == Path(out).resolve():
        raise UsageError(f"-o {output}: the rollout writes a new build; choose another folder than {out}")
    spec_path = write_spec(target, spec, schema, overwrite)
    options: dict[str, Any] = {}
    if refresh:
        options["refresh"] = True
    if max_cost is not None:
        options["max_cost"] = max_cost
    result = build(spec_path, target, workers=workers, overwrite=overwrite, progress=not no_progress,
                   workspace=workspace, options=options, debug=_state["debug"])
    click.echo(summary(result))
    counters = result.manifest.get("counters", {})
    lines = format_histogram(counters)
    step = spec["steps"][0]
    if lines:
        click.echo(f"pass rates ({step['samples']} samples a row; a sample passes when {step['accuracy']} >= "
                   f"{step['pass_threshold']:g}):")
        click.echo("\n".join(lines))
    unscored = int(counters.get("rows_unscored:rollout", 0))
    if unscored:
        click.echo(f"  {unscored:,} rows with no sample scored")
    if keep is not None:
        click.echo(f"kept the rows with a pass rate in [{keep[0]:g}, {keep[1]:g}]: {result.manifest['rows']:,} "
                   f"(rejected for pass_rate: {result.manifest['rejects']['by_step'].get('rollout', {}).get('pass_rate', 0):,})")


def rollout_spec(out: Path, model: str, *, samples: int, keep: tuple[float, float] | None, accuracy: str | None,
                 pass_threshold: float, recipe: str | None, temperature: float | None, max_new_tokens: int | None,
                 split: str | None, limit: int | None, batch_size: int, keep_completions: bool,
                 workspace: str | None) -> tuple[dict, dict]:
    """The spec and schema of a rollout of the build ``out``, every argument checked (nothing is
    written here): a bad model, recipe, accuracy reward or split is a one-line usage error."""
    from r1data import open_corpus
    from r1data.assets import Assets
    from r1data.models import PromptBuilder, generation_settings, resolve_model
    from r1data.models.evaluate import model_takes_audio, model_takes_images
    from r1data.rewards import info
    from r1data.rewards.evaluation import accuracy_reward

    built = open_corpus(out)
    corpus = built.name
    if split is not None and split not in built.splits:
        raise UsageError(f"--split {split}: {out} has no such split (splits: {', '.join(built.splits)})")
    assets = Assets.from_workspace(workspace)
    ref = resolve_model(model, assets)
    acc = accuracy_reward(corpus, accuracy, workspace)
    schema = built.manifest.get("schema", {})
    missing = [c for c in info(acc.name).columns if c not in schema.get("fields", {})]
    if missing:
        raise UsageError(f"the accuracy reward {acc.name} reads columns {out} lacks: {', '.join(missing)}")
    builder = PromptBuilder(corpus, schema, built.path, recipe=recipe, assets=assets, vision=model_takes_images(ref),
                            listens=model_takes_audio(ref))
    settings = generation_settings(ref, builder, sampling=True, temperature=temperature, max_new_tokens=max_new_tokens)
    source: dict[str, Any] = {"reader": "built_corpus", "dir": str(built.path.resolve())}
    if split:
        source["split"] = split
    if limit:
        source["limit"] = limit
    rollout: dict[str, Any] = {
        "step": "rollout",
        "model": str(Path(model).resolve()) if ref.kind == "local" or Path(model).is_file() else model,
        "samples": samples,
        **({"keep_pass_rate": list(keep)} if keep is not None else {}),
        "accuracy": acc.name, "pass_threshold": pass_threshold,
        **settings,
        "corpus": corpus, "recipe": str(builder.loaded.file.resolve()),
        "batch_size": batch_size, "keep_completions": keep_completions,
    }
    # an engine batch holds enough requests to keep the profile's concurrency busy for many
    # rounds (between batches none is in flight), within a bound on the prompts held in memory
    rows_per_batch = 32
    if ref.kind == "api":
        rows_per_batch = min(256, max(32, -(-16 * ref.profile.max_concurrency // samples)))
    spec = {
        "name": corpus,
        "description": f"{corpus} rolled out: {out} answered {samples} times a row by {model}",
        "schema": SCHEMA_FILE,
        "seed": int(built.manifest.get("seed") or 0),
        "size": None,
        "source": "built",
        "sources": {"built": source},
        "steps": [rollout],
        "output": {"batch_size": rows_per_batch},
    }
    return spec, schema


def write_spec(target: Path, spec: dict, schema: dict, overwrite: bool) -> Path:
    """Write the rollout's spec and schema into the output folder (what a rerun resumes from)."""
    import yaml

    spec_path = target / SPEC_FILE
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=120)
    if spec_path.exists() and not overwrite:
        before = yaml.safe_load(spec_path.read_text())
        started = (target / "manifest.json").exists() or (target / ".r1data" / "checkpoint.json").exists()
        if before != spec and started:
            raise UsageError(f"{target} holds a rollout with other settings ({spec_path}); pass --overwrite to "
                             "start over or choose another -o")
    elif not spec_path.exists() and (target / "data").exists() and not overwrite:
        raise UsageError(f"{target}/data exists but is not a rollout; pass --overwrite or choose another -o")
    target.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    header = (f"# Written by `r1data rollout` ({stamp}). Resume or rebuild with the same command, or with\n"
              f"#   r1data build {spec_path} -o {target}\n")
    if not spec_path.exists() or yaml.safe_load(spec_path.read_text()) != spec:
        spec_path.write_text(header + text)
    (target / SCHEMA_FILE).write_text("# The schema of the rolled-out build (its manifest's); the rollout step adds "
                                      "its fields.\n" + yaml.safe_dump(schema, sort_keys=False, allow_unicode=True))
    return spec_path
