"""How `r1data report` draws a Scene-30K row: on each rendered view, the 3D boxes of the objects
the question is about projected with the view's stored camera (red; the answer's box for a
referring question dashed yellow; the other objects the view shows thin grey), and on the
top-down map (no pinhole camera) their 2D boxes from ``view_objects``. A box that does not sit
on its object shows a wrong camera or a wrong box."""

from __future__ import annotations

from typing import Any

import numpy as np

from r1data.report import ANSWER, MUTED, TARGET, Panel, RowView, drawer

# corners 0-3 bottom, 4-7 top (r1data.render3d.mesh.box_corners)
EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))


def project_box_edges(camera: Any, corners: np.ndarray) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The 12 edges of a box (8 world corners) as pixel segments, cut at the camera's near plane
    (an edge behind the camera is left out, one crossing it is cut where it crosses)."""
    cam = camera.to_camera(corners)
    near = camera.near
    if (cam[:, 2] >= near).all():          # the whole box in front: one projection of its corners
        uv = camera.to_screen(cam)
        if not np.isfinite(uv).all():
            return []
        pts = [(float(u), float(v)) for u, v in uv]
        return [(pts[a], pts[b]) for a, b in EDGES]
    out = []
    for a, b in EDGES:
        pa, pb = cam[a], cam[b]
        if pa[2] < near and pb[2] < near:
            continue
        if pa[2] < near or pb[2] < near:
            t = (near - pa[2]) / (pb[2] - pa[2])
            cut = pa + t * (pb - pa)
            pa, pb = (cut, pb) if pa[2] < near else (pa, cut)
        uv = camera.to_screen(np.stack([pa, pb]))
        if np.all(np.isfinite(uv)):
            out.append(((float(uv[0, 0]), float(uv[0, 1])), (float(uv[1, 0]), float(uv[1, 1]))))
    return out


def draw_box3d(p: Panel, camera: Any, corners: np.ndarray, color: str, label: str, *, width: float = 2.0,
               dashed: bool = False) -> None:
    for start, end in project_box_edges(camera, corners):
        p.line([start, end], color, label, width=width, dashed=dashed)


def object_corners(obj: dict) -> np.ndarray:
    from r1data.render3d.mesh import box_corners

    return box_corners(obj["center"], obj["size"], float(obj.get("yaw") or 0.0))


def aabb_corners(box: list[float]) -> np.ndarray:
    from r1data.render3d.mesh import box_corners

    lo, hi = np.asarray(box[:3], dtype=np.float64), np.asarray(box[3:6], dtype=np.float64)
    return box_corners((lo + hi) / 2, hi - lo, 0.0)


@drawer("scene30k", group_by="question_type")
def draw_scene30k(row: RowView) -> list[Panel]:
    from r1data.render3d.camera import Camera

    objects = {o["id"]: o for o in row.get("objects") or [] if o is not None}
    asked = [i for i in row.get("object_ids") or [] if i in objects]
    target = row.get("target_box")
    cameras = row.get("cameras") or []
    views = row.get("view_objects") or []
    panels = []
    for i in range(len(row.get("images") or [])):
        camera = cameras[i] if i < len(cameras) else None
        shown = {o["id"]: o for o in (views[i] if i < len(views) else []) or []}
        p = row.image_panel("images", i, title="top-down map" if camera is None else f"view {i}")
        if camera is None:        # the orthographic map: its objects' 2D boxes
            for oid, vo in shown.items():
                hit = oid in asked
                p.box(vo["box"], ANSWER if hit else MUTED, _name(objects.get(oid), oid), width=2 if hit else 1,
                      tag=hit)
        else:
            cam = Camera.from_record(camera, int(p.width), int(p.height))
            for oid in shown:
                if oid not in asked and oid in objects:
                    draw_box3d(p, cam, object_corners(objects[oid]), MUTED, _name(objects[oid], oid), width=1)
            for oid in asked:
                draw_box3d(p, cam, object_corners(objects[oid]), ANSWER, _name(objects[oid], oid), width=2)
            if target:
                draw_box3d(p, cam, aabb_corners(target), TARGET, "target_box (the answer)", width=2, dashed=True)
        seen = [f"{_name(objects.get(o), o)} {100 * shown[o]['visible']:.0f}%" for o in asked if o in shown]
        p.caption = "shows " + (", ".join(seen) if seen else "none of the question's objects")
        panels.append(p)
    return panels


def _name(obj: dict | None, oid: int) -> str:
    return f"{obj.get('color', '')} {obj.get('category', '')} ({oid})".strip() if obj else f"object {oid}"
