"""The embedded default of vqa_verify: procedural tabletop and indoor scenes, rendered to JPEG.

``procedural_tabletop_vqa`` (source) only numbers the scenes and draws each one's kind
(``kinds`` weights ``tabletop`` and ``indoor``), so the work (laying out, rendering, encoding,
asking) happens in ``render_tabletop_vqa``, a stateless step that ``--workers N`` spreads over
processes. The scenes come from the shared generator :mod:`r1data.corpora.tabletop` (the one
embodied_points uses); scene ``i`` is a pure function of the seed and ``i``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from r1data.corpora.vqa_verify.questions import FAMILIES, make_questions
from r1data.corpora.vqa_verify.scene import KINDS, encode_jpeg, scene_objects
from r1data.errors import UsageError
from r1data.steps.base import PositiveInt, Reject, StepContext, record_rng, source, step
from r1data.steps.synthetic import NumberedSource


@source("procedural_tabletop_vqa")
class ProceduralTabletopVQA(NumberedSource):
    """Endless numbered scenes (drawn by the ``render_tabletop_vqa`` step); ``kinds`` weights
    tabletop scenes (objects on a table) against indoor ones (a kitchen: shelf, counter,
    drawers and cabinet doors)."""

    def __init__(self, ctx: StepContext, *, kinds: dict[str, float] | None = None):
        self.ctx = ctx
        self.kinds = dict(kinds or {"tabletop": 0.6, "indoor": 0.4})
        bad = sorted(set(self.kinds) - set(KINDS))
        if bad or min(self.kinds.values()) < 0 or sum(self.kinds.values()) <= 0:
            raise UsageError(f"procedural_tabletop_vqa: kinds must weight 'tabletop' and/or 'indoor', "
                             f"got {self.kinds!r}")
        names = list(self.kinds)
        p = np.array([self.kinds[k] for k in names], dtype=np.float64)
        self._names, self._p = names, p / p.sum()

    def item(self, i: int) -> dict:
        kind = self._names[int(self.ctx.rng("kind", i).choice(len(self._names), p=self._p))]
        return {"id": f"scene{i:07d}", "image_id": f"scene{i:07d}", "scene_index": i, "scene_kind": kind}


@step("render_tabletop_vqa", expands=True)
def render_tabletop_vqa(rows: list[dict], ctx: StepContext, *, width: int = 512, height: int = 384,
                        objects: tuple[int, int] = (3, 7), per_image: PositiveInt = 3,
                        families: dict[str, float] | None = None,
                        jpeg_quality: int = 90) -> Iterator[dict | Reject]:
    """Lay out and render each numbered scene (``scene_kind`` tabletop or indoor) with
    ``objects`` [min, max] loose objects (indoor scenes add their drawers and cabinet doors),
    and ask ``per_image`` questions about it, one row each (rows of real sources pass through).

    Rows get the JPEG ``image``, its ``width``/``height``, the ``objects`` (category, color,
    size, visible box read from the object's mask, visible fraction), the question, answer and
    accepted answers, the ids of the objects that ground the answer and, as ``grounding``,
    those objects' full drawn boxes."""
    from r1data.corpora.tabletop import generate_scene

    families = families or {f: 1.0 for f in FAMILIES}
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise UsageError(f"render_tabletop_vqa: families: unknown {unknown} (known: {', '.join(FAMILIES)})")
    if not 1 <= objects[0] <= objects[1] <= 12:
        raise UsageError(f"render_tabletop_vqa: objects: expected [min, max] within 1..12, got {list(objects)}")
    if width < 256 or height < 192:
        raise UsageError(f"render_tabletop_vqa: image size {width}x{height} is under 256x192")
    for row in rows:
        if "scene_index" not in row:      # a row of a real source: nothing to draw
            yield row
            continue
        kind = row.get("scene_kind", "tabletop")
        if kind not in KINDS:
            yield Reject(row, "bad_scene_kind", f"{row['image_id']}: scene_kind {kind!r} is not one of {KINDS}")
            continue
        # one generator per scene, whatever the batch or worker: the build is resumable
        rng = record_rng(ctx.seed, "tabletop_vqa", row["scene_index"])
        scene = generate_scene(rng, row["image_id"], kind, width, height, (objects[0], objects[1]))
        assert scene.image is not None
        data = encode_jpeg(scene.image, jpeg_quality)
        objs, full_boxes = scene_objects(scene)
        shown = [o for o in objs if o["box"] is not None]
        ctx.stats.count("images")
        ctx.stats.count(f"images_{kind}")
        qas = make_questions(shown, rng, per_image, families, kind)
        if not qas:
            yield Reject(row, "no_question", f"no question applies to the {len(shown)} objects of {row['image_id']}")
            continue
        for k, qa in enumerate(qas):
            yield {**row, "id": f"{row['image_id']}-q{k}", "source": "procedural", "image": data,
                   "width": width, "height": height, "objects": objs, **qa,
                   "grounding": [full_boxes[i] for i in qa["object_ids"]], "scene_kind": kind}
