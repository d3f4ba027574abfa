"""What ``--model`` names: an annotator profile (an API model) or a checkpoint folder (a local one).

``resolve_model(text)`` decides without loading anything heavy, so a bad ``--model`` fails at
once, before any file is written:

* an existing directory is a **local checkpoint**: a folder with ``config.json`` and weights
  (``model.safetensors``, a sharded index, ``pytorch_model.bin``), or one that holds such a folder
  at ``final/``, ``grpo/final/`` or ``sft/final/`` (what ``r1data train`` writes: a stage folder,
  or a run folder whose GRPO model is preferred to its SFT model). A directory that is none of
  these is a one-line usage error;
* anything else is an **annotator profile**, a name in ``annotators/`` (``gpt-4o``,
  ``vllm-local``) or a path to a profile YAML (gemini or openai, which covers any
  OpenAI-compatible server such as vLLM). Its API key variable must be set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from r1data.errors import UnknownNameError, UsageError

WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
# where `r1data train` leaves its models, most trained first
TRAINED = ("final", "grpo/final", "sft/final")


@dataclass(frozen=True)
class ModelRef:
    """A resolved ``--model``: ``kind`` ``api`` (``profile`` set) or ``local`` (``path`` set)."""

    kind: Literal["api", "local"]
    name: str                       # as the user gave it
    path: Path | None = None
    profile: Any = None             # r1data.annotators.profile.AnnotatorProfile

    def describe(self) -> dict[str, Any]:
        """What a manifest or a report records of the model."""
        if self.kind == "local":
            return {"model": self.name, "kind": "local", "checkpoint": str(self.path)}
        p = self.profile
        return {"model": self.name, "kind": "api", "provider": p.provider, "model_name": p.model,
                "base_url": p.base_url, "profile_file": p.file}


def is_checkpoint(path: Path) -> bool:
    """A transformers model folder: ``config.json`` and its weights."""
    return (path / "config.json").is_file() and any((path / w).is_file() for w in WEIGHTS)


def checkpoint_dir(path: Path) -> Path:
    """The model folder ``path`` is or holds (see the module docstring); a usage error otherwise."""
    for sub in ("", *TRAINED):
        candidate = path / sub if sub else path
        if is_checkpoint(candidate):
            return candidate
    raise UsageError(f"--model {path}: not a model checkpoint (no config.json with weights there nor in "
                     f"{', '.join(t + '/' for t in TRAINED)}); give a folder written by `r1data train` "
                     "(RUN, RUN/grpo, RUN/sft/final) or an annotator profile")


def resolve_model(text: str, assets: Any = None) -> ModelRef:
    """The model ``text`` names (see the module docstring); a one-line usage error when it is none."""
    from r1data.annotators.profile import load_profile
    from r1data.assets import Assets

    path = Path(text).expanduser()
    if path.is_dir():
        return ModelRef("local", text, path=checkpoint_dir(path))
    if not path.exists() and ("/" in text or path.suffix in (".yaml", ".yml")):
        raise UsageError(f"--model {text}: no such checkpoint folder or profile file")
    assets = assets or Assets.from_workspace(plugins=False)
    try:
        profile = load_profile(text, assets)
    except UnknownNameError as e:
        raise UsageError(f"--model {text}: neither a checkpoint folder nor {e.message}") from None
    if profile.provider == "programmatic":
        raise UsageError(f"--model {text}: the programmatic profile derives text from ground truth and cannot "
                         "answer prompts; give an API profile (gemini, openai, vllm-local) or a checkpoint folder")
    profile.api_key()      # a missing key variable fails now, before anything is written
    return ModelRef("api", text, profile=profile)
