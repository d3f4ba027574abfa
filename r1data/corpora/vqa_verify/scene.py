"""A small procedural tabletop scene for VQA-Verify: objects drawn on a table, with boxes.

Each object is one filled shape (a ball is a disc, a cone a triangle, a book a slab...) with
a category, a color and a size word. Objects are drawn back to front (by where they touch the
table), so a near object may hide part of a far one. The renderer returns the RGB image and a
label map (object id + 1 per pixel), from which each object's *visible* box is read: the
generator's full-shape box and the visible box are two independent views of one object, and
the ``vqa_verify_box_grounded`` verifier compares them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (205, 45, 40), "orange": (238, 132, 34), "yellow": (238, 205, 48), "green": (56, 150, 72),
    "blue": (46, 92, 206), "purple": (130, 72, 176), "pink": (238, 134, 176), "brown": (122, 80, 46),
    "black": (38, 38, 42), "white": (238, 238, 234), "gray": (140, 142, 150),
}

# category -> (shape, nominal width, height in pixels at 512 px image width)
CATEGORIES: dict[str, tuple[str, float, float]] = {
    "ball": ("disc", 58, 58),
    "cube": ("cube", 60, 60),
    "book": ("slab", 92, 30),
    "cone": ("triangle", 58, 74),
    "cup": ("trapezoid", 46, 56),
    "plate": ("ellipse", 96, 30),
    "bottle": ("bottle", 32, 96),
    "box": ("rect", 84, 58),
}
PLURALS = {"box": "boxes", "glass": "glasses"}


def plural(word: str) -> str:
    return PLURALS.get(word, word + "s")


@dataclass
class TableObject:
    id: int
    category: str
    color: str
    size: str                                   # small | large
    polygon: list[tuple[float, float]]          # the filled outline, pixels
    shape_box: tuple[float, float, float, float]  # the whole shape's extent (generator's view)
    box: tuple[int, int, int, int] | None = None  # visible pixels' extent, filled by render
    visible: float = 1.0                        # visible pixels / drawn pixels

    @property
    def name(self) -> str:
        return f"{self.color} {self.category}"


@dataclass
class TableScene:
    scene_id: str
    width: int
    height: int
    horizon: float
    wall: tuple[int, int, int]
    table: tuple[int, int, int]
    objects: list[TableObject] = field(default_factory=list)


def _outline(shape: str, cx: float, by: float, w: float, h: float) -> list[tuple[float, float]]:
    """The polygon of a shape standing at ``(cx, by)`` (bottom middle), ``w`` x ``h`` pixels."""
    x1, x2, top = cx - w / 2, cx + w / 2, by - h
    if shape in ("disc", "ellipse"):
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        return [(cx + w / 2 * np.cos(a), by - h / 2 + h / 2 * np.sin(a)) for a in t]
    if shape == "triangle":
        return [(x1, by), (x2, by), (cx, top)]
    if shape == "trapezoid":
        return [(x1 + w * 0.15, by), (x2 - w * 0.15, by), (x2, top), (x1, top)]
    if shape == "cube":
        d = w * 0.22                                   # the top face leans back
        return [(x1, by), (x2 - d, by), (x2 - d, top + d), (x2, top), (x1 + d, top), (x1, top + d)]
    if shape == "bottle":
        n = w * 0.3
        return [(x1, by), (x2, by), (x2, top + h * 0.4), (cx + n / 2, top + h * 0.2), (cx + n / 2, top),
                (cx - n / 2, top), (cx - n / 2, top + h * 0.2), (x1, top + h * 0.4)]
    return [(x1, by), (x2, by), (x2, top), (x1, top)]   # rect, slab


def make_scene(rng: np.random.Generator, scene_id: str, width: int, height: int,
               n_objects: tuple[int, int]) -> TableScene:
    """Objects on a table seen from the front. Deterministic given the generator's state."""
    horizon = float(rng.uniform(0.22, 0.34)) * height
    wall = tuple(int(v) for v in rng.integers(185, 235, size=3))
    table = tuple(int(v) for v in (rng.integers(120, 180), rng.integers(85, 125), rng.integers(50, 85)))
    scene = TableScene(scene_id, width, height, horizon, wall, table)  # type: ignore[arg-type]
    target = int(rng.integers(n_objects[0], n_objects[1] + 1))
    cats = sorted(CATEGORIES)
    colors = sorted(COLORS)
    scale = width / 512
    for _ in range(target * 6):
        if len(scene.objects) >= target:
            break
        cat = cats[int(rng.integers(len(cats)))]
        color = colors[int(rng.integers(len(colors)))]
        if any(o.category == cat and o.color == color for o in scene.objects):
            continue                       # a color + category pair names one object
        shape, w0, h0 = CATEGORIES[cat]
        large = bool(rng.random() < 0.5)
        # perspective: objects lower in the image are nearer and drawn bigger
        by = float(rng.uniform(horizon + 60 * scale, height - 8))
        depth = 0.7 + 0.5 * (by - horizon) / (height - horizon)
        k = scale * depth * (float(rng.uniform(1.05, 1.3)) if large else float(rng.uniform(0.7, 0.9)))
        w, h = w0 * k, h0 * k
        cx = float(rng.uniform(w / 2 + 4, width - w / 2 - 4))
        if by - h < 2:
            continue
        box = (cx - w / 2, by - h, cx + w / 2, by)
        # keep objects apart enough that each stays mostly visible (some overlap is wanted)
        if any(_overlap(box, o.shape_box) > 0.6 for o in scene.objects):
            continue
        poly = _outline(shape, cx, by, w, h)
        scene.objects.append(TableObject(len(scene.objects), cat, color, "large" if large else "small",
                                         poly, box))
    return scene


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller box's area."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / small if small > 0 else 0.0


def render(scene: TableScene, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 image and (H, W) uint8 label map (0 background, id + 1 an object).

    Fills each object's ``box`` (visible extent, integer pixels, x2/y2 exclusive) and
    ``visible`` fraction from the label map."""
    from PIL import Image, ImageDraw

    w, h = scene.width, scene.height
    img = Image.new("RGB", (w, h), scene.wall)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, scene.horizon, w, h], fill=scene.table)
    labels = Image.new("L", (w, h), 0)
    ldraw = ImageDraw.Draw(labels)
    drawn = {}
    for obj in sorted(scene.objects, key=lambda o: o.shape_box[3]):   # far (higher) first
        shade = tuple(max(0, int(c * 0.7)) for c in COLORS[obj.color])
        draw.polygon(obj.polygon, fill=COLORS[obj.color], outline=shade)
        ldraw.polygon(obj.polygon, fill=obj.id + 1, outline=obj.id + 1)
        solo = Image.new("1", (w, h), 0)
        ImageDraw.Draw(solo).polygon(obj.polygon, fill=1, outline=1)
        drawn[obj.id] = int(np.count_nonzero(np.asarray(solo)))
    arr = np.asarray(img, dtype=np.int16)
    # light sensor noise, so the picture is not flat colour (and JPEG has texture to keep)
    arr = np.clip(arr + rng.normal(0, 4, size=arr.shape), 0, 255).astype(np.uint8)
    lab = np.asarray(labels)
    for obj in scene.objects:
        ys, xs = np.nonzero(lab == obj.id + 1)
        if len(xs):
            obj.box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        obj.visible = len(xs) / drawn[obj.id] if drawn[obj.id] else 0.0
    return arr, lab


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
