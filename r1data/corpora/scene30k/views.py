"""``select_views``: 3D-R1's dynamic view selection, scored offline from the instance buffers.

3D-R1 (``models/3dr1/view_selection.py``) renders 8 candidate views, scores each with a
utility ``U = wt * S_text + wc * S_cov + wclip * S_clip`` from CLIP features and keeps the
top 4. Here the terms are measured, not learned:

* ``text``: how much of the question's objects the view shows, the mean over those objects
  of their visible fraction (0 for an object under ``render_views``'s ``min_pixels`` visible pixels);
* ``coverage``: the share of the scene's objects the view shows (``min_pixels`` or more);
* ``clip`` (optional: ``clip: true`` and a local CLIP ViT-B/32, the one 3D-R1's semantic reward
  uses, through transformers; the ``embeddings`` extra): the cosine of CLIP's image and text
  embeddings, as 3D-R1's ``S_text`` (its ``S_clip`` is the same cosine x 0.8).

The ``views`` best views by ``U`` are kept; if one of the question's objects is then in none
of them but some candidate shows it, the kept view with the lowest ``U`` gives way to the
best view showing it. A question whose objects no candidate shows is rejected
``objects_not_visible``. Each row gets ``images`` (the map first when there is one),
``cameras`` (None for the map), ``view_objects`` (per image, every object it shows) and the
images' ``width`` and ``height``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from r1data.corpora.scene30k.render import View, Views
from r1data.errors import UsageError
from r1data.frames import stored_size
from r1data.steps.base import Reject, StepContext, step

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = {"text": 0.6, "coverage": 0.4, "clip": 0.0}
CLIP_WEIGHT = 0.3            # CLIP's weight when ``clip`` is on and ``weights`` does not say


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
    """CLIP cosine of each candidate view with a question: the local CLIP ViT-B/32 that 3D-R1's
    semantic reward also uses (:func:`r1data.rewards.embedding.clip_towers`, transformers'
    ``CLIPModel``), image features cached per view."""

    def __init__(self, model: str = "clip"):
        import torch

        from r1data.rewards.embedding import clip_towers

        self.torch = torch
        self.tokenizer, self.processor, self.model = clip_towers(model)
        self._images: dict[bytes, Any] = {}

    @staticmethod
    def _features(out: Any) -> Any:
        # transformers 5 returns the pooled, projected output; 4 returned the tensor itself
        f = getattr(out, "pooler_output", out)
        return f / f.norm(dim=-1, keepdim=True)

    def image_features(self, views: list[View]) -> Any:
        """(N, D) unit image features of ``views``, each view's PNG encoded once."""
        todo = [v.png for v in views if v.png not in self._images]
        if todo:
            from PIL import Image

            if len(self._images) + len(todo) > 256:
                self._images.clear()
            pixels = self.processor([Image.open(io.BytesIO(b)).convert("RGB") for b in todo],
                                    return_tensors="pt")["pixel_values"]
            with self.torch.no_grad():
                f = self._features(self.model.get_image_features(pixel_values=pixels))
            self._images.update(zip(todo, f))
        return self.torch.stack([self._images[v.png] for v in views])

    def scores(self, views: list[View], text: str) -> np.ndarray:
        """Cosine of each view's image features with ``text``'s (truncated to CLIP's 77 tokens)."""
        batch = self.tokenizer([text], padding=True, truncation=True, max_length=77, return_tensors="pt")
        with self.torch.no_grad():
            t = self._features(self.model.get_text_features(**batch))
        return (self.image_features(views) @ t.T).numpy()[:, 0].astype(np.float64)


_SCORERS: dict[str, ClipScorer | None] = {}


def clip_model_name(config: bool | str | dict | None) -> str | None:
    """The CLIP ``config`` asks for: ``true`` -> ``"clip"`` (``$R1DATA_CLIP_MODEL`` or the Hugging
    Face cache), ``{model: FOLDER}`` or ``"FOLDER"`` -> ``"clip:FOLDER"``; None when off."""
    if config is None or config is False:
        return None
    if config is True:
        return "clip"
    model = config.get("model") if isinstance(config, dict) else config
    if not model or model == "clip":
        return "clip"
    return model if str(model).startswith("clip:") else f"clip:{model}"


def clip_scorer(config: bool | str | dict | None) -> ClipScorer | None:
    """The CLIP scorer ``config`` names, or None (logged once) when transformers or the weights are missing."""
    name = clip_model_name(config)
    if name is None:
        return None
    if name not in _SCORERS:
        try:
            _SCORERS[name] = ClipScorer(name)
        except ImportError as e:
            log.warning("select_views: CLIP scoring skipped: %s is not installed (pip install 'r1data[embeddings]')",
                        e.name)
            _SCORERS[name] = None
        except Exception as e:   # weights missing or unreadable: score without CLIP
            log.warning("select_views: CLIP scoring skipped: %s: %s", type(e).__name__, e)
            _SCORERS[name] = None
    return _SCORERS[name]


@step("select_views")
def select_views(rows: list[dict], ctx: StepContext, *, views: int = 4,
                 weights: dict[str, float] | None = None,
                 clip: bool | str | dict | None = None) -> Iterator[dict | Reject]:
    """Keep the ``views`` most useful candidate views of each question's scene (module docstring).

    ``clip: true`` adds CLIP's score with the local CLIP ViT-B/32 (``$R1DATA_CLIP_MODEL`` or the
    Hugging Face cache; ``clip: {model: FOLDER}`` names a folder), weighted ``weights.clip``
    (default 0.3 when CLIP is on)."""
    w = {**DEFAULT_WEIGHTS, **({"clip": CLIP_WEIGHT} if clip else {}), **(weights or {})}
    unknown = sorted(set(w) - set(DEFAULT_WEIGHTS))
    if unknown or views < 1:
        raise UsageError(f"select_views: views must be >= 1 and weights among {sorted(DEFAULT_WEIGHTS)}, "
                         f"got views={views}, weights={weights}")
    scorer = clip_scorer(clip)
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
        # every view (and the map) is rendered at one size: the frame of view_objects and cameras
        row["width"], row["height"] = stored_size(chosen[0].png) or (None, None)
        ctx.stats.count("views_kept", len(kept))
        yield row
