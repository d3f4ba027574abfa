"""``r1data train``: cold-start SFT, then GRPO from the SFT checkpoint, with TRL's trainers.

Layout of a run folder::

    runs/NAME/sft/checkpoint-N/   TRL/transformers checkpoints (resume points)
    runs/NAME/sft/final/          the SFT model + processor (GRPO starts here)
    runs/NAME/sft/log.jsonl       every logged step (loss, learning rate, ...)
    runs/NAME/grpo/...            the same for GRPO; its log has rewards/<name>/mean per reward
    runs/NAME/summary.json        the run summary (stages, steps, losses, reward means, skips)

Rerunning the same command resumes: a stage whose ``final/`` reached the requested steps is
skipped, otherwise training continues from the stage's last checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from r1data.errors import UsageError
from r1data.spec import RewardSpec
from r1data.train.recipe import LoadedRecipe, check_reward

log = logging.getLogger(__name__)

Stage = Literal["sft", "grpo", "all"]
DONE_FILE = "r1data_stage.json"


@dataclass
class TrainRequest:
    """What ``r1data train`` was asked to do."""

    data: Path
    recipe: LoadedRecipe
    output: Path
    stage: Stage = "all"
    model: str | None = None
    max_steps: int | None = None
    assets: Any = None  # r1data.assets.Assets (a --workspace); None: the default lookup


def resolve_rewards(req: TrainRequest, corpus_name: str) -> tuple[list[RewardSpec], str]:
    """The recipe's rewards, else the corpus spec's ``rewards:`` list; and where they came from."""
    if req.recipe.recipe.rewards is not None:
        return list(req.recipe.recipe.rewards), str(req.recipe.file)
    from r1data.spec import load_spec

    spec = load_spec(corpus_name, req.assets)
    problems = [p for i, r in enumerate(spec.spec.rewards)
                for p in check_reward(r, str(spec.file), f"rewards[{i}]")]
    if problems:
        raise UsageError(problems[0])
    return list(spec.spec.rewards), str(spec.file)


def load_reward_funcs(specs: list[RewardSpec]) -> tuple[list[Any], list[float], list[str]]:
    """TRL reward callables (parameters bound), their weights and the columns they read.

    Rewards that run a model (a judge behind an API profile, an embedding model) become
    ``async`` (:func:`r1data.rewards.judged.as_async_reward`): TRL gathers them, so they wait
    on their models at the same time rather than one after the other."""
    from r1data import rewards
    from r1data.rewards.judged import as_async_reward

    funcs, weights, columns = [], [], []
    for s in specs:
        fn = rewards.load(s.reward, **s.params)
        funcs.append(fn if rewards.info(s.reward).rule_based else as_async_reward(fn))
        weights.append(float(s.weight))
        columns.extend(rewards.info(s.reward).columns)
    return funcs, weights, list(dict.fromkeys(columns))


def trainer_args(stage: str, req: TrainRequest, out: Path, extra: dict[str, Any]) -> Any:
    """TRL's ``SFTConfig`` / ``GRPOConfig`` from the recipe, with r1data's defaults and overrides."""
    import torch
    from trl import GRPOConfig, SFTConfig

    cfg: dict[str, Any] = {"report_to": "none", "logging_steps": 1, "save_total_limit": 2}
    cfg.update(getattr(req.recipe.recipe, stage).config)
    cfg.update(extra)
    cfg["output_dir"] = str(out)
    if req.max_steps is not None:
        cfg["max_steps"] = req.max_steps
    if not torch.cuda.is_available():
        # the recipes are written for GPUs; on CPU bf16/fp16 and vLLM cannot run
        for key in ("bf16", "fp16", "use_vllm"):
            if cfg.get(key):
                log.warning("%s: %s.config.%s is ignored on a machine without a GPU", req.recipe.file, stage, key)
                cfg[key] = False
        cfg["use_cpu"] = True
    cls = SFTConfig if stage == "sft" else GRPOConfig
    try:
        return cls(**cfg)
    except (TypeError, ValueError) as e:
        raise req.recipe.error(f"valid TRL {cls.__name__} values ({str(e).splitlines()[0]})",
                               stage, "config") from None


def peft_config(req: TrainRequest) -> Any:
    lora = req.recipe.recipe.lora
    if not lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, task_type="CAUSAL_LM")


def stage_done(out: Path, max_steps: int | None) -> dict | None:
    """The finished stage's record when ``final/`` reached the requested steps, else None."""
    path = out / "final" / DONE_FILE
    if not path.exists():
        return None
    done = json.loads(path.read_text())
    if max_steps is not None and done.get("global_step", 0) < max_steps:
        return None
    return done


class JsonlLogger:
    """A TrainerCallback appending each log entry (with its step) to ``log.jsonl``."""

    def __init__(self, path: Path):
        from transformers import TrainerCallback

        outer = self

        class _Callback(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
                if logs and state.is_world_process_zero:
                    outer.write({"step": state.global_step, **logs})

        self.path = path
        self.callback = _Callback()

    def write(self, entry: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, default=float) + "\n")


def run_stage(stage: str, req: TrainRequest, start_model: str, vision: bool, mapping: Any, corpus: Any,
              reward_funcs: list | None = None, reward_weights: list[float] | None = None) -> dict[str, Any]:
    """Train one stage from ``start_model``; resume from its last checkpoint; save ``final/``."""
    from transformers.trainer_utils import get_last_checkpoint

    from r1data.budget import over_image_budget
    from r1data.train.data import RowFormatter, read_rows, to_dataset
    from r1data.train.models import load_model, load_processing_class

    r = req.recipe.recipe
    out = req.output / stage
    done = stage_done(out, req.max_steps)
    if done is not None:
        log.info("%s: already trained to step %s in %s; skipping", stage, done["global_step"], out / "final")
        return {**done, "skipped": "already trained"}
    stage_spec = getattr(r, stage)
    budget, schema = image_budget(req, corpus) if mapping.visual else (None, None)
    columns = mapping.columns(stage) + (budget.columns(schema) if budget else [])
    rows = read_rows(corpus, stage_spec.rows, list(dict.fromkeys(columns)), req.recipe, stage)
    # rows whose images exceed the recipe's budget: said and left out before anything loads
    rows, over = over_image_budget(rows, budget, schema)
    for line in over.lines():
        log.warning("%s: %s; before training, as the build's manifest counted (image_budget)", stage, line)
    processing_class = load_processing_class(start_model, vision, r.data.min_pixels, r.data.max_pixels)
    formatter = RowFormatter(req.recipe, mapping, processing_class, root=corpus.path)
    extra: dict[str, Any] = {}
    if stage == "sft":
        # cutting a VLM sequence can cut image tokens: skip long rows instead of truncating them
        limit = r.data.max_sft_tokens or stage_spec.config.get("max_length")
        if mapping.visual:
            extra["max_length"] = None
        examples, skipped = formatter.sft(rows, limit)
    else:
        extra["reward_weights"] = reward_weights
        examples, skipped = formatter.grpo(rows, r.data.max_prompt_tokens)
    for row_id, why in formatter.video_errors.items():
        log.warning("%s: row %s skipped: its video gave no frames (%s)", stage, row_id, why)
    skipped = over.merge(skipped)
    for line in skipped.lines():
        if not line.split(": ", 1)[-1].startswith("image_budget"):
            log.warning("%s: %s (before training)", stage, line)
    dataset = to_dataset(examples, skipped, stage, req.recipe)
    args = trainer_args(stage, req, out, extra)
    last = get_last_checkpoint(str(out)) if out.is_dir() else None
    logger = JsonlLogger(out / "log.jsonl")
    model = load_model(start_model, vision, r.dtype)
    frozen = freeze_modules(model, r.freeze, req.recipe)
    if frozen:
        log.info("%s: %s frozen (%s parameters not trained)", stage, ", ".join(r.freeze), f"{frozen:,}")
    common = dict(model=model, args=args, train_dataset=dataset, processing_class=processing_class,
                  callbacks=[logger.callback], peft_config=peft_config(req))
    if stage == "sft":
        from trl import SFTTrainer

        trainer = SFTTrainer(**common)
    elif r.data.zoom is not None:      # LOVE-R1's decoupled two-step GRPO
        from r1data.train.zoom import ZoomGRPOTrainer

        trainer = ZoomGRPOTrainer(reward_funcs=reward_funcs, zoom=r.data.zoom, **common)
    else:
        lc = r.grpo.len_control
        if lc is not None:             # Omni-R1's length bonus: its own reward column, weight 1
            from r1data.train import len_control

            reward_funcs = [*reward_funcs, len_control.placeholder()]
            args.reward_weights = [*(args.reward_weights or [1.0] * (len(reward_funcs) - 1)), 1.0]
        if formatter.audio:            # the prompts carry sound (Qwen2.5-Omni's thinker)
            from r1data.train.omni import OmniGRPOTrainer

            trainer = OmniGRPOTrainer(reward_funcs=reward_funcs, len_control=lc, **common)
        else:
            from r1data.train.len_control import LenControlGRPOTrainer

            trainer = LenControlGRPOTrainer(reward_funcs=reward_funcs, len_control=lc, **common)
    started = time.perf_counter()
    log.info("%s: %d rows (%d skipped) from %s%s", stage, len(dataset), sum(skipped.counts.values()), start_model,
             f", resuming from {last}" if last else "")
    result = trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - started
    final = out / "final"
    save_final(trainer, processing_class, final)
    main_process = trainer.is_world_process_zero()
    history = [h for h in trainer.state.log_history if "loss" in h]
    record: dict[str, Any] = {
        "stage": stage, "start_model": start_model, "final": str(final), "rows": len(dataset),
        "skipped": skipped.to_dict(), "global_step": trainer.state.global_step, "resumed_from": last,
        "train_loss": _finite(result.training_loss), "first_loss": _finite(history[0]["loss"]) if history else None,
        "last_loss": _finite(history[-1]["loss"]) if history else None, "seconds": round(seconds, 2),
        "steps_per_second": round((trainer.state.global_step - _step_of(last)) / seconds, 4) if seconds else None,
    }
    if stage == "grpo":
        record["reward_weights"] = [float(w) for w in trainer.reward_weights.tolist()]
        record["reward_means"] = reward_means(trainer.state.log_history, trainer.reward_func_names)
    if main_process:
        (final / DONE_FILE).write_text(json.dumps(record, indent=2, default=str))
    trainer.accelerator.wait_for_everyone()  # the next stage loads final/ on every process
    return record


def freeze_modules(model: Any, names: list[str], recipe: LoadedRecipe) -> int:
    """Stop training the modules ``names`` (recipe ``freeze:``): their parameters keep their
    values. A name is a module's qualified name or its last parts (``audio_tower`` is the thinker's
    ``model.audio_tower``, wherever the transformers version nests it). Returns how many parameters
    that is; a name that matches no module is an error."""
    count = 0
    modules = dict(model.named_modules())
    for name in names:
        found = [m for q, m in modules.items() if q == name or q.endswith("." + name)]
        if not found:
            tops = sorted({q.split(".")[-1] for q, m in modules.items() if q and q.count(".") <= 1})
            raise recipe.error(f"a module of {type(model).__name__} (e.g. {', '.join(tops[:12])})", "freeze",
                               got=name)
        for module in found:
            for p in module.parameters():
                if p.requires_grad:
                    p.requires_grad_(False)
                    count += p.numel()
    return count


def save_final(trainer: Any, processing_class: Any, final: Path) -> None:
    """The trained model (LoRA merged into the weights, so GRPO and users load one folder)."""
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(str(final))
    processing_class.save_pretrained(str(final))


def reward_means(history: list[dict], names: list[str]) -> dict[str, float | None]:
    """Each reward's mean over the logged steps (TRL's ``rewards/<name>/mean``)."""
    out: dict[str, float | None] = {}
    for name in names:
        values = [h[f"rewards/{name}/mean"] for h in history if f"rewards/{name}/mean" in h]
        values = [v for v in values if v is not None and not math.isnan(v)]
        out[name] = sum(values) / len(values) if values else None
    return out


def _finite(v: Any) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def _step_of(checkpoint: str | None) -> int:
    return int(checkpoint.rsplit("-", 1)[-1]) if checkpoint else 0


def image_budget(req: TrainRequest, corpus: Any) -> tuple[Any, Any]:
    """The recipe's image budget over the build's schema (r1data.budget), and that schema."""
    from r1data.budget import ImageBudget
    from r1data.schema import RecordSchema

    schema = RecordSchema.from_dict(corpus.manifest["schema"])
    return ImageBudget.from_recipe(req.recipe, schema), schema


def run_training(req: TrainRequest) -> dict[str, Any]:
    """SFT then GRPO (or one of them) on the build in ``req.data``; returns and writes the summary."""
    from r1data.corpus import Corpus
    from r1data.train.data import resolve_mapping
    from r1data.train.models import is_vision_model

    corpus = Corpus(req.data)
    r = req.recipe.recipe
    if r.corpus != corpus.name:
        raise req.recipe.error(f"the corpus of the build {req.data} ({corpus.name!r})", "corpus", got=r.corpus)
    stages = [s for s in ("sft", "grpo") if req.stage in (s, "all") and getattr(r, s).enabled]
    if not stages:
        raise UsageError(f"{req.recipe.file}: no stage to run (--stage {req.stage}; check `enabled:`)")
    base = req.model or r.model
    reward_specs, rewards_from = ([], "") if "grpo" not in stages else resolve_rewards(req, corpus.name)
    if "grpo" in stages and not reward_specs:
        raise UsageError(f"GRPO needs rewards: add a `rewards:` list to {req.recipe.file} or to the "
                         f"{corpus.name} pipeline spec")
    reward_funcs, weights, reward_columns = load_reward_funcs(reward_specs)
    vision = is_vision_model(base)
    mapping = resolve_mapping(req.recipe, corpus.manifest.get("schema", {}), reward_columns, vision)
    req.output.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "recipe": str(req.recipe.file), "corpus": corpus.name, "data": str(req.data),
        "spec_hash": corpus.manifest.get("spec_hash"), "base_model": base, "vision": mapping.visual,
        "lora": r.lora.enabled, "rewards": [s.model_dump() for s in reward_specs], "rewards_from": rewards_from,
        "stages": {}, "versions": _versions(),
    }
    start = base
    sft_final = req.output / "sft" / "final"
    if "sft" not in stages and (sft_final / DONE_FILE).exists():
        start = str(sft_final)  # --stage grpo after an earlier SFT run: start where it ended
    for stage in stages:
        record = run_stage(stage, req, start, vision, mapping, corpus, reward_funcs, weights)
        summary["stages"][stage] = record
        start = record["final"]
        if is_main_process():
            _write_summary(req.output, summary)
    return summary


def is_main_process() -> bool:
    """False on the other ranks of an ``accelerate launch`` run (they write no files)."""
    from accelerate import PartialState

    return PartialState().is_main_process


def _write_summary(output: Path, summary: dict) -> None:
    (output / "summary.json").write_text(json.dumps(summary, indent=2, default=str))


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("r1data", "torch", "transformers", "trl", "peft", "accelerate"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out
