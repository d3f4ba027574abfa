"""``procedural_scenes``: the embedded default source of scene30k.

Indoor rooms furnished from a catalog: floor furniture placed without collisions (large
pieces against walls), small objects resting on support surfaces, each with a category, a
color, a size and an oriented 3D box. Scene ``i`` is a pure function of the seed and ``i``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from r1data.corpora.scene30k.scene import Scene, SceneObject
from r1data.errors import UsageError
from r1data.steps.base import Source, StepContext, source

COLORS = {
    "red": (196, 48, 43), "blue": (45, 85, 180), "green": (60, 140, 70), "yellow": (225, 190, 45),
    "brown": (120, 80, 45), "black": (35, 35, 38), "white": (235, 235, 230), "gray": (128, 128, 132),
    "beige": (215, 195, 160), "orange": (230, 120, 40), "purple": (120, 70, 150), "pink": (225, 140, 170),
}


@dataclass(frozen=True)
class Kind:
    """A category in the catalog: nominal size (dx, dy, dz) in metres and where it goes."""

    category: str
    size: tuple[float, float, float]
    colors: tuple[str, ...]
    place: str = "floor"          # floor | wall (back against a wall) | surface (on a support)
    surface: bool = False         # small objects may rest on it
    max_count: int = 1


_WOOD = ("brown", "beige", "white", "black")
_FABRIC = ("red", "blue", "green", "gray", "beige", "brown", "black", "yellow", "purple", "pink")
_SMALL = ("red", "blue", "green", "yellow", "white", "black", "orange", "purple", "pink", "gray")

CATALOG: dict[str, list[Kind]] = {
    "bedroom": [
        Kind("bed", (1.6, 2.0, 0.55), _FABRIC, "wall"),
        Kind("nightstand", (0.45, 0.4, 0.55), _WOOD, "floor", surface=True, max_count=2),
        Kind("wardrobe", (1.2, 0.6, 2.0), _WOOD, "wall"),
        Kind("desk", (1.2, 0.6, 0.75), _WOOD, "wall", surface=True),
        Kind("chair", (0.5, 0.5, 0.9), _FABRIC, "floor", max_count=2),
        Kind("dresser", (1.0, 0.5, 0.8), _WOOD, "wall", surface=True),
        Kind("plant", (0.4, 0.4, 0.9), ("green",), "floor", max_count=2),
        Kind("trash can", (0.3, 0.3, 0.4), ("gray", "black", "white", "blue"), "floor"),
        Kind("lamp", (0.25, 0.25, 0.45), _SMALL, "surface", max_count=2),
        Kind("book", (0.2, 0.28, 0.05), _SMALL, "surface", max_count=3),
        Kind("clock", (0.2, 0.1, 0.2), _SMALL, "surface"),
    ],
    "living_room": [
        Kind("sofa", (2.0, 0.9, 0.85), _FABRIC, "wall"),
        Kind("armchair", (0.85, 0.85, 0.9), _FABRIC, "floor", max_count=2),
        Kind("coffee table", (1.1, 0.6, 0.45), _WOOD, "floor", surface=True),
        Kind("tv stand", (1.5, 0.45, 0.55), _WOOD, "wall", surface=True),
        Kind("bookshelf", (0.9, 0.35, 1.8), _WOOD, "wall"),
        Kind("side table", (0.5, 0.5, 0.6), _WOOD, "floor", surface=True, max_count=2),
        Kind("plant", (0.45, 0.45, 1.1), ("green",), "floor", max_count=2),
        Kind("floor lamp", (0.35, 0.35, 1.6), _SMALL, "floor"),
        Kind("tv", (1.1, 0.1, 0.65), ("black",), "surface"),
        Kind("vase", (0.18, 0.18, 0.35), _SMALL, "surface", max_count=2),
        Kind("lamp", (0.25, 0.25, 0.45), _SMALL, "surface"),
        Kind("book", (0.2, 0.28, 0.05), _SMALL, "surface", max_count=2),
    ],
    "office": [
        Kind("desk", (1.4, 0.7, 0.75), _WOOD, "wall", surface=True, max_count=2),
        Kind("office chair", (0.6, 0.6, 1.0), ("black", "gray", "blue", "red"), "floor", max_count=2),
        Kind("bookshelf", (0.9, 0.35, 1.8), _WOOD, "wall"),
        Kind("cabinet", (0.5, 0.6, 1.2), ("gray", "white", "black", "beige"), "wall", surface=True),
        Kind("trash can", (0.3, 0.3, 0.4), ("gray", "black", "white", "blue"), "floor"),
        Kind("plant", (0.4, 0.4, 1.0), ("green",), "floor"),
        Kind("whiteboard", (1.5, 0.1, 1.0), ("white",), "wall"),
        Kind("monitor", (0.6, 0.2, 0.45), ("black", "gray", "white"), "surface", max_count=2),
        Kind("keyboard", (0.45, 0.15, 0.04), ("black", "gray", "white"), "surface", max_count=2),
        Kind("lamp", (0.25, 0.25, 0.45), _SMALL, "surface"),
        Kind("printer", (0.45, 0.4, 0.25), ("gray", "white", "black"), "surface"),
    ],
    "kitchen": [
        Kind("counter", (2.0, 0.6, 0.9), ("white", "gray", "beige", "brown"), "wall", surface=True),
        Kind("refrigerator", (0.8, 0.7, 1.8), ("white", "gray", "black"), "wall"),
        Kind("stove", (0.7, 0.6, 0.9), ("white", "black", "gray"), "wall", surface=True),
        Kind("table", (1.2, 0.8, 0.75), _WOOD, "floor", surface=True),
        Kind("chair", (0.45, 0.45, 0.9), _FABRIC, "floor", max_count=3),
        Kind("trash can", (0.35, 0.35, 0.6), ("gray", "black", "white", "blue"), "floor"),
        Kind("microwave", (0.5, 0.35, 0.3), ("white", "black", "gray"), "surface"),
        Kind("kettle", (0.2, 0.2, 0.25), _SMALL, "surface"),
        Kind("bowl", (0.2, 0.2, 0.08), _SMALL, "surface", max_count=2),
        Kind("bottle", (0.08, 0.08, 0.3), _SMALL, "surface", max_count=2),
    ],
    "dining_room": [
        Kind("dining table", (1.8, 0.95, 0.75), _WOOD, "floor", surface=True),
        Kind("chair", (0.45, 0.45, 0.95), _FABRIC, "floor", max_count=4),
        Kind("cabinet", (1.2, 0.45, 0.9), _WOOD, "wall", surface=True),
        Kind("plant", (0.45, 0.45, 1.1), ("green",), "floor"),
        Kind("floor lamp", (0.35, 0.35, 1.6), _SMALL, "floor"),
        Kind("vase", (0.18, 0.18, 0.35), _SMALL, "surface", max_count=2),
        Kind("plate", (0.25, 0.25, 0.03), _SMALL, "surface", max_count=3),
        Kind("bowl", (0.2, 0.2, 0.08), _SMALL, "surface"),
        Kind("candle", (0.08, 0.08, 0.2), _SMALL, "surface", max_count=2),
    ],
}

ROOM_SIZES = {  # width (x) and depth (y) ranges in metres
    "bedroom": ((3.2, 5.0), (3.0, 4.5)),
    "living_room": ((4.0, 7.0), (3.5, 6.0)),
    "office": ((3.0, 5.5), (3.0, 5.0)),
    "kitchen": ((3.0, 5.0), (2.8, 4.5)),
    "dining_room": ((3.5, 6.0), (3.0, 5.0)),
}

MARGIN = 0.08   # free space kept between floor objects


def footprint(center: tuple[float, float, float], extent: tuple[float, float, float], yaw: float) -> np.ndarray:
    """(x1, y1, x2, y2) of a box rotated by a multiple of 90 degrees."""
    swap = round(yaw / (math.pi / 2)) % 2 == 1
    hx, hy = (extent[1], extent[0]) if swap else (extent[0], extent[1])
    return np.array([center[0] - hx / 2, center[1] - hy / 2, center[0] + hx / 2, center[1] + hy / 2])


def _overlaps(fp: np.ndarray, others: list[np.ndarray], margin: float) -> bool:
    for o in others:
        if fp[0] < o[2] + margin and o[0] < fp[2] + margin and fp[1] < o[3] + margin and o[1] < fp[3] + margin:
            return True
    return False


def make_room(rng: np.random.Generator, scene_id: str, room_type: str, n_objects: tuple[int, int]) -> Scene:
    """Furnish one room. Deterministic given the generator's state."""
    (w_lo, w_hi), (d_lo, d_hi) = ROOM_SIZES[room_type]
    width = round(float(rng.uniform(w_lo, w_hi)), 2)
    depth = round(float(rng.uniform(d_lo, d_hi)), 2)
    height = round(float(rng.uniform(2.5, 3.0)), 2)
    target = int(rng.integers(n_objects[0], n_objects[1] + 1))
    catalog = CATALOG[room_type]
    floor_kinds = [k for k in catalog if k.place != "surface"]
    small_kinds = [k for k in catalog if k.place == "surface"]
    objects: list[SceneObject] = []
    footprints: list[np.ndarray] = []
    counts: dict[str, int] = {}

    def add(kind: Kind, center: tuple[float, float, float], extent: tuple[float, float, float], yaw: float,
            support: int | None, scale: float) -> SceneObject:
        size_label = "small" if scale < 0.9 else "large" if scale > 1.1 else "medium"
        obj = SceneObject(id=len(objects), category=kind.category,
                          center=tuple(round(float(v), 3) for v in center),  # type: ignore[arg-type]
                          extent=tuple(round(float(v), 3) for v in extent),  # type: ignore[arg-type]
                          yaw=float(yaw), color=str(rng.choice(kind.colors)), size_label=size_label,
                          support=support)
        objects.append(obj)
        counts[kind.category] = counts.get(kind.category, 0) + 1
        return obj

    # floor furniture: about two thirds of the objects, wall pieces first (they need the room)
    n_floor = max(3, int(round(target * 0.65)))
    order = sorted(rng.permutation(len(floor_kinds)).tolist(), key=lambda i: floor_kinds[i].place != "wall")
    attempts = 0
    while sum(counts.values()) < n_floor and attempts < 6 * n_floor:
        attempts += 1
        kind = floor_kinds[order[attempts % len(order)]]
        if counts.get(kind.category, 0) >= kind.max_count:
            continue
        scale = float(rng.uniform(0.8, 1.25))
        extent = (kind.size[0] * scale, kind.size[1] * scale, kind.size[2] * float(rng.uniform(0.9, 1.1)))
        for _ in range(20):
            if kind.place == "wall":
                wall = int(rng.integers(4))            # 0: y=0, 1: x=W, 2: y=D, 3: x=0; the back faces it
                yaw = wall * math.pi / 2
                along = float(rng.uniform(0, 1))
                half_w, half_d = extent[0] / 2, extent[1] / 2
                if wall in (0, 2):
                    x = half_w + along * max(width - 2 * half_w, 0)
                    y = half_d if wall == 0 else depth - half_d
                else:
                    x = half_d if wall == 3 else width - half_d
                    y = half_w + along * max(depth - 2 * half_w, 0)
            else:
                yaw = int(rng.integers(4)) * math.pi / 2
                x = float(rng.uniform(0.3, width - 0.3))
                y = float(rng.uniform(0.3, depth - 0.3))
            center = (x, y, extent[2] / 2)
            fp = footprint(center, extent, yaw)
            if fp[0] < 0 or fp[1] < 0 or fp[2] > width or fp[3] > depth:
                continue
            if _overlaps(fp, footprints, MARGIN):
                continue
            footprints.append(fp)
            add(kind, center, extent, yaw, None, scale)
            break

    # small objects on support surfaces
    supports = [o for o in objects if any(k.category == o.category and k.surface for k in catalog)]
    on_top: dict[int, list[np.ndarray]] = {o.id: [] for o in supports}
    attempts = 0
    while supports and sum(counts.values()) < target and attempts < 8 * target:
        attempts += 1
        kind = small_kinds[int(rng.integers(len(small_kinds)))]
        if counts.get(kind.category, 0) >= kind.max_count:
            continue
        sup = supports[int(rng.integers(len(supports)))]
        top = footprint(sup.center, sup.extent, sup.yaw)
        scale = float(rng.uniform(0.85, 1.15))
        extent = (kind.size[0] * scale, kind.size[1] * scale, kind.size[2] * scale)
        yaw = sup.yaw
        fw = footprint((0, 0, 0), extent, yaw)
        room_x = (top[2] - top[0]) - (fw[2] - fw[0])
        room_y = (top[3] - top[1]) - (fw[3] - fw[1])
        if room_x <= 0 or room_y <= 0:
            continue
        x = top[0] + (fw[2] - fw[0]) / 2 + float(rng.uniform(0, room_x))
        y = top[1] + (fw[3] - fw[1]) / 2 + float(rng.uniform(0, room_y))
        z = sup.center[2] + sup.extent[2] / 2 + extent[2] / 2
        fp = footprint((x, y, z), extent, yaw)
        if _overlaps(fp, on_top[sup.id], 0.02):
            continue
        on_top[sup.id].append(fp)
        add(kind, (x, y, z), extent, yaw, sup.id, scale)
    return Scene(scene_id=scene_id, room_type=room_type, room_size=(width, depth, height),
                 objects=objects, source="procedural")


@source("procedural_scenes")
class ProceduralScenes(Source):
    """Endless procedural rooms; scene ``i`` depends only on the seed and ``i``."""

    def __init__(self, ctx: StepContext, *, room_types: list[str] | None = None,
                 objects: tuple[int, int] = (7, 14)):
        self.ctx = ctx
        self.room_types = room_types or sorted(CATALOG)
        unknown = [r for r in self.room_types if r not in CATALOG]
        if unknown:
            raise UsageError(f"room_types: unknown {unknown} (known: {', '.join(sorted(CATALOG))})")
        if not 3 <= objects[0] <= objects[1] <= 30:
            raise UsageError(f"objects: expected [min, max] with 3 <= min <= max <= 30, got {list(objects)}")
        self.objects = objects

    def read(self, start: int = 0) -> Iterator[dict]:
        i = start
        while True:
            rng = self.ctx.rng("scene", i)
            room_type = self.room_types[int(rng.integers(len(self.room_types)))]
            scene = make_room(rng, f"proc{i:07d}", room_type, self.objects)
            yield {"id": scene.scene_id, "scene": scene}
            i += 1
