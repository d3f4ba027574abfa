"""The embedded default of earthreason: procedural aerial scenes with one target class each.

``procedural_aerial`` (source) only numbers the scenes; ``render_aerial_scenes`` (a stateless
step, spread over ``--workers``) paints the scene, picks the target class (an absent one for
an empty-target sample, with probability ``empty_rate``) and cuts its mask. Scene ``i`` is a
pure function of the seed and ``i``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from r1data.corpora.earthreason.landcover import CLASSES, make_scene, position_words, render
from r1data.corpora.vqa_verify.scene import encode_jpeg
from r1data.errors import UsageError
from r1data.steps.synthetic import NumberedSource
from r1data.steps.base import PositiveInt, Reject, Source, StepContext, record_rng, source, step


@source("procedural_aerial")
class ProceduralAerial(NumberedSource):
    """Endless numbered aerial scenes (painted by the ``render_aerial_scenes`` step)."""

    def __init__(self, ctx: StepContext):
        self.ctx = ctx

    def item(self, i: int) -> dict:
        return {"id": f"aerial{i:07d}", "image_id": f"aerial{i:07d}", "scene_index": i}


@step("render_aerial_scenes")
def render_aerial_scenes(rows: list[dict], ctx: StepContext, *, size: int = 512,
                         targets: list[str] | None = None, empty_rate: float = 0.1,
                         min_target_pixels: int = 64, questions_per_image: PositiveInt = 3,
                         jpeg_quality: int = 90) -> Iterator[dict | Reject]:
    """Paint each numbered scene and choose its target: rows get ``image`` (JPEG), ``width``,
    ``height``, ``target_class``, ``empty``, the boolean ``mask_array`` and, for the question
    annotator, the target's ``position``, ``share`` of the image and the scene ``layout``.
    Rows of the released data pass through."""
    targets = targets or [c for c in CLASSES if c != "grassland"]
    unknown = sorted(set(targets) - set(CLASSES))
    if unknown:
        raise UsageError(f"render_aerial_scenes: targets: unknown {unknown} (known: {', '.join(CLASSES)})")
    if not 0 <= empty_rate <= 1:
        raise UsageError(f"render_aerial_scenes: empty_rate must be within 0..1, got {empty_rate}")
    if size < 64:
        raise UsageError(f"render_aerial_scenes: size must be at least 64, got {size}")
    for row in rows:
        if "scene_index" not in row:      # a row of the released data: nothing to paint
            yield row
            continue
        rng = record_rng(ctx.seed, "aerial", row["scene_index"])
        scene = make_scene(rng, row["image_id"], size, size)
        pixels = render(scene, rng)
        present = [c for c in targets if c in scene.present(min_target_pixels)]
        absent = [c for c in targets if c not in scene.present(1)]
        empty = bool(absent) and (not present or rng.random() < empty_rate)
        if not present and not absent:
            yield Reject(row, "no_target", f"{row['image_id']}: no class has {min_target_pixels}+ pixels")
            continue
        cls = (absent if empty else present)[int(rng.integers(len(absent if empty else present)))]
        mask = scene.mask(cls)
        ctx.stats.count("empty_targets", int(empty))
        yield {**row, "source": "procedural", "image": encode_jpeg(pixels, jpeg_quality), "width": size,
               "height": size, "target_class": cls, "empty": empty, "mask_array": mask,
               "classes": scene.present(1), "position": position_words(mask),
               "share": float(np.count_nonzero(mask)) / mask.size, "layout": scene.layout,
               "n_questions": questions_per_image}
