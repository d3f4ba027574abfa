"""Rasterise a :class:`~r1data.corpora.tabletop.scene.Scene` into an RGB image and label maps.

Parts are filled far to near with simple shading (cylinders lit from the left, spheres with a
highlight, flat faces with a soft gradient) over a wall, a table or counter and a soft shadow
under each standing object. The same fill that colours a pixel writes its object and part
into ``instance_map`` / ``part_map``, so every mask read from the scene is exactly what is
visible in the image. The polygons use the convention of
:func:`r1data.corpora.tabletop.outline.polygon_to_mask` (a vertex at ``(x, y)`` covers pixel
``(floor(x), floor(y))``).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from r1data.corpora.tabletop.catalog import COLORS
from r1data.corpora.tabletop.scene import Part, Scene
from r1data.corpora.tabletop.shapes import bounds


def render_scene(scene: Scene, rng: np.random.Generator) -> Scene:
    """Draw ``scene`` (in place) and fill ``image``, ``instance_map``, ``part_map``,
    ``part_keys`` and each object's visible ``box``, ``area`` and ``drawn_area``. Returns it.

    ``rng`` only varies texture (wood grain, cloth weave): the geometry is already fixed.
    """
    w, h = scene.width, scene.height
    img = _background(scene, rng)
    _shadows(scene, img)
    inst = np.zeros((h, w), dtype=np.int16)
    parts = np.zeros((h, w), dtype=np.int16)
    keys: list[tuple[int, str]] = []
    drawn = {o.id: np.zeros(0, dtype=np.int64) for o in scene.objects}
    for obj in scene.objects:
        flat_idx: list[np.ndarray] = []
        for part in obj.parts:
            key = (obj.id, part.name)
            if key not in keys:
                keys.append(key)
            crop = _raster(part.polygon, w, h)
            if crop is None:
                continue
            (x0, y0), m = crop
            ys, xs = np.nonzero(m)
            ys, xs = ys + y0, xs + x0
            img[ys, xs] = _shade(part, xs, ys)
            inst[ys, xs] = obj.id + 1
            parts[ys, xs] = keys.index(key) + 1
            flat_idx.append(ys.astype(np.int64) * w + xs)
        if flat_idx:
            drawn[obj.id] = np.unique(np.concatenate(flat_idx))
    scene.image = img
    scene.instance_map = inst
    scene.part_map = parts
    scene.part_keys = keys
    _measure(scene, drawn)
    return scene


def _measure(scene: Scene, drawn: dict[int, np.ndarray]) -> None:
    """Visible area and box of each object, from the pixels it drew that it still owns."""
    inst = scene.instance_map
    assert inst is not None
    flat = inst.ravel()
    w = scene.width
    for obj in scene.objects:
        idx = drawn[obj.id]
        obj.drawn_area = int(len(idx))
        vis = idx[flat[idx] == obj.id + 1]
        obj.area = int(len(vis))
        if obj.area:
            ys, xs = vis // w, vis % w
            obj.box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        else:
            obj.box = None


def _raster(polygon: np.ndarray, w: int, h: int) -> tuple[tuple[int, int], np.ndarray] | None:
    """A polygon's mask cropped to its bounds (clipped to the image): ((x0, y0), crop)."""
    b = bounds([polygon])
    x0, y0 = max(int(math.floor(b[0])) - 1, 0), max(int(math.floor(b[1])) - 1, 0)
    x1, y1 = min(int(math.ceil(b[2])) + 2, w), min(int(math.ceil(b[3])) + 2, h)
    if x1 <= x0 or y1 <= y0 or len(polygon) < 3:
        return None
    im = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(im).polygon([(float(x) - 0.5 - x0, float(y) - 0.5 - y0) for x, y in polygon], fill=1)
    m = np.asarray(im, dtype=bool)
    return ((x0, y0), m) if m.any() else None


def _shade(part: Part, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The RGB of the pixels (xs, ys) of ``part``: its colour times a light factor."""
    base = np.array(COLORS.get(part.color, (128, 128, 128)), dtype=np.float32)
    b = bounds([part.polygon])
    tx = (xs - b[0]) / max(b[2] - b[0], 1.0)
    ty = (ys - b[1]) / max(b[3] - b[1], 1.0)
    if part.shade == "cyl":
        f = 0.7 + 0.42 * np.exp(-((tx - 0.35) / 0.32) ** 2)
    elif part.shade == "sphere":
        f = 1.12 - 0.5 * np.sqrt((tx - 0.35) ** 2 + (ty - 0.3) ** 2)
    elif part.shade == "inner":
        f = 0.55 + 0.12 * ty
    elif part.shade == "light":
        f = 1.12 - 0.06 * ty
    elif part.shade == "dark":
        f = 0.72 - 0.05 * ty
    else:                                   # flat
        f = 1.02 - 0.08 * ty
    rgb = base[None, :] * np.asarray(f, dtype=np.float32).reshape(-1, 1)
    # white things would clip to flat white: lift dark colours more than light ones
    return np.clip(rgb + (1 - base / 255.0)[None, :] * 6, 0, 255).astype(np.uint8)


def _background(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    w, h = scene.width, scene.height
    st = scene.style
    wall = np.array(st["wall"], dtype=np.float32)
    yy = np.arange(h, dtype=np.float32)[:, None]
    img = np.empty((h, w, 3), dtype=np.float32)
    img[:] = wall * (0.94 + 0.08 * yy / h)[..., None]
    if scene.kind == "tabletop":
        horizon = st["horizon"]
        if st.get("window"):
            x = st["window_x"]
            x0, x1 = int(x), int(min(x + w * 0.22, w - 4))
            y0, y1 = int(horizon * 0.12), int(horizon * 0.85)
            img[y0:y1, x0:x1] = (236, 242, 248)
            img[y0:y1, x0:x1][:, :, 2] = 252
            img[(y0 + y1) // 2 - 2:(y0 + y1) // 2 + 2, x0:x1] = (200, 200, 196)
            img[y0:y1, (x0 + x1) // 2 - 2:(x0 + x1) // 2 + 2] = (200, 200, 196)
        table = _fill_mask(np.asarray(st["table"]), w, h)
        top = np.array(st["top"], dtype=np.float32)
        xx = np.arange(w, dtype=np.float32)[None, :]
        if st["material"] == "wood":
            phase = float(rng.uniform(0, 2 * math.pi))
            grain = 1 + st["grain"] * np.sin(yy * 0.9 + 3 * np.sin(xx * 0.01 + phase))
        else:
            grain = 1 + 0.03 * (((xx // 4) + (yy // 4)) % 2) - 0.015
        depth = 0.9 + 0.12 * np.clip((yy - horizon) / max(h - horizon, 1), 0, 1)
        tex = top[None, None, :] * (grain * depth)[..., None]
        img[table] = tex[table]
        edge = (yy[:, 0] >= horizon) & (yy[:, 0] < horizon + 3)
        img[edge] *= 0.8
    else:
        if st.get("tiles"):
            img[::24, :] *= 0.93
            img[:, ::32] *= 0.93
        x0, x1 = (int(v) for v in st["shelf_x"])
        sy = int(st["shelf_y"])
        img[sy:sy + 9, x0:x1] = (140, 100, 64)
        img[sy + 9:sy + 12, x0:x1] = (96, 68, 44)
        t0, t1 = (int(v) for v in st["counter"])
        top = np.array(st["top"], dtype=np.float32)
        img[t0:t1] = top * (0.92 + 0.1 * (yy[t0:t1] - t0) / max(t1 - t0, 1))[..., None]
        img[t1:t1 + 6] = top * 0.7
        img[t1 + 6:] = np.array(st["floor"], dtype=np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _fill_mask(polygon: np.ndarray, w: int, h: int) -> np.ndarray:
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).polygon([(float(x), float(y)) for x, y in polygon], fill=1)
    return np.asarray(im, dtype=bool)


def _shadows(scene: Scene, img: np.ndarray) -> None:
    """A soft dark ellipse at the base of each standing object (drawn on the background)."""
    h, w = img.shape[:2]
    for obj in scene.objects:
        if obj.surface == "front" or obj.support is not None:
            continue
        b = obj.drawn_box
        cx, cy = (b[0] + b[2]) / 2 + 4, obj.base[1] - 1
        rx, ry = (b[2] - b[0]) * 0.55, max((b[3] - b[1]) * 0.08, 4)
        x0, x1 = max(int(cx - rx), 0), min(int(cx + rx) + 1, w)
        y0, y1 = max(int(cy - ry), 0), min(int(cy + ry) + 1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        d = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2
        f = np.where(d < 1, 0.72 + 0.28 * d, 1.0)[..., None]
        img[y0:y1, x0:x1] = (img[y0:y1, x0:x1] * f).astype(np.uint8)
