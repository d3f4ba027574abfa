"""``render_views`` and ``sample_point_cloud``: what a 3D VLM sees of a scene.

Views come from the shared renderer :mod:`r1data.render3d`. A procedural room is its floor,
its walls and its furniture as closed, shaded boxes with shadows; a ScanNet scan is its own
coloured point cloud (as 3D-R1 renders it), or its boxes on a floor when the source gives
no points. ``render_views`` draws a top-down map and 3D-R1's candidate views: ``candidates``
cameras on a circle of 1.5 times the scene's radius around its centre, at heights spread
over ``heights`` metres above the floor, all looking at the centre. Walls between a camera
and the room face away from it and are not drawn (a scan's wall points on the camera's
side are cut away), so every view looks into the room. Each view keeps its PNG, its camera
record and what it shows of every object; ``select_views`` (:mod:`.views`) then keeps the
best ``views`` of them for each question.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from r1data.corpora.scene30k.procedural import COLORS
from r1data.corpora.scene30k.scene import STRUCTURE_CODES, Scene, SceneObject, category_rgb
from r1data.render3d import (Camera, Light, Material, OrthoCamera, PointSet, Scene3D, Solid, box, box_corners,
                             elevation_light, orbit_cameras, png_bytes, quad, render, room)
from r1data.steps.base import NonNegativeInt, PositiveInt, PositiveFloat, Reject, StepContext, step

FLOOR = (205, 200, 190)
WALL = (225, 222, 215)
SKY = (236, 238, 242)
SUN = elevation_light(-55.0, 58.0, ambient=0.45, diffuse=0.55, fill=0.25)
MAP_LIGHT = Light((0.0, 0.0, 1.0), ambient=0.38, diffuse=0.62, shadows=0.0)


def object_rgb(obj: SceneObject) -> tuple[int, int, int]:
    return COLORS.get(obj.color) or category_rgb(obj.category)


def scene_bounds(scene: Scene) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the room, or of a scan's points / boxes."""
    if scene.source == "procedural" or (not scene.objects and scene.points is None):
        return 0.0, 0.0, scene.room_size[0], scene.room_size[1]
    if scene.points is not None and len(scene.points):
        lo, hi = scene.points[:, :2].min(axis=0), scene.points[:, :2].max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])
    boxes = np.array([o.aabb() for o in scene.objects])
    return float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 3].max()), float(boxes[:, 4].max())


def degenerate_objects(scene: Scene) -> list[str]:
    """Why objects cannot be drawn: a non-finite center, size or yaw."""
    bad = []
    for o in scene.objects:
        values = [*o.center, *o.extent, o.yaw]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            bad.append(f"object {o.id} ({o.category}) has a non-finite box {list(o.center)} {list(o.extent)}")
    return bad


def floor_level(scene: Scene) -> float:
    if scene.points is not None and len(scene.points):
        return float(np.percentile(scene.points[:, 2], 1))
    if scene.source != "procedural" and scene.objects:
        return float(min(o.center[2] - o.extent[2] / 2 for o in scene.objects))
    return 0.0


def scene_3d(scene: Scene, light: Light = SUN) -> Scene3D:
    """The scene as the renderer's solids (a room and boxes) or points (a scan).

    A box with a zero or negative size is drawn 1 cm thick (the verifier rejects its rows)."""
    x0, y0, x1, y1 = scene_bounds(scene)
    if scene.points is not None and len(scene.points):
        pts = np.asarray(scene.points, dtype=np.float64)
        labels = scene.point_labels
        if labels is not None and (labels[:, 0] >= 0).any():
            instance = labels[:, 0].astype(np.int64)
        else:                     # no instance labels in the files: the boxes say which point is whose
            instance = points_in_boxes(pts[:, :3], scene.objects)
        structure = labels[:, 1] if labels is not None else np.zeros(len(pts), np.int64)
        keep = structure != STRUCTURE_CODES["ceiling"]            # a dollhouse: no ceiling
        dz = float(np.ptp(pts[:, 2])) if len(pts) else 1.0
        area = 2 * (x1 - x0) * (y1 - y0) + 2 * ((x1 - x0) + (y1 - y0)) * dz
        radius = 0.8 * math.sqrt(max(area, 1e-6) / max(int(keep.sum()), 1))
        points = PointSet(pts[keep, :3], np.clip(pts[keep, 3:6], 0, 1), radius, instance[keep],
                          cutaway=structure[keep] == STRUCTURE_CODES["wall"])
        center = np.array([(x0 + x1) / 2, (y0 + y1) / 2, 0.0])
        return Scene3D(points=points, light=light, background=SKY, cutaway_center=center)
    solids = []
    z0 = floor_level(scene)
    if scene.source == "procedural":
        floor, walls = room(x0, y0, x1, y1, scene.room_size[2] or 2.6)
        solids += [Solid(floor, Material(FLOOR), -1, cast_shadow=False),
                   Solid(walls, Material(WALL), -1, cast_shadow=False)]
    else:   # boxes of a scan without points: a floor under them, no walls
        pad = 0.3
        solids.append(Solid(quad(np.array([[x0 - pad, y0 - pad, z0], [x1 + pad, y0 - pad, z0], [x1 + pad, y1 + pad, z0],
                                           [x0 - pad, y1 + pad, z0]])), Material(FLOOR), -1, cast_shadow=False))
    for o in scene.objects:
        size = tuple(max(float(v), 0.01) for v in o.extent)
        solids.append(Solid(box(o.center, size, o.yaw), Material(object_rgb(o)), o.id))
    return Scene3D(solids, light=light, background=SKY)


def points_in_boxes(xyz: np.ndarray, objects: list[SceneObject]) -> np.ndarray:
    """Object id per point from the boxes that hold it (smallest box wins), -1 outside all:
    the instance labels of a scan whose files give none."""
    out = np.full(len(xyz), -1, dtype=np.int64)
    best = np.full(len(xyz), np.inf)
    for o in objects:
        b = o.aabb()
        inside = ((xyz >= b[:3]) & (xyz <= b[3:])).all(axis=1)
        vol = float(np.prod(o.extent))
        win = inside & (vol < best)
        out[win], best[win] = o.id, vol
    return out


def top_down_camera(scene: Scene, size: int) -> OrthoCamera:
    """A square map of the scene: x to the right, y up, 5 % margin (the old map's frame)."""
    x0, y0, x1, y1 = scene_bounds(scene)
    pad = 0.05 * max(x1 - x0, y1 - y0, 1e-3)
    scale = (size - 1) / (max(x1 - x0, y1 - y0, 1e-3) + 2 * pad)
    top = max([o.center[2] + o.extent[2] / 2 for o in scene.objects] + [floor_level(scene) + 1.0]) + 0.05
    return OrthoCamera(size, size, x0 - pad, y0 - pad + (size - 1) / scale, scale, top)


def candidate_cameras(scene: Scene, n: int, size: int, fov: float, heights: tuple[float, float],
                      radius_scale: float) -> list[Camera]:
    """3D-R1's candidates: ``n`` cameras on a circle around the scene, looking at its centre."""
    x0, y0, x1, y1 = scene_bounds(scene)
    z0 = floor_level(scene)
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2, z0])
    radius = radius_scale * math.hypot(x1 - x0, y1 - y0) / 2
    return orbit_cameras(center, max(radius, 0.5), n, (z0 + heights[0], z0 + heights[1]), size, size, fov,
                         target=center + [0, 0, 0.5], phase=math.pi / n)


def inside_an_object(camera: Camera, scene: Scene, margin: float = 0.1) -> SceneObject | None:
    """The first object whose box (grown by ``margin``) holds the camera, if any."""
    if not scene.objects:
        return None
    p = camera.position
    center = np.array([o.center for o in scene.objects], dtype=np.float64)
    half = np.array([o.extent for o in scene.objects], dtype=np.float64) / 2 + margin
    yaw = np.array([o.yaw for o in scene.objects], dtype=np.float64)
    local = p - center
    c, s = np.cos(-yaw), np.sin(-yaw)
    lx, ly = c * local[:, 0] - s * local[:, 1], s * local[:, 0] + c * local[:, 1]
    inside = (np.abs(lx) <= half[:, 0]) & (np.abs(ly) <= half[:, 1]) & (np.abs(local[:, 2]) <= half[:, 2])
    hit = np.nonzero(inside)[0]
    return scene.objects[int(hit[0])] if len(hit) else None


@dataclass
class View:
    """One rendered view: PNG bytes, its camera record (None for the map) and what it shows."""

    png: bytes
    camera: dict | None
    objects: list[dict]                      # Visibility.to_record per object, visible or not

    def fraction(self, oid: int, min_pixels: int) -> float:
        for o in self.objects:
            if o["id"] == oid:
                return o["visible"] if o["pixels"] >= min_pixels else 0.0
        return 0.0


@dataclass
class Views:
    top_down: View | None
    candidates: list[View]
    min_pixels: int = 20                     # fewer visible pixels than this: not shown

    def shown(self) -> set[int]:
        """Ids of the objects some candidate view shows with at least ``min_pixels`` pixels."""
        return {o["id"] for v in self.candidates for o in v.objects if o["pixels"] >= self.min_pixels}


def draw_views(scene: Scene, ctx: StepContext | None, *, size: int, candidates: int, top_down: bool,
               fov: float, heights: tuple[float, float], radius: float) -> Views:
    s3d = scene_3d(scene)
    top = None
    if top_down:
        cam = top_down_camera(scene, size)
        tops = [o.center[2] + o.extent[2] / 2 for o in scene.objects] or [1.0]
        r = render(s3d.relit(MAP_LIGHT), cam, outline_strength=0.35,
                   height_shade=(floor_level(scene), max(tops)))
        top = View(png_bytes(r.image), None, [v.to_record(i) for i, v in r.visible.items()])
    views = []
    for cam in candidate_cameras(scene, candidates, size, fov, heights, radius):
        if inside_an_object(cam, scene) is not None:      # documented fallback: drop that candidate
            if ctx is not None:
                ctx.stats.count("views_camera_inside_object")
            continue
        r = render(s3d, cam, outline_strength=0.25 if s3d.points is None else 0.0)
        views.append(View(png_bytes(r.image), cam.to_record(), [v.to_record(i) for i, v in r.visible.items()]))
    return Views(top, views)


@step("render_views")
def render_views(rows: list[dict], ctx: StepContext, *, size: PositiveInt = 224, candidates: PositiveInt = 8, top_down: bool = True,
                 fov: PositiveFloat = 60.0, heights: tuple[float, float] = (1.6, 3.2),
                 radius: PositiveFloat = 1.5, min_pixels: NonNegativeInt = 20) -> Iterator[dict | Reject]:
    """Render each scene's top-down map (when ``top_down``) and ``candidates`` views around it
    (3D-R1's dynamic view selection then keeps some per question: ``select_views``).

    ``fov`` is the horizontal field of view in degrees, ``heights`` the lowest and highest
    camera in metres above the floor, ``radius`` the circle's radius over the scene's. An object
    with fewer than ``min_pixels`` visible pixels in a view does not count as shown by it (for
    the questions asked and the views kept)."""
    for row in rows:
        scene: Scene = row["scene"]
        bad = degenerate_objects(scene)
        if bad:
            yield Reject(row, "degenerate_box", "; ".join(bad[:3]))
            continue
        views = draw_views(scene, ctx, size=size, candidates=candidates, top_down=top_down, fov=fov,
                           heights=heights, radius=radius)
        if not views.candidates:
            yield Reject(row, "no_view", f"every one of the {candidates} candidate cameras is inside an object")
            continue
        ctx.stats.count("views_rendered", len(views.candidates) + (1 if top_down else 0))
        views.min_pixels = min_pixels
        row["_views"] = views
        yield row


def surface_points(scene: Scene, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points (x, y, z, r, g, b) on the boxes' visible surfaces and the floor, area-weighted."""
    quads, colors = [], []
    faces = [(4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]   # not the bottom
    for obj in scene.objects:
        corners = box_corners(obj.center, obj.extent, obj.yaw)
        rgb = np.array(object_rgb(obj)) / 255.0
        for face in faces:
            quads.append(corners[list(face)])
            colors.append(rgb)
    x0, y0, x1, y1 = scene_bounds(scene)
    quads.append(np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]], dtype=float))
    colors.append(np.array(FLOOR) / 255.0)
    quads_a = np.array(quads)                                    # (F, 4, 3)
    colors_a = np.array(colors)
    e1 = quads_a[:, 1] - quads_a[:, 0]
    e2 = quads_a[:, 3] - quads_a[:, 0]
    area = np.linalg.norm(np.cross(e1, e2), axis=1)
    face = rng.choice(len(quads_a), size=n, p=area / area.sum())
    u, v = rng.random((2, n, 1))
    xyz = quads_a[face, 0] + u * e1[face] + v * e2[face]
    rgb = np.clip(colors_a[face] + rng.normal(0, 0.02, (n, 3)), 0, 1)
    return np.hstack([xyz, rgb]).astype(np.float32)


@step("sample_point_cloud")
def sample_point_cloud(rows: list[dict], ctx: StepContext, *, points: PositiveInt = 1024) -> Iterator[dict]:
    """Add ``point_cloud`` (a float32 array (N, 6): x y z r g b, rounded to 4 decimals):
    ``points`` points of the scan when there is one, else of the boxes."""
    for row in rows:
        scene: Scene = row["scene"]
        rng = ctx.rng(scene.scene_id)
        if scene.points is not None and len(scene.points):
            idx = rng.choice(len(scene.points), size=points, replace=len(scene.points) < points)
            cloud = np.asarray(scene.points, dtype=np.float32)[np.sort(idx)]
        else:
            cloud = surface_points(scene, points, rng)
        row["point_cloud"] = np.round(cloud, 4)        # float32 (N, 6); Arrow takes it as it is
        yield row
