"""The embedded default of vqa_verify: procedural tabletop scenes, rendered to JPEG.

``procedural_tabletop_vqa`` (source) only numbers the scenes, so the work (drawing,
encoding, asking) happens in ``render_tabletop_vqa``, a stateless step that ``--workers N``
spreads over processes. Scene ``i`` is a pure function of the seed and ``i``.
"""

from __future__ import annotations

from collections.abc import Iterator

from r1data.corpora.vqa_verify.questions import FAMILIES, make_questions
from r1data.corpora.vqa_verify.scene import encode_jpeg, make_scene, render
from r1data.errors import UsageError
from r1data.steps.synthetic import NumberedSource
from r1data.steps.base import Reject, Source, StepContext, record_rng, source, step


@source("procedural_tabletop_vqa")
class ProceduralTabletopVQA(NumberedSource):
    """Endless numbered tabletop scenes (drawn by the ``render_tabletop_vqa`` step)."""

    def __init__(self, ctx: StepContext):
        self.ctx = ctx

    def item(self, i: int) -> dict:
        return {"id": f"table{i:07d}", "image_id": f"table{i:07d}", "scene_index": i}


@step("render_tabletop_vqa")
def render_tabletop_vqa(rows: list[dict], ctx: StepContext, *, width: int = 512, height: int = 384,
                        objects: tuple[int, int] = (3, 7), per_image: int = 3,
                        families: dict[str, float] | None = None,
                        jpeg_quality: int = 90) -> Iterator[dict | Reject]:
    """Draw each numbered scene and ask ``per_image`` questions about it, one row each
    (rows of real sources pass through).

    Rows get the JPEG ``image``, its ``width``/``height``, the ``objects`` (category, color,
    size, visible box), the question, answer and accepted answers, the ids of the objects
    that ground the answer and, as ``grounding``, those objects' full-shape boxes."""
    families = families or {f: 1.0 for f in FAMILIES}
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise UsageError(f"render_tabletop_vqa: families: unknown {unknown} (known: {', '.join(FAMILIES)})")
    if not 1 <= objects[0] <= objects[1] <= 12:
        raise UsageError(f"render_tabletop_vqa: objects: expected [min, max] within 1..12, got {list(objects)}")
    if width < 128 or height < 96:
        raise UsageError(f"render_tabletop_vqa: image size {width}x{height} is under 128x96")
    for row in rows:
        if "scene_index" not in row:      # a row of a real source: nothing to draw
            yield row
            continue
        # one generator per scene, whatever the batch or worker: the build is resumable
        rng = record_rng(ctx.seed, "tabletop_vqa", row["scene_index"])
        scene = make_scene(rng, row["image_id"], width, height, objects)
        pixels, _ = render(scene, rng)
        data = encode_jpeg(pixels, jpeg_quality)
        objs = [{"id": o.id, "category": o.category, "color": o.color, "size": o.size,
                 "box": list(o.box) if o.box else None, "visible": round(o.visible, 3)}
                for o in scene.objects]
        shown = [o for o in objs if o["box"] is not None]
        ctx.stats.count("images")
        qas = make_questions(shown, rng, per_image, families)
        if not qas:
            yield Reject(row, "no_question", f"no question applies to the {len(shown)} objects of {row['image_id']}")
            continue
        shape_boxes = {o.id: list(o.shape_box) for o in scene.objects}
        for k, qa in enumerate(qas):
            yield {**row, "id": f"{row['image_id']}-q{k}", "source": "procedural", "image": data,
                   "width": width, "height": height, "objects": objs, **qa,
                   "grounding": [shape_boxes[i] for i in qa["object_ids"]], "scene_kind": "tabletop"}
