"""Verifiers of embodied_points rows (``verify`` step; each returns ``(ok, why)``).

Target masks come from the working key ``_mask`` (set by the generator and the readers) or
the stored ``target_mask`` PNG; the manipulated object's from ``_object_mask`` /
``object_mask``, falling back to ``object_box``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from r1data.corpora.embodied_points.tasks import ABILITY_OF, FREE_POINTS
from r1data.geometry import png_to_mask, points_in_box, points_in_mask, points_in_polygon, points_inside_image
from r1data.steps.checks import verifier

Result = "bool | tuple[bool, str]"


def _mask(row: dict, key: str) -> np.ndarray | None:
    m = row.get(f"_{key}")
    if m is not None:
        return m
    data = row.get(key)
    if data is None:
        return None
    if isinstance(data, dict):
        data = data.get("bytes")
    return png_to_mask(data)


def _target(row: dict) -> Any:
    from r1data.rewards.embodied import parse_target

    return parse_target(row.get("answer"), row.get("data_type"))


def _pairs(value: Any, n: int | None = None) -> bool:
    ok = isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
        for p in value)
    return ok and (n is None or len(value) == n)


def payload_points(data_type: str, payload: Any) -> np.ndarray:
    """Every coordinate pair of an answer payload, (N, 2)."""
    if data_type in ("point_rec", "grounding_rec"):
        pts = payload.get("segmentation", [])
    elif data_type == "fsd_free_point":
        b = payload.get("bbox", [])
        pts = payload.get("free_points", []) + ([[b[0], b[1]], [b[2], b[3]]] if len(b) == 4 else [])
    elif data_type == "fsd_visual_trace":
        pts = payload.get("trajectory", [])
    else:
        pts = payload
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2)


@verifier("embodied_points_answer_format")
def answer_format(row: dict, trace_points: int = 8) -> Result:
    """``answer`` is ``<type>T</type>JSON`` with T = ``data_type``, of the row's ``ability``, and
    the payload Embodied-R1 expects for T (polygon of >= 3 vertices, bbox + 8 free points, a
    point list, a trajectory of ``trace_points``)."""
    t = _target(row)
    dt = row.get("data_type")
    if t is None:
        return False, "answer is not <type>T</type> followed by JSON"
    if t.type != dt:
        return False, f"answer type {t.type!r} differs from data_type {dt!r}"
    if ABILITY_OF.get(dt) != row.get("ability"):
        return False, f"data_type {dt!r} is not an {row.get('ability')!r} type"
    p = t.payload
    if dt in ("point_rec", "grounding_rec"):
        ok = isinstance(p, dict) and _pairs(p.get("segmentation")) and len(p["segmentation"]) >= 3
        return (True, "") if ok else (False, "segmentation is not a polygon of >= 3 [x, y] vertices")
    if dt == "fsd_free_point":
        ok = (isinstance(p, dict) and _pairs(p.get("free_points"), FREE_POINTS) and isinstance(p.get("bbox"), list)
              and len(p["bbox"]) == 4 and p["bbox"][0] <= p["bbox"][2] and p["bbox"][1] <= p["bbox"][3])
        return (True, "") if ok else (False, f"needs bbox [x1, y1, x2, y2] and {FREE_POINTS} free_points")
    if dt == "point_ref":
        return (True, "") if _pairs(p) and p else (False, "point_ref payload is not a list of [x, y]")
    if dt == "fsd_visual_trace":
        ok = isinstance(p, dict) and _pairs(p.get("trajectory"), trace_points)
        return (True, "") if ok else (False, f"trajectory is not {trace_points} [x, y] points")
    return False, f"unknown data_type {dt!r}"


@verifier("embodied_points_inside_image")
def inside_image(row: dict) -> Result:
    """The answer's coordinates, the row's ``points`` and ``target_box`` lie inside the image."""
    w, h = row.get("width"), row.get("height")
    if not w or not h:
        return False, "width/height missing"
    t = _target(row)
    groups = {"points": np.asarray(row.get("points") or [], dtype=np.float64).reshape(-1, 2)}
    if t is not None:
        groups["answer"] = payload_points(t.type, t.payload)
    for name, pts in groups.items():
        bad = ~points_inside_image(pts, w, h)
        if bad.any():
            return False, f"{name} point {pts[bad][0].tolist()} outside the {w}x{h} image"
    box = row.get("target_box")
    if box is not None and not (0 <= box[0] <= box[2] <= w and 0 <= box[1] <= box[3] <= h):
        return False, f"target_box {list(box)} outside the {w}x{h} image"
    return True, ""


@verifier("embodied_points_in_target")
def in_target(row: dict) -> Result:
    """The answer points lie in the target: inside the target mask, and inside the answer's
    polygon (point_rec, grounding_rec) or bbox (fsd_free_point) that the reward checks; the
    GT free points (fsd_free_point, point_ref) inside the mask too. Traces: see
    ``embodied_points_trace``."""
    dt = row.get("data_type")
    if dt == "fsd_visual_trace":
        return True, ""
    pts = np.asarray(row.get("points") or [], dtype=np.float64).reshape(-1, 2)
    if not len(pts):
        return False, "no points"
    mask = _mask(row, "target_mask")
    if mask is not None:
        if mask.shape != (row.get("height"), row.get("width")):
            return False, f"target mask {mask.shape[1]}x{mask.shape[0]} != image {row.get('width')}x{row.get('height')}"
        miss = ~points_in_mask(pts, mask)
        if miss.any():
            return False, f"{int(miss.sum())} of {len(pts)} points outside the target mask"
    t = _target(row)
    if t is None:
        return False, "answer unreadable"
    if dt in ("point_rec", "grounding_rec"):
        miss = ~points_in_polygon(pts, t.payload["segmentation"])
        if miss.any():
            return False, f"{int(miss.sum())} of {len(pts)} points outside the answer polygon"
    elif dt == "fsd_free_point":
        if not points_in_box(pts, t.payload["bbox"]).all():
            return False, "points outside the answer bbox"
        if mask is not None and not points_in_mask(t.payload["free_points"], mask).all():
            return False, "free_points outside the target region"
    elif dt == "point_ref" and mask is not None and not points_in_mask(t.payload, mask).all():
        return False, "reference points outside the target region"
    return True, ""


@verifier("embodied_points_trace")
def trace_check(row: dict, points: int = 8) -> Result:
    """A visual trace has exactly ``points`` points, starts on the manipulated object and ends
    in the target region (masks when present, else boxes). Other abilities pass."""
    if row.get("data_type") != "fsd_visual_trace":
        return True, ""
    t = _target(row)
    if t is None or not isinstance(t.payload, dict):
        return False, "answer unreadable"
    trace = np.asarray(t.payload.get("trajectory") or [], dtype=np.float64).reshape(-1, 2)
    if len(trace) != points:
        return False, f"trace has {len(trace)} points, expected {points}"
    if row.get("points") is not None and np.asarray(row["points"], dtype=np.float64).reshape(-1, 2).tolist() != trace.tolist():
        return False, "row points differ from the answer trajectory"
    obj = _mask(row, "object_mask")
    if obj is not None:
        on_object = bool(points_in_mask(trace[:1], obj)[0])
    elif row.get("object_box") is not None:
        on_object = bool(points_in_box(trace[:1], row["object_box"])[0])
    else:
        return False, "no object mask or box to check the start against"
    if not on_object:
        return False, f"trace starts at {trace[0].tolist()}, not on the object"
    region = _mask(row, "target_mask")
    if region is not None:
        in_region = bool(points_in_mask(trace[-1:], region)[0])
    elif row.get("target_box") is not None:
        in_region = bool(points_in_box(trace[-1:], row["target_box"])[0])
    else:
        return False, "no target mask or box to check the end against"
    return (True, "") if in_region else (False, f"trace ends at {trace[-1].tolist()}, outside the target region")


@verifier("embodied_points_solution_scores")
def solution_scores(row: dict, field: str = "solution", min: float = 0.95) -> Result:
    """The row's own ``solution`` earns at least ``min`` from Embodied-R1's reward
    (``embodied.total``) against its ``answer``: the answer and the worked solution agree."""
    from r1data.rewards.embodied import total

    score = total(completions=[row.get(field) or ""], answer=[row.get("answer")], data_type=[row.get("data_type")])[0]
    if score is None:
        return False, "the reward cannot read the answer"
    return (True, "") if score >= min else (False, f"embodied.total {score:.3f} < {min}")
