"""Training recipes: ``train/NAME.yaml`` parsed once, at the edge, into a typed :class:`Recipe`.

A recipe says what to train and how: the base model, which rows of the build feed the
cold-start SFT and which feed GRPO, how a row becomes TRL's conversational format (system
prompt, Jinja templates for the user turn and the SFT target, the image column, or N frames
sampled from the video column), the TRL ``SFTConfig`` and
``GRPOConfig`` fields of each stage, the rewards (by registry name, with weights and
parameters; by default the corpus spec's ``rewards:`` list) and LoRA as a switch. Every key
is checked before anything loads: an unknown TRL field or reward names the file, line and key.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from r1data.errors import SpecError, UnknownNameError
from r1data.spec import RewardSpec
from r1data.yamlio import LineMap, key_path, load_yaml, pydantic_problems, raise_problems

# TRL config fields r1data sets itself: a recipe naming them would be silently overridden
RESERVED = {
    "sft": {"output_dir": "set by --output", "resume_from_checkpoint": "rerun the command to resume"},
    "grpo": {"output_dir": "set by --output", "resume_from_checkpoint": "rerun the command to resume",
             "reward_weights": "give each reward a `weight:` under `rewards:`"},
}


class RowsSpec(BaseModel):
    """Which rows of the build feed a stage."""

    model_config = ConfigDict(extra="forbid")
    split: str = "train"
    where: str | None = Field(None, description="a DuckDB condition over the corpus columns")
    fraction: tuple[float, float] | None = Field(
        None, description="[lo, hi): the rows whose id hashes into this part of [0, 1) (a stable hash), so two "
                          "stages can take disjoint shares of one split, e.g. SFT [0, 0.3333], GRPO [0.3333, 1]")
    limit: int | None = Field(None, gt=0)

    @field_validator("fraction")
    @classmethod
    def _fraction(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0.0 <= v[0] < v[1] <= 1.0:
            raise ValueError("fraction must be [lo, hi) with 0 <= lo < hi <= 1")
        return v


def id_fraction(row_id: object) -> float:
    """Where a row id falls in [0, 1): the first 8 bytes of its BLAKE2b hash (stable across runs,
    machines and Python versions), for :attr:`RowsSpec.fraction`."""
    digest = hashlib.blake2b(str(row_id).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class LenControlSpec(BaseModel):
    """Omni-R1's length bonus in GRPO (r1data.train.len_control): in a group where more than one
    completion is accurate, the accurate ones of min..max tokens get ``bonus``."""

    model_config = ConfigDict(extra="forbid")
    accuracy: list[str] = Field(min_length=1, description="the recipe's rewards whose sum is a completion's "
                                                          "accuracy (one that does not apply counts 0)")
    above: float = Field(0.1, description="accurate: accuracy above this")
    min_tokens: int = Field(320, ge=0)
    max_tokens: int = Field(750, ge=0)
    bonus: float = 1.0


class StageSpec(BaseModel):
    """One stage (SFT or GRPO): on or off, its rows and its TRL config fields."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    rows: RowsSpec = RowsSpec()
    config: dict[str, Any] = Field(default_factory=dict)
    len_control: LenControlSpec | None = Field(None, description="GRPO only: Omni-R1's length bonus")


class ZoomStepSpec(BaseModel):
    """One SFT example made from each row in LOVE-R1's zoom-in format: its target, and the clip shown."""

    model_config = ConfigDict(extra="forbid")
    completion: str = Field(description="the SFT target: a Jinja template over the row's fields")
    zoom: str | None = Field(None, description="a column holding one interval [s, e] (seconds) shown as a "
                                               "zoom-in clip after the row's own zoomin_intervals")


class ZoomSpec(BaseModel):
    """LOVE-R1's zoom-in protocol (r1data.corpora.love.protocol): a fast view of the whole video, a
    slow view of each zoomed interval, timestamps drawn on every frame. Setting it makes GRPO LOVE-R1's
    decoupled two-step rollout (r1data.train.zoom). Defaults: the released RL trainer's values."""

    model_config = ConfigDict(extra="forbid")
    max_fast_frames: int = Field(768, gt=0, description="frames of the full video at most (2 per second)")
    fast_pixels: int = Field(32 * 28 * 28, gt=0, description="pixels per fast frame")
    short_video_seconds: float = Field(60.0, ge=0, description="videos shorter than this get short_factor x "
                                                               "fast_pixels (SFT: 120 s, the SFT script's)")
    short_factor: int = Field(2, gt=0)
    slow_pixels: int = Field(256 * 28 * 28, gt=0, description="pixels per zoom-in frame")
    max_slow_frames: int = Field(16, gt=0, description="zoom-in frames per interval in GRPO (2 per second)")
    sft_max_slow_frames: int = Field(32, gt=0, description="zoom-in frames for one interval in SFT (24 for "
                                                           "two, 16 for more, scaled from 32)")
    sft_short_video_seconds: float = Field(120.0, ge=0)
    intervals: str = Field("zoomin_intervals", description="the column of intervals already zoomed (seconds)")
    duration: str = Field("duration", description="the column of the video's length in seconds")
    tgt: str = Field("tgt", description="the column of clue intervals of grounding rows (null: multiple choice)")
    sft_steps: list[ZoomStepSpec] = Field(default_factory=list, description="the SFT examples made from each "
                                          "row (LOVE-R1's CoT data: a zoom step, then an answer step with its clip)")


class DataSpec(BaseModel):
    """How a row becomes TRL's conversational format. Unset fields come from the schema's roles."""

    model_config = ConfigDict(extra="forbid")
    prompt: str | None = Field(None, description="Jinja template of the user turn over the row's fields "
                                                 "(default: the schema's question field)")
    completion: str | None = Field(None, description="the SFT target: a column, or a Jinja template over the "
                                                     "row's fields (default: the reasoning field)")
    images: str | None = Field(None, description="image column (default: the schema's image field); "
                                                 "'none' trains text-only")
    max_images: int | None = Field(None, gt=0, description="first N images of a row")
    video_frames: int | None = Field(None, gt=0, description="video corpora: N frames sampled uniformly from "
                                                             "the row's video become its images")
    videos: str | None = Field(None, description="video column read by video_frames (default: the schema's "
                                                 "video field); a relative path is under the build folder")
    audio: bool = Field(False, description="video corpora: the video's sound track goes into the prompt too, as "
                                           "audio parts (<= 30 s each) after the frames; for a model that "
                                           "listens (Qwen2.5-Omni), ignored with a warning otherwise")
    audio_for: dict[str, list[str]] | None = Field(None, description="with audio: only rows whose FIELD is one "
                                                                     "of the values get their sound, e.g. "
                                                                     "{problem_type: [refavs]}")
    min_pixels: int | None = Field(None, gt=0)
    max_pixels: int | None = Field(None, gt=0)
    max_prompt_tokens: int | None = Field(None, gt=0, description="GRPO rows whose prompt is longer are skipped")
    max_image_tokens: int | None = Field(None, gt=0, description="rows whose images cost more tokens (smart_resize "
                                                                 "at min/max_pixels) are skipped before training; "
                                                                 "default: max_prompt_tokens (r1data.budget)")
    max_sft_tokens: int | None = Field(None, gt=0, description="SFT rows longer than this are skipped")
    zoom: ZoomSpec | None = Field(None, description="LOVE-R1's zoom-in views and decoupled two-step GRPO "
                                                    "(video corpora; replaces video_frames)")


class LoraSpec(BaseModel):
    """LoRA through peft; off by default (full fine-tuning as in the papers)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | str = "all-linear"


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    corpus: str = Field(description="the corpus the recipe is for (checked against the build)")
    model: str = Field(description="base model: a hub id (cached) or a local folder")
    description: str = ""
    paper: str = ""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = None
    system_prompt: str = Field("", description="the system message; a Jinja template over the row's fields "
                                               "when it has {{ }} (one message per row)")
    data: DataSpec = DataSpec()
    sft: StageSpec = StageSpec()
    grpo: StageSpec = StageSpec()
    rewards: list[RewardSpec] | None = Field(None, description="default: the corpus spec's rewards")
    lora: LoraSpec = LoraSpec()
    freeze: list[str] = Field(default_factory=list, description="modules not trained, by their name in the "
                                                                "model (a prefix of its parameter names), "
                                                                "e.g. [visual, audio_tower]")


@dataclasses.dataclass
class LoadedRecipe:
    """A checked recipe and where it came from (for errors that name the file and line)."""

    recipe: Recipe
    file: Path
    lines: LineMap

    def where(self, *loc: Any) -> str:
        line = self.lines.line(loc)
        return f"{self.file}:{line}" if line else str(self.file)

    def error(self, expected: str, *loc: Any, got: Any = None) -> SpecError:
        return SpecError(str(self.file), key_path(loc), expected, got=got, line=self.lines.line(loc))


@lru_cache(maxsize=None)
def trl_fields(stage: str) -> frozenset[str]:
    """The field names of TRL's ``SFTConfig`` or ``GRPOConfig``."""
    from trl import GRPOConfig, SFTConfig

    cls = SFTConfig if stage == "sft" else GRPOConfig
    return frozenset(f.name for f in dataclasses.fields(cls) if f.init)


def load_recipe(name_or_path: str | Path, assets: Any = None, *, check_trl: bool = True) -> LoadedRecipe:
    """Load and check a recipe given by path or by name (``scene30k`` -> ``train/scene30k.yaml``).

    ``check_trl=False`` leaves out the check of the stages' TRL config keys, which imports TRL
    (and torch): what reads only the prompt side of a recipe (``r1data eval --model`` with an
    API model, the rollout step) does not need the ``train`` extra."""
    from r1data.assets import Assets

    assets = assets or Assets.from_workspace()
    path = assets.resolve("train", name_or_path)
    data, lines = load_yaml(path)
    file = str(path)
    if not isinstance(data, dict):
        raise SpecError(file, "", "a mapping (corpus, model, sft, grpo, rewards, ...)", got=type(data).__name__)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        raise_problems(file, pydantic_problems(e, file, lines))
        raise AssertionError("unreachable") from None
    loaded = LoadedRecipe(recipe, path, lines)
    problems = check_recipe(loaded, check_trl=check_trl)
    if problems:
        raise SpecError.from_problems(file, problems)
    return loaded


def check_recipe(loaded: LoadedRecipe, check_trl: bool = True) -> list[str]:
    """Every problem of the TRL config keys and the rewards, as ``FILE:LINE: KEY: expected`` lines."""
    r = loaded.recipe
    problems: list[str] = []

    def problem(loc: tuple, expected: str) -> None:
        problems.append(f"{loaded.where(*loc)}: {key_path(loc)}: {expected}")

    for stage in ("sft", "grpo") if check_trl else ():
        known = trl_fields(stage)
        cls = "SFTConfig" if stage == "sft" else "GRPOConfig"
        for key in getattr(r, stage).config:
            loc = (stage, "config", key)
            if key in RESERVED[stage]:
                problem(loc, f"not settable in a recipe ({RESERVED[stage][key]})")
            elif key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problem(loc, f"unknown TRL {cls} field{hint}")
    for i, spec in enumerate(r.rewards or []):
        problems.extend(check_reward(spec, loaded.where("rewards", i), f"rewards[{i}]"))
    if r.sft.len_control is not None:
        problem(("sft", "len_control"), "nothing: the length bonus is a GRPO setting (grpo.len_control)")
    lc = r.grpo.len_control
    if lc is not None:
        if lc.min_tokens > lc.max_tokens:
            problem(("grpo", "len_control", "max_tokens"), f"at least min_tokens ({lc.min_tokens})")
        if r.data.zoom is not None:
            problem(("grpo", "len_control"), "nothing with data.zoom (the zoom-in trainer scores its own steps)")
        names = [s.reward for s in r.rewards or []]
        missing = [a for a in lc.accuracy if r.rewards is not None and a not in names]
        if missing:
            problem(("grpo", "len_control", "accuracy"), f"rewards of this recipe ({', '.join(names)}); "
                                                        f"not among them: {', '.join(missing)}")
    return problems


def check_reward(spec: RewardSpec, where: str, key: str) -> list[str]:
    """Problems with one ``- reward: NAME`` entry: an unknown name or parameter."""
    from r1data import rewards

    try:
        info = rewards.info(spec.reward)
    except UnknownNameError as e:
        return [f"{where}: {key}.reward: {e.message}"]
    unknown = sorted(set(spec.params) - set(info.params))
    if unknown:
        return [f"{where}: {key}.params: unknown parameter {', '.join(map(repr, unknown))} of "
                f"{spec.reward} (parameters: {', '.join(info.params) or 'none'})"]
    return []
