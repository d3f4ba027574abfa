"""``r1data train``: cold-start SFT then GRPO with TRL on a built corpus."""

from __future__ import annotations

import json
from pathlib import Path

import click

from r1data.cli import workspace_option


@click.command("train")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--recipe", "recipe", required=True,
              help="A training recipe: a path (train/scene30k.yaml) or a name in train/ (scene30k).")
@click.option("--output", "-o", "output", required=True, type=click.Path(file_okay=False),
              help="The run folder (runs/NAME): checkpoints, final models, logs, summary.json.")
@click.option("--stage", type=click.Choice(["sft", "grpo", "all"]), default="all", show_default=True,
              help="Run the SFT stage, the GRPO stage, or SFT then GRPO from the SFT model.")
@click.option("--model", help="Base model (local folder or cached hub id) instead of the recipe's `model:`.")
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop each stage after N optimizer steps.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@workspace_option
def train_cmd(out: str, recipe: str, output: str, stage: str, model: str | None, max_steps: int | None,
              as_json: bool, workspace: str | None) -> None:
    """Train on the build OUT: SFT on its reasoning rows, then GRPO with the corpus's rewards.

    Rerun the same command to resume from the last checkpoint of each stage. GRPO logs
    rewards/<name>/mean per reward (in OUTPUT/grpo/log.jsonl) and the run summary is written
    to OUTPUT/summary.json. Rows the model cannot take (missing image, too long) are skipped
    and counted by reason. Multi-GPU: `accelerate launch -m r1data train ...` (docs/train.md).

    \b
    r1data train out/scene30k --recipe scene30k --output runs/s30k
    r1data train out/scene30k --recipe train/scene30k.yaml -o runs/s30k --stage grpo --max-steps 200
    """
    from r1data.assets import Assets
    from r1data.train import TrainRequest, load_recipe, run_training

    assets = Assets.from_workspace(workspace)
    loaded = load_recipe(recipe, assets)
    summary = run_training(TrainRequest(Path(out), loaded, Path(output), stage, model, max_steps,
                                        assets))  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    for name, s in summary["stages"].items():
        if s.get("skipped") == "already trained":
            click.echo(f"{name}: already trained to step {s['global_step']} ({s['final']})")
            continue
        loss = "n/a" if s.get("last_loss") is None else f"{s['first_loss']:.4g} -> {s['last_loss']:.4g}"
        resumed = f", resumed from {Path(s['resumed_from']).name}" if s.get("resumed_from") else ""
        skipped = sum(v["rows"] for v in s["skipped"].values())
        click.echo(f"{name}: {s['global_step']} steps on {s['rows']:,} rows ({skipped:,} skipped) in "
                   f"{s['seconds']:.1f} s, loss {loss}{resumed} -> {s['final']}")
        for reason, v in s["skipped"].items():
            click.echo(f"  skipped {reason}: {v['rows']:,} (e.g. {', '.join(v['examples'])})")
        for reward, mean in (s.get("reward_means") or {}).items():
            click.echo(f"  rewards/{reward}/mean: {'n/a' if mean is None else f'{mean:.4f}'}")
    click.echo(f"summary: {Path(output) / 'summary.json'}")
