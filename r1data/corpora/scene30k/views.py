"""``select_views``: 3D-R1's dynamic view selection, scored offline from the instance buffers.

3D-R1 (``models/3dr1/view_selection.py``) renders 8 candidate views, scores each with a
utility ``U = wt * S_text + wc * S_cov + wclip * S_clip`` from CLIP features and keeps the
top 4. Here the terms are measured, not learned:

* ``text``: how much of the question's objects the view shows, the mean over those objects
  of their visible fraction (0 for an object under ``render_views``'s ``min_pixels`` visible pixels);
* ``coverage``: the share of the scene's objects the view shows (``min_pixels`` or more);
* ``clip`` (optional, the ``clip`` extra: ``open_clip_torch`` with local weights): the cosine of
  CLIP's image and text embeddings, as 3D-R1's ``S_text``.

The ``views`` best views by ``U`` are kept; if one of the question's objects is then in none
of them but some candidate shows it, the kept view with the lowest ``U`` gives way to the
best view showing it. A question whose objects no candidate shows is rejected
``objects_not_visible``. Each row gets ``images`` (the map first when there is one),
``cameras`` (None for the map) and ``view_objects`` (per image, every object it shows).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from r1data.corpora.scene30k.render import View, Views
from r1data.errors import UsageError
from r1data.steps.base import Reject, StepContext, step

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = {"text": 0.6, "coverage": 0.4, "clip": 0.0}


def utilities(candidates: list[View], object_ids: list[int], n_objects: int, min_pixels: int,
              weights: dict[str, float], clip_scores: np.ndarray | None = None) -> np.ndarray:
    """U per candidate view (see the module docstring)."""
    u = np.zeros(len(candidates))
    for k, view in enumerate(candidates):
        text = float(np.mean([view.fraction(i, min_pixels) for i in object_ids])) if object_ids else 0.0
        shown = sum(1 for o in view.objects if o["pixels"] >= min_pixels)
        coverage = shown / n_objects if n_objects else 0.0
        u[k] = weights.get("text", 0.0) * text + weights.get("coverage", 0.0) * coverage
    if clip_scores is not None:
        u += weights.get("clip", 0.0) * clip_scores
    return u


def choose_views(candidates: list[View], object_ids: list[int], n_objects: int, k: int, min_pixels: int,
                 weights: dict[str, float], clip_scores: np.ndarray | None = None) -> tuple[list[int], list[int]]:
    """(indices of the kept candidates, best first; ids of question objects no candidate shows)."""
    u = utilities(candidates, object_ids, n_objects, min_pixels, weights, clip_scores)
    order = sorted(range(len(candidates)), key=lambda i: (-u[i], i))
    kept = order[:k]
    shows = {i: {j for j, v in enumerate(candidates) if v.fraction(i, min_pixels) > 0} for i in object_ids}
    missing = sorted(i for i, js in shows.items() if not js)
    for i in object_ids:
        js = shows[i]
        if js and not js & set(kept):
            best = max(js, key=lambda j: (u[j], -j))
            # the lowest-utility kept view that no other question object depends on alone
            for drop in reversed(kept):
                others = [o for o in object_ids if o != i and shows[o] and shows[o] & set(kept) == {drop}]
                if not others:
                    kept[kept.index(drop)] = best
                    break
    kept = sorted(set(kept), key=lambda i: (-u[i], i))
    return kept, missing


class ClipScorer:
    """CLIP cosine of a view and a question, with ``open_clip`` and local weights."""

    def __init__(self, model: str, pretrained: str):
        import open_clip   # the `clip` extra
        import torch

        self.torch = torch
        self.model, _, self.preprocess = open_clip.create_model_and_transforms(model, pretrained=pretrained)
        self.model.eval()
        self.tokenizer = open_clip.get_tokenizer(model)
        self._images: dict[bytes, Any] = {}

    def image_features(self, png: bytes) -> Any:
        if png not in self._images:
            from PIL import Image

            if len(self._images) > 256:
                self._images.clear()
            img = self.preprocess(Image.open(io.BytesIO(png)).convert("RGB")).unsqueeze(0)
            with self.torch.no_grad():
                f = self.model.encode_image(img)
            self._images[png] = f / f.norm(dim=-1, keepdim=True)
        return self._images[png]

    def scores(self, views: list[View], text: str) -> np.ndarray:
        with self.torch.no_grad():
            t = self.model.encode_text(self.tokenizer([text]))
        t = t / t.norm(dim=-1, keepdim=True)
        return np.array([float((self.image_features(v.png) @ t.T).item()) for v in views])


_SCORERS: dict[tuple[str, str], ClipScorer | None] = {}


def clip_scorer(config: dict | None, ctx: StepContext) -> ClipScorer | None:
    """The CLIP scorer ``config`` names, or None (logged once) when open_clip or its weights are missing."""
    if not config:
        return None
    key = (str(config.get("model", "ViT-B-32")), str(config.get("pretrained", "")))
    if key not in _SCORERS:
        try:
            _SCORERS[key] = ClipScorer(*key)
        except ImportError:
            log.warning("select_views: CLIP scoring skipped: open_clip is not installed (pip install 'r1data[clip]')")
            _SCORERS[key] = None
        except Exception as e:   # weights missing or unreadable: score without CLIP
            log.warning("select_views: CLIP scoring skipped: %s: %s", type(e).__name__, e)
            _SCORERS[key] = None
    return _SCORERS[key]


@step("select_views")
def select_views(rows: list[dict], ctx: StepContext, *, views: int = 4,
                 weights: dict[str, float] | None = None, clip: dict | None = None) -> Iterator[dict | Reject]:
    """Keep the ``views`` most useful candidate views of each question's scene (module docstring);
    ``clip: {model: ViT-B-32, pretrained: /path/to/weights}`` adds CLIP's score where open_clip is installed."""
    w = dict(DEFAULT_WEIGHTS, **(weights or {}))
    unknown = sorted(set(w) - set(DEFAULT_WEIGHTS))
    if unknown or views < 1:
        raise UsageError(f"select_views: views must be >= 1 and weights among {sorted(DEFAULT_WEIGHTS)}, "
                         f"got views={views}, weights={weights}")
    scorer = clip_scorer(clip, ctx)
    if clip and scorer is None:
        ctx.stats.count("views_clip_skipped", len(rows))
    for row in rows:
        vs: Views | None = row.get("_views")
        if vs is None:
            yield Reject(row, "no_view", "the row has no rendered views (render_views did not run)")
            continue
        ids = list(row.get("object_ids") or [])
        n_objects = len(row.get("objects") or [])
        text = f"{row.get('situation') or ''} {row['question']}".strip()
        clip_scores = scorer.scores(vs.candidates, text) if scorer is not None else None
        min_pixels = vs.min_pixels
        kept, missing = choose_views(vs.candidates, ids, n_objects, views, min_pixels, w, clip_scores)
        if missing:
            yield Reject(row, "objects_not_visible", f"object(s) {missing} of the question show in none of the "
                         f"{len(vs.candidates)} candidate views (at least {min_pixels} visible pixels)")
            continue
        chosen = ([vs.top_down] if vs.top_down is not None else []) + [vs.candidates[i] for i in kept]
        # a new row without the candidates: what is not kept is not shipped back to the writer
        row = {k: v for k, v in row.items() if k != "_views"}
        row["images"] = [v.png for v in chosen]
        row["cameras"] = [v.camera for v in chosen]
        row["view_objects"] = [[o for o in v.objects if o["pixels"] > 0] for v in chosen]
        ctx.stats.count("views_kept", len(kept))
        yield row
