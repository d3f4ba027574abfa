"""The embedded default of ``got``: prompts composed from procedural layouts whose boxes are known.

``procedural_got`` (source) numbers the rows and draws each one's prompt category by the
``categories`` weights (balanced by default: attribute binding, counting, spatial, complex);
``render_got`` (a stateless step) plans the prompt (:mod:`r1data.corpora.got.plans`), lays out
and draws exactly its objects on a table with the shared tabletop generator
(:mod:`r1data.corpora.got.layout`), and measures every object's box in the picture. Row ``i`` is
a pure function of the seed and ``i``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from r1data.corpora.got.layout import lay_out
from r1data.corpora.got.plans import CATEGORIES, instance_name, sample_plan
from r1data.errors import UsageError
from r1data.steps.base import PositiveInt, Reject, StepContext, record_rng, source, step
from r1data.steps.synthetic import NumberedSource


@source("procedural_got")
class ProceduralGoT(NumberedSource):
    """Endless numbered prompts (planned and drawn by ``render_got``); ``categories`` weights
    T2I-CompBench's categories (attribute_binding, counting, spatial, complex)."""

    def __init__(self, ctx: StepContext, *, categories: dict[str, float] | None = None):
        self.ctx = ctx
        weights = dict(categories or {c: 1.0 for c in CATEGORIES})
        bad = sorted(set(weights) - set(CATEGORIES))
        if bad or min(weights.values()) < 0 or sum(weights.values()) <= 0:
            raise UsageError(f"procedural_got: categories must weight some of {', '.join(CATEGORIES)}, got {weights!r}")
        self._names = list(weights)
        p = np.array([weights[c] for c in self._names], dtype=np.float64)
        self._cum = np.cumsum(p / p.sum())

    def item(self, i: int) -> dict:
        # a low-discrepancy sequence (golden-ratio steps) keeps every prefix of rows close to the
        # weights, from i alone, so a resumed build agrees
        u = (i * 0.6180339887498949) % 1.0
        k = min(int(np.searchsorted(self._cum, u, side="right")), len(self._names) - 1)
        return {"id": f"got{i:07d}", "prompt_index": i, "category": self._names[k]}


def setting_text(style: dict) -> str:
    """The table and wall of a scene, in words."""
    table = "a wooden table" if style.get("material") == "wood" else "a table with a cloth"
    wall = "a wall with a window" if style.get("window") else "a plain wall"
    return f"{table} in front of {wall}"


@step("render_got")
def render_got(rows: list[dict], ctx: StepContext, *, width: PositiveInt = 512, height: PositiveInt = 512,
               tries: PositiveInt = 40) -> Iterator[dict | Reject]:
    """Plan each numbered prompt, lay out and draw its objects, measure their boxes (rows of prompt
    files pass through)."""
    from r1data.render3d import png_bytes

    if width < 256 or height < 256:
        raise UsageError(f"render_got: image size {width}x{height} is under 256x256")
    for row in rows:
        if "prompt_index" not in row:
            yield row
            continue
        rng = record_rng(ctx.seed, "got", row["prompt_index"])
        plan = sample_plan(rng, row["category"])
        made = lay_out(rng, plan, row["id"], width, height, tries)
        if made is None:
            ctx.stats.count(f"layout_failed_{row['category']}")
            yield Reject(row, "layout_failed", f"{row['id']}: no layout of {plan.caption()!r} in {tries} tries")
            continue
        scene, placed = made
        objects, relations = plan.records()
        ctx.stats.count(f"prompts_{row['category']}")
        yield {**row, "source": "procedural", "caption": plan.caption(), "prompt_objects": objects,
               "relations": relations, "reference_image": png_bytes(scene.image), "width": width, "height": height,
               "layout": [{"name": instance_name(p.category, p.color), "category": p.category, "color": p.color,
                           "group": p.group, "box": p.grid} for p in placed],
               "boxes": [p.box for p in placed], "setting": setting_text(scene.style)}
