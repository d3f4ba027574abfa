"""Draw a :class:`~r1data.corpora.tabletop.scene.Scene` with the shared renderer
(:mod:`r1data.render3d`) into an RGB image and label maps.

Parts are painted sprites, filled far to near with simple shading (cylinders lit from the left, spheres with a
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
from r1data.render3d import OrthoCamera, Scene3D, Sprite, render


def render_scene(scene: Scene, rng: np.random.Generator) -> Scene:
    """Draw ``scene`` (in place) and fill ``image``, ``instance_map``, ``part_map``,
    ``part_keys`` and each object's visible ``box``, ``area`` and ``drawn_area``. Returns it.

    The parts are sprites of the shared renderer :mod:`r1data.render3d`, drawn in the scene's
    painter order (later parts nearer) over the backdrop; its instance and part buffers and
    per-object visibility come from the same z-buffer as the pixels.
    ``rng`` only varies texture (wood grain, cloth weave): the geometry is already fixed.
    """
    w, h = scene.width, scene.height
    backdrop = _background(scene, rng)
    _shadows(scene, backdrop)
    keys: list[tuple[int, str]] = []
    sprites = []
    order = 0
    total = sum(len(o.parts) for o in scene.objects)
    for obj in scene.objects:
        for part in obj.parts:
            key = (obj.id, part.name)
            if key not in keys:
                keys.append(key)
            sprites.append(Sprite(part.polygon, float(total - order), _shader(part), obj.id, keys.index(key) + 1))
            order += 1
    frame = OrthoCamera(w, h, 0.0, 0.0, 1.0)          # sprites live in pixel coordinates
    out = render(Scene3D(sprites=sprites, background=backdrop), frame)
    scene.image = out.image
    scene.instance_map = (out.instance + 1).astype(np.int16)
    scene.part_map = out.part.astype(np.int16)
    scene.part_keys = keys
    for obj in scene.objects:
        v = out.visible.get(obj.id)
        obj.area = v.pixels if v else 0
        obj.drawn_area = int(round(v.projected)) if v else 0
        obj.box = tuple(float(b) for b in v.box) if v and v.box else None  # type: ignore[assignment]
    return scene


def _shader(part: Part):  # type: ignore[no-untyped-def]
    return lambda xs, ys: _shade(part, xs, ys)


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
