"""The four pointing abilities of Embodied-R1 and the records they produce.

=======  ==================  =====================================================  ==========================
ability  ``data_type``       the model points at                                    ``answer`` payload
=======  ==================  =====================================================  ==========================
REG      point_rec           the object a referring expression names                ``{"segmentation": polygon}``
RRG      fsd_free_point      free space where an object should be put               ``{"bbox": box, "free_points": 8 pts}``
RRG      point_ref           (same, RoboPoint style)                                ``[[x, y], ...]``
OFG      grounding_rec       the functional part of an object (a handle, a lid)     ``{"segmentation": polygon}``
VTG      fsd_visual_trace    the path of the object, 8 ordered points               ``{"trajectory": 8 pts}``
=======  ==================  =====================================================  ==========================

The ``answer`` column is Embodied-R1's ``"<type>TYPE</type>JSON"`` string, read by
:mod:`r1data.rewards.embodied`. Every coordinate is in pixels of the stored image. A task row
stores its target mask (and the moved object's) as PNG, which the verifiers read.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from r1data.corpora.tabletop import (Scene, SceneObject, anchor_point, interior_points, lift_trace, mask_outline,
                                     polygon_to_mask, refer, region_phrase)

ABILITIES = ("REG", "RRG", "OFG", "VTG")
DATA_TYPES: dict[str, tuple[str, ...]] = {"REG": ("point_rec",), "RRG": ("fsd_free_point", "point_ref"),
                                          "OFG": ("grounding_rec",), "VTG": ("fsd_visual_trace",)}
ABILITY_OF = {t: a for a, ts in DATA_TYPES.items() for t in ts}
TRACE_POINTS = 8          # Embodied-R1 appendix B: a visual trace has exactly 8 points
FREE_POINTS = 8           # fsd_free_point: exactly 8 free points

# How a functional part is asked for: by name, or by what it is for (HandAL-style affordances).
PART_PHRASES: dict[str, tuple[str, ...]] = {
    "handle": ("the handle of {obj}", "the part of {obj} to hold when picking it up", "where to grasp {obj}"),
    "lid": ("the lid of {obj}", "the part of {obj} to lift to open it"),
    "knob": ("the knob of {obj}", "the part of {obj} to pull to open it"),
    "cap": ("the cap of {obj}", "the part of {obj} to twist to open it"),
    "spout": ("the spout of {obj}", "the part of {obj} the water pours out of"),
    "blade": ("the blade of {obj}", "the part of {obj} that cuts"),
    "screen": ("the screen of {obj}", "the part of {obj} that shows the display"),
    "head": ("the bowl of {obj}", "the part of {obj} that holds the food"),
    "keyboard": ("the keyboard of {obj}", "the part of {obj} you type on"),
}
PLACE_VERBS = ("put {obj} {where}", "move {obj} {where}", "place {obj} {where}",
               "pick up {obj} and put it {where}")


def mask_to_png(mask: np.ndarray) -> bytes:
    """A mask as a single-channel 0/255 PNG, fast compression (the masks are mostly empty)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(mask, dtype=np.uint8) * 255, mode="L").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def answer_string(data_type: str, payload: Any) -> str:
    """``"<type>point_rec</type>{"segmentation": [[x, y], ...]}"`` (Embodied-R1's answer column)."""
    return f"<type>{data_type}</type>{json.dumps(payload)}"


def region_task(data_type: str, mask: np.ndarray, polygon: list, rng: np.random.Generator,
                n_points: int) -> tuple[Any, list[list[int]]]:
    """REG / OFG: the polygon payload and ``n_points`` points inside both mask and polygon."""
    points = interior_points(mask, n_points, rng, polygon=polygon)
    return {"segmentation": polygon}, points


def _base(scene: Scene, ability: str, data_type: str, instruction: str, target: np.ndarray,
          payload: Any, points: list[list[int]], target_box: list[float], **extra: Any) -> dict:
    return {"scene_id": scene.id, "ability": ability, "data_type": data_type, "instruction": instruction,
            "answer": answer_string(data_type, payload), "points": points,
            "target_box": [float(v) for v in target_box], "target_mask": mask_to_png(target),
            "width": scene.width, "height": scene.height, **extra}


def _mask_box(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def reg_tasks(scene: Scene, rng: np.random.Generator, n: int, min_area: int = 150) -> list[dict]:
    """Point at objects named by referring expressions."""
    cands = [o for o in scene.objects if o.area >= min_area and o.visible_fraction >= 0.5]
    out = []
    for o in _pick(cands, n, rng):
        name = refer(scene, o, rng)
        mask = scene.mask(o.id)
        polygon = mask_outline(mask)
        if name is None or len(polygon) < 3:
            continue
        payload, points = region_task("point_rec", mask, polygon, rng, int(rng.integers(1, 4)))
        out.append(_base(scene, "REG", "point_rec", name, mask, payload, points, _mask_box(mask),
                         object_id=o.id, target_category=o.category, target_part=""))
    return out


def ofg_tasks(scene: Scene, rng: np.random.Generator, n: int, min_area: int = 40) -> list[dict]:
    """Point at the functional part of an object."""
    cands = []
    for o in scene.objects:
        for part in o.part_names:
            if part in PART_PHRASES and int(scene.part_mask(o.id, part).sum()) >= min_area:
                cands.append((o, part))
    out = []
    for o, part in _pick(cands, n, rng):
        name = refer(scene, o, rng)
        mask = scene.part_mask(o.id, part)
        polygon = mask_outline(mask)
        if name is None or len(polygon) < 3:
            continue
        phrases = PART_PHRASES[part]
        instruction = phrases[int(rng.integers(len(phrases)))].format(obj=name)
        payload, points = region_task("grounding_rec", mask, polygon, rng, int(rng.integers(1, 3)))
        out.append(_base(scene, "OFG", "grounding_rec", instruction, mask, payload, points, _mask_box(mask),
                         object_id=o.id, target_category=o.category, target_part=part))
    return out


def _movable(scene: Scene) -> list[SceneObject]:
    return [o for o in scene.objects if o.graspable and not o.is_support and o.surface != "front"
            and o.area >= 150]


def place_candidates(scene: Scene) -> list[tuple[SceneObject, int]]:
    """(object to move, index of a free region) pairs that can be put into words."""
    out = []
    for o in _movable(scene):
        for k, r in enumerate(scene.regions):
            if o.id in r.anchors or r.surface != o.surface:
                continue
            out.append((o, k))
    return out


def rrg_tasks(scene: Scene, rng: np.random.Generator, n: int, types: dict[str, float]) -> list[dict]:
    """Point at free space where an object should be put (fsd_free_point or point_ref)."""
    names, weights = list(types), np.array(list(types.values()), dtype=np.float64)
    out = []
    for o, k in _pick(place_candidates(scene), n, rng):
        region = scene.regions[k]
        obj_name, where = refer(scene, o, rng), region_phrase(scene, region)
        if obj_name is None or where is None:
            continue
        mask = scene.region_mask(region)
        verb = PLACE_VERBS[int(rng.integers(len(PLACE_VERBS)))]
        data_type = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        free = interior_points(mask, FREE_POINTS, rng)
        if len(free) < FREE_POINTS:
            continue
        box = [int(round(v)) for v in _mask_box(mask)]
        box[2] -= 1
        box[3] -= 1            # inclusive pixel bounds: Embodied-R1 tests x1 <= x <= x2
        payload = {"bbox": box, "free_points": free} if data_type == "fsd_free_point" else free
        shown = free[:int(rng.integers(2, 5))]
        out.append(_base(scene, "RRG", data_type, verb.format(obj=obj_name, where=where), mask, payload, shown,
                         box, object_id=o.id, target_category=o.category, target_part="",
                         relation=region.relation, anchors=list(region.anchors),
                         object_box=_mask_box(scene.mask(o.id)), object_mask=mask_to_png(scene.mask(o.id))))
    return out


def vtg_tasks(scene: Scene, rng: np.random.Generator, n: int) -> list[dict]:
    """Draw the 8-point path of an object carried to a free region."""
    out = []
    for o, k in _pick(place_candidates(scene), n, rng):
        region = scene.regions[k]
        obj_name, where = refer(scene, o, rng), region_phrase(scene, region)
        if obj_name is None or where is None:
            continue
        obj_mask = scene.mask(o.id)
        mask = scene.region_mask(region)
        trace = lift_trace(anchor_point(obj_mask), anchor_point(mask), TRACE_POINTS,
                           lift=float(rng.uniform(0.2, 0.5)), width=scene.width, height=scene.height)
        verb = PLACE_VERBS[int(rng.integers(len(PLACE_VERBS)))]
        out.append(_base(scene, "VTG", "fsd_visual_trace", verb.format(obj=obj_name, where=where), mask,
                         {"trajectory": trace}, trace, _mask_box(mask), object_id=o.id,
                         target_category=o.category, target_part="", relation=region.relation,
                         anchors=list(region.anchors), object_box=_mask_box(obj_mask),
                         object_mask=mask_to_png(obj_mask)))
    return out


def _pick(items: list, n: int, rng: np.random.Generator) -> list:
    if n <= 0 or not items:
        return []
    idx = rng.permutation(len(items))[:n]
    return [items[int(i)] for i in idx]
