"""Procedural aerial scenes: land cover, water, roads, buildings and vehicles, with masks.

A scene is painted into a class map (one class per pixel, later layers over earlier ones:
grass, then farmland, forest, water, roads, buildings, vehicles), so each class's mask is
exactly the pixels of that class in the rendered image. The picture is the class map
coloured with per-class textures (furrows, canopy noise, ripples) and sensor noise.
Everything is numpy, a pure function of the generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# class index -> name; 0 is the background grassland
CLASSES = ("grassland", "farmland", "forest", "water", "road", "building", "vehicle")
INDEX = {c: i for i, c in enumerate(CLASSES)}
BASE_COLORS = {
    "grassland": (118, 140, 84), "farmland": (176, 160, 96), "forest": (52, 86, 48), "water": (48, 82, 112),
    "road": (128, 126, 122), "building": (170, 160, 150), "vehicle": (200, 200, 205),
}
ROOFS = [(168, 84, 62), (150, 150, 156), (212, 208, 200), (96, 104, 120), (186, 120, 80)]
CARS = [(220, 220, 225), (30, 30, 34), (180, 30, 34), (40, 70, 150), (150, 152, 160)]


@dataclass
class AerialScene:
    scene_id: str
    width: int
    height: int
    labels: np.ndarray                     # (H, W) uint8 class indices
    image: np.ndarray | None = None        # (H, W, 3) uint8 after render
    layout: dict = field(default_factory=dict)   # e.g. the kind of water body

    def mask(self, cls: str) -> np.ndarray:
        return self.labels == INDEX[cls]

    def present(self, min_pixels: int = 1) -> list[str]:
        counts = np.bincount(self.labels.ravel(), minlength=len(CLASSES))
        return [c for c in CLASSES if counts[INDEX[c]] >= min_pixels]


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a ``cells`` x ``cells`` random grid upsampled bilinearly."""
    from PIL import Image

    grid = rng.random((cells, cells)).astype(np.float32)
    im = Image.fromarray(grid, mode="F").resize((w, h), Image.BILINEAR)
    return np.asarray(im)


def _blob(rng: np.random.Generator, h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """An irregular ellipse-like region: an ellipse whose edge is perturbed by smooth noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    return d < 0.75 + 0.5 * smooth_noise(rng, h, w, 6)


def _band(h: int, w: int, points: np.ndarray, width: float) -> np.ndarray:
    """Pixels within ``width / 2`` of a polyline (river, road)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((h, w), dtype=bool)
    for (x1, y1), (x2, y2) in zip(points[:-1], points[1:]):
        dx, dy = x2 - x1, y2 - y1
        t = np.clip(((xx - x1) * dx + (yy - y1) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
        out |= (xx - x1 - t * dx) ** 2 + (yy - y1 - t * dy) ** 2 <= (width / 2) ** 2
    return out


def make_scene(rng: np.random.Generator, scene_id: str, width: int, height: int) -> AerialScene:
    """Paint one scene's class map. Each layer appears with some probability, so every class
    is sometimes missing (the empty-target questions need absent classes)."""
    h, w = height, width
    s = w / 512                                   # sizes are given for a 512-pixel scene
    labels = np.zeros((h, w), dtype=np.uint8)
    layout: dict = {}
    if rng.random() < 0.7:                        # farmland: a grid of rectangular fields
        for _ in range(int(rng.integers(1, 5))):
            fw, fh = rng.uniform(60, 180, size=2) * s
            x, y = rng.uniform(0, w - fw), rng.uniform(0, h - fh)
            labels[int(y):int(y + fh), int(x):int(x + fw)] = INDEX["farmland"]
    if rng.random() < 0.65:                       # forest patches
        for _ in range(int(rng.integers(1, 3))):
            m = _blob(rng, h, w, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(50, 130) * s,
                      rng.uniform(50, 130) * s)
            labels[m] = INDEX["forest"]
    if rng.random() < 0.6:                        # a lake or a river
        if rng.random() < 0.5:
            m = _blob(rng, h, w, rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h,
                      rng.uniform(40, 110) * s, rng.uniform(40, 110) * s)
            layout["water"] = "lake"
        else:
            xs = np.linspace(-10, w + 10, 9)
            ys = rng.uniform(0.2, 0.8) * h + np.cumsum(rng.normal(0, 18 * s, size=9))
            pts = np.column_stack([xs, ys]) if rng.random() < 0.5 else np.column_stack([ys * w / h, xs * h / w])
            m = _band(h, w, pts, float(rng.uniform(14, 30)) * s)
            layout["water"] = "river"
        labels[m] = INDEX["water"]
    roads: list[np.ndarray] = []
    if rng.random() < 0.75:                       # straight roads across the scene
        for _ in range(int(rng.integers(1, 3))):
            if rng.random() < 0.5:
                y = rng.uniform(0.1, 0.9) * h
                pts = np.array([[-5, y], [w + 5, y + rng.uniform(-0.2, 0.2) * h]])
            else:
                x = rng.uniform(0.1, 0.9) * w
                pts = np.array([[x, -5], [x + rng.uniform(-0.2, 0.2) * w, h + 5]])
            roads.append(pts)
            labels[_band(h, w, pts, float(rng.uniform(9, 15)) * s)] = INDEX["road"]
    road_mask = labels == INDEX["road"]
    if rng.random() < 0.7:                        # buildings, preferably beside the roads
        for _ in range(int(rng.integers(2, 9))):
            bw, bh = rng.uniform(14, 40, size=2) * s
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            if roads and rng.random() < 0.7:      # move it next to a road point
                r = roads[int(rng.integers(len(roads)))]
                t = rng.random()
                px, py = r[0] + t * (r[1] - r[0])
                x = float(np.clip(px + rng.choice([-1, 1]) * rng.uniform(12, 30) * s - bw / 2, 0, w - bw))
                y = float(np.clip(py + rng.choice([-1, 1]) * rng.uniform(12, 30) * s - bh / 2, 0, h - bh))
            sl = (slice(int(y), int(y + bh)), slice(int(x), int(x + bw)))
            if road_mask[sl].any() or (labels[sl] == INDEX["water"]).any():
                continue                          # no building on a road or in the water
            labels[sl] = INDEX["building"]
    if road_mask.any() and rng.random() < 0.6:    # vehicles on the roads
        ys, xs = np.nonzero(road_mask)
        for _ in range(int(rng.integers(1, 7))):
            k = int(rng.integers(len(xs)))
            vw, vh = (rng.uniform(5, 8) * s, rng.uniform(3, 4) * s)
            if rng.random() < 0.5:
                vw, vh = vh, vw
            labels[int(ys[k]):int(ys[k] + vh), int(xs[k]):int(xs[k] + vw)][
                road_mask[int(ys[k]):int(ys[k] + vh), int(xs[k]):int(xs[k] + vw)]] = INDEX["vehicle"]
    return AerialScene(scene_id, w, h, labels, layout=layout)


def render(scene: AerialScene, rng: np.random.Generator) -> np.ndarray:
    """Colour the class map with textures: (H, W, 3) uint8, also kept in ``scene.image``."""
    h, w = scene.height, scene.width
    lab = scene.labels
    palette = np.array([BASE_COLORS[c] for c in CLASSES], dtype=np.float32)
    palette *= rng.uniform(0.9, 1.1, size=(len(CLASSES), 1)).astype(np.float32)  # per-scene hue shift
    # float32 throughout: this is the hot loop of the corpus
    shade = (smooth_noise(rng, h, w, 12) - 0.5) * 30                    # large-scale brightness
    grain = rng.standard_normal((h, w), dtype=np.float32)              # pixel noise
    forest = lab == INDEX["forest"]
    shade += grain * np.where(forest, np.float32(14), np.float32(4))
    farm = lab == INDEX["farmland"]
    if farm.any():
        x = np.arange(w, dtype=np.float32) * np.float32(0.63)
        y = np.arange(h, dtype=np.float32) * np.float32(0.27)
        shade[farm] += (np.sin(y[:, None] + x[None, :]) * 10)[farm]     # furrows
    img = palette[lab]
    img += shade[..., None]
    # roofs and vehicles get their own colours, varying over coarse tiles of the scene
    for cls, colors in (("building", ROOFS), ("vehicle", CARS)):
        m = lab == INDEX[cls]
        if m.any():
            ys, xs = np.nonzero(m)
            pick = np.array(colors, dtype=np.float32)[(xs // 61 + ys // 53) % len(colors)]
            img[ys, xs] = pick + grain[ys, xs, None] * 3
    scene.image = np.clip(img, 0, 255).astype(np.uint8)
    return scene.image


def position_words(mask: np.ndarray) -> str:
    """Where a mask lies: "upper left", "center", "bottom" ... from its centroid."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return ""
    h, w = mask.shape
    cx, cy = xs.mean() / w, ys.mean() / h
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    row = "upper" if cy < 1 / 3 else "lower" if cy > 2 / 3 else ""
    if not row and not col:
        return "center"
    if not row:
        return f"{col} side"
    return f"{row} {col}".strip() if col else ("top" if row == "upper" else "bottom")
