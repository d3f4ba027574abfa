"""``render_views`` and ``sample_point_cloud``: what a 3D VLM sees of a scene.

Views are shaded boxes drawn with Pillow: a top-down orthographic image (x to the right,
y up) and perspective images from the room's upper corners looking at its centre (a
pinhole camera; faces drawn far to near, back faces culled, Lambert shading). They are
enough for a VLM to tie the question's objects to pixels, and they exercise the engine's
image path from the first build.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageDraw

from r1data.corpora.scene30k.procedural import COLORS
from r1data.corpora.scene30k.scene import Scene, SceneObject
from r1data.steps.base import NonNegativeInt, PositiveInt, StepContext, step

FLOOR = (205, 200, 190)
WALL = (225, 222, 215)
UNKNOWN = (150, 150, 160)   # objects whose color the source does not give
LIGHT = np.array([0.35, -0.45, 0.82]) / np.linalg.norm([0.35, -0.45, 0.82])


def object_rgb(obj: SceneObject) -> tuple[int, int, int]:
    if obj.color in COLORS:
        return COLORS[obj.color]
    # real scans have no color label: a stable hue per category keeps categories apart
    h = (sum(map(ord, obj.category)) * 37) % 360
    r, g, b = _hsv(h / 360, 0.35, 0.75)
    return int(r * 255), int(g * 255), int(b * 255)


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def box_corners(obj: SceneObject) -> np.ndarray:
    """The 8 corners (8, 3) of an oriented box; 0-3 bottom, 4-7 top, counter-clockwise."""
    dx, dy, dz = (v / 2 for v in obj.extent)
    local = np.array([[-dx, -dy], [dx, -dy], [dx, dy], [-dx, dy]])
    c, s = math.cos(obj.yaw), math.sin(obj.yaw)
    xy = local @ np.array([[c, s], [-s, c]]) + np.array(obj.center[:2])
    z0, z1 = obj.center[2] - dz, obj.center[2] + dz
    return np.vstack([np.column_stack([xy, np.full(4, z0)]), np.column_stack([xy, np.full(4, z1)])])


FACES = [(0, 1, 2, 3), (4, 7, 6, 5), (0, 4, 5, 1), (1, 5, 6, 2), (2, 6, 7, 3), (3, 7, 4, 0)]


def scene_bounds(scene: Scene) -> tuple[float, float, float, float]:
    if scene.source == "procedural" or not scene.objects:
        return 0.0, 0.0, scene.room_size[0], scene.room_size[1]
    boxes = np.array([o.aabb() for o in scene.objects])
    return float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 3].max()), float(boxes[:, 4].max())


def render_top_down(scene: Scene, size: int) -> Image.Image:
    x0, y0, x1, y1 = scene_bounds(scene)
    pad = 0.05 * max(x1 - x0, y1 - y0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    scale = (size - 1) / max(x1 - x0, y1 - y0)
    img = Image.new("RGB", (size, size), WALL)
    draw = ImageDraw.Draw(img)

    def px(x: float, y: float) -> tuple[float, float]:
        return (x - x0) * scale, (size - 1) - (y - y0) * scale

    if scene.source == "procedural":
        w, d = scene.room_size[:2]
        draw.polygon([px(0, 0), px(w, 0), px(w, d), px(0, d)], fill=FLOOR, outline=(90, 90, 90))
    top_z = scene.room_size[2] or 3.0
    for obj in sorted(scene.objects, key=lambda o: o.center[2] + o.extent[2] / 2):
        corners = box_corners(obj)[4:]
        shade = 0.65 + 0.35 * min(1.0, (obj.center[2] + obj.extent[2] / 2) / top_z)
        rgb = tuple(int(min(255, c * shade)) for c in object_rgb(obj))
        edge = tuple(int(c * 0.45) for c in rgb)
        draw.polygon([px(x, y) for x, y, _ in corners], fill=rgb, outline=edge)
    return img


def camera_views(scene: Scene, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to ``n`` cameras (position, look-at) at upper room corners looking at the centre."""
    x0, y0, x1, y1 = scene_bounds(scene)
    h = min(scene.room_size[2] or 2.6, 2.6) - 0.2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    inset = 0.15
    corners = [(x0 + inset, y0 + inset), (x1 - inset, y1 - inset), (x1 - inset, y0 + inset), (x0 + inset, y1 - inset)]
    return [(np.array([x, y, h]), np.array([cx, cy, 0.4])) for x, y in corners[:n]]


def render_perspective(scene: Scene, eye: np.ndarray, target: np.ndarray, size: int, fov_deg: float = 75.0) -> Image.Image:
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    f = (size / 2) / math.tan(math.radians(fov_deg) / 2)

    def project(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = p - eye
        z = rel @ forward
        u = size / 2 + f * (rel @ right) / np.maximum(z, 1e-6)
        v = size / 2 - f * (rel @ up) / np.maximum(z, 1e-6)
        return np.column_stack([u, v]), z

    img = Image.new("RGB", (size, size), WALL)
    draw = ImageDraw.Draw(img)
    polys: list[tuple[float, list[tuple[float, float]], tuple[int, int, int]]] = []
    x0, y0, x1, y1 = scene_bounds(scene)
    floor = np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]], dtype=float)
    uv, z = project(floor)
    if (z > 0.05).all():
        draw.polygon([tuple(p) for p in uv], fill=FLOOR)
    else:  # the floor crosses the image plane: draw it as the lower half, good enough
        draw.rectangle([0, size * 0.45, size, size], fill=FLOOR)
    for obj in scene.objects:
        corners = box_corners(obj)
        uv, z = project(corners)
        base = np.array(object_rgb(obj), dtype=float)
        for face in FACES:
            if (z[list(face)] < 0.05).any():
                continue
            pts = corners[list(face)]
            normal = np.cross(pts[1] - pts[0], pts[2] - pts[0])
            norm = np.linalg.norm(normal)
            if norm == 0:
                continue
            normal /= norm
            if normal @ (pts.mean(axis=0) - eye) >= 0:   # facing away from the camera
                continue
            shade = 0.45 + 0.55 * max(0.0, float(normal @ LIGHT))
            rgb = tuple(int(min(255, c * shade)) for c in base)
            polys.append((float(z[list(face)].mean()), [tuple(p) for p in uv[list(face)]], rgb))
    for _, pts, rgb in sorted(polys, key=lambda t: -t[0]):
        draw.polygon(pts, fill=rgb, outline=tuple(int(c * 0.5) for c in rgb))
    return img


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


@step("render_views")
def render_views(rows: list[dict], ctx: StepContext, *, size: PositiveInt = 224, perspectives: NonNegativeInt = 2) -> Iterator[dict]:
    """Add ``images``: the top-down view, then ``perspectives`` perspective views (PNG)."""
    for row in rows:
        scene: Scene = row["scene"]
        images = [png_bytes(render_top_down(scene, size))]
        for eye, target in camera_views(scene, perspectives):
            images.append(png_bytes(render_perspective(scene, eye, target, size)))
        row["images"] = images
        yield row


def surface_points(scene: Scene, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points (x, y, z, r, g, b) on the boxes' visible surfaces and the floor, area-weighted."""
    quads, colors = [], []
    for obj in scene.objects:
        corners = box_corners(obj)
        rgb = np.array(object_rgb(obj)) / 255.0
        for face in FACES[1:]:   # the bottom face touches the floor or a support: unseen
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
    """Add ``point_cloud``: ``points`` points of the scan when there is one, else of the boxes."""
    for row in rows:
        scene: Scene = row["scene"]
        rng = ctx.rng(scene.scene_id)
        if scene.points is not None and len(scene.points):
            idx = rng.choice(len(scene.points), size=points, replace=len(scene.points) < points)
            cloud = np.asarray(scene.points, dtype=np.float32)[np.sort(idx)]
        else:
            cloud = surface_points(scene, points, rng)
        row["point_cloud"] = np.round(cloud, 4).tolist()
        yield row
