"""Procedural layouts: where the surfaces are and what stands on them.

Two kinds of scene, both a pure function of the generator passed in:

* ``tabletop``: a table seen obliquely below a wall; objects stand on it, small ones may rest
  on a plate or a cutting board.
* ``indoor``: a kitchen wall with a shelf, a counter with objects, and a row of drawers and
  cabinet doors (handles and knobs) below it.

Objects standing on a surface never overlap each other in the image (their drawn boxes keep
a margin), so every object stays visible; an object resting on a support overlaps only that
support. Free regions are empty rectangles of a surface next to, in front of or between
objects, or the empty top of a plate or board.
"""

from __future__ import annotations

import numpy as np

from r1data.corpora.tabletop.catalog import FRONTS, KINDS, Kind
from r1data.corpora.tabletop.scene import FreeRegion, Scene, SceneObject, Surface
from r1data.corpora.tabletop.shapes import bounds, ellipse, rect
from r1data.geometry import points_in_polygon

WALLS = [(226, 218, 200), (208, 214, 220), (214, 226, 212), (232, 226, 214), (200, 196, 210), (236, 232, 226)]
WOODS = [(176, 128, 84), (150, 104, 64), (196, 158, 112), (120, 82, 52)]
CLOTHS = [(70, 110, 150), (170, 70, 70), (90, 140, 100), (210, 205, 195), (120, 120, 130)]
MARGIN = 8          # pixels kept between standing objects


def make_scene(rng: np.random.Generator, scene_id: str, kind: str, width: int, height: int,
               n_objects: tuple[int, int]) -> Scene:
    """A furnished scene of ``kind`` with between ``n_objects[0]`` and ``n_objects[1]`` loose objects."""
    if kind == "tabletop":
        scene = _tabletop(rng, scene_id, width, height)
    elif kind == "indoor":
        scene = _indoor(rng, scene_id, width, height)
    else:
        raise ValueError(f"unknown scene kind {kind!r} (known: tabletop, indoor)")
    target = int(rng.integers(n_objects[0], n_objects[1] + 1))
    _populate(rng, scene, target)
    scene.objects = _draw_order(scene.objects)
    scene.regions = free_regions(scene)
    return scene


def _tabletop(rng: np.random.Generator, scene_id: str, w: int, h: int) -> Scene:
    horizon = float(rng.uniform(0.2, 0.3)) * h
    inset = float(rng.uniform(0.0, 0.12)) * w
    table = np.array([[inset, horizon], [w - inset, horizon], [w * 1.25, h], [-w * 0.25, h]])
    surface = Surface("table", inset, w - inset, horizon + 34, h - 10, 0.62, 1.1, table)
    wood = rng.random() < 0.6
    style = {"wall": _jitter(rng, WALLS), "horizon": horizon, "table": table.tolist(),
             "material": "wood" if wood else "cloth",
             "top": _jitter(rng, WOODS if wood else CLOTHS), "grain": float(rng.uniform(0.02, 0.05)),
             "window": bool(rng.random() < 0.4), "window_x": float(rng.uniform(0.1, 0.7)) * w}
    return Scene(scene_id, "tabletop", w, h, [], [surface], style)


def _indoor(rng: np.random.Generator, scene_id: str, w: int, h: int) -> Scene:
    shelf_y = float(rng.uniform(0.24, 0.3)) * h
    shelf_x0 = float(rng.uniform(0.02, 0.3)) * w
    shelf_x1 = min(w - 6.0, shelf_x0 + float(rng.uniform(0.45, 0.65)) * w)
    top0, top1 = float(rng.uniform(0.5, 0.55)) * h, float(rng.uniform(0.63, 0.67)) * h
    counter = np.array([[0, top0], [w, top0], [w, top1], [0, top1]], dtype=np.float64)
    surfaces = [Surface("shelf", shelf_x0, shelf_x1, shelf_y, shelf_y, 0.66, 0.66,
                        np.array([[shelf_x0, shelf_y - 60], [shelf_x1, shelf_y - 60], [shelf_x1, shelf_y + 1],
                                  [shelf_x0, shelf_y + 1]])),
                Surface("counter", 0, w, top0 + 10, top1 - 6, 0.8, 0.92, counter)]
    style = {"wall": _jitter(rng, WALLS), "tiles": bool(rng.random() < 0.6), "shelf_y": shelf_y,
             "shelf_x": [shelf_x0, shelf_x1], "counter": [top0, top1],
             "top": _jitter(rng, [(90, 90, 96), (200, 196, 186), (150, 110, 74), (60, 64, 70)]),
             "floor": _jitter(rng, [(150, 140, 130), (110, 100, 92)])}
    scene = Scene(scene_id, "indoor", w, h, [], surfaces, style)
    _fronts(rng, scene, top1)
    return scene


def _fronts(rng: np.random.Generator, scene: Scene, top: float) -> None:
    """A row of drawers over a row of cabinet doors, under the counter."""
    w, h = scene.width, scene.height
    cols = int(rng.integers(2, 5))
    color = str(rng.choice(FRONTS["drawer"].colors))
    gap = 6.0
    col_w = (w - gap * (cols + 1)) / cols
    drawer_top = top + 8
    drawer_bottom = drawer_top + float(rng.uniform(0.09, 0.12)) * h
    for c in range(cols):
        x1 = gap + c * (col_w + gap)
        cx = x1 + col_w / 2
        for kind, y0, y1 in ((FRONTS["drawer"], drawer_top, drawer_bottom),
                             (FRONTS["cabinet door"], drawer_bottom + gap, h + 40.0)):
            parts = kind.build(cx, y1, col_w, y1 - y0, color, rng)
            scene.objects.append(SceneObject(len(scene.objects), kind.category, color, "medium", parts,
                                             (cx, y1), "front", graspable=False))


def _jitter(rng: np.random.Generator, palette: list[tuple[int, int, int]]) -> list[int]:
    base = palette[int(rng.integers(len(palette)))]
    return [int(np.clip(c + rng.integers(-10, 11), 0, 255)) for c in base]


def _choose_kind(rng: np.random.Generator, place: str, counts: dict[str, int], small: bool = False) -> Kind:
    kinds = [k for k in KINDS.values() if place in k.places and (k.small or not small)
             and counts.get(k.category, 0) < (1 if k.support or k.category in ("laptop", "plant") else 3)]
    if small:
        kinds = [k for k in kinds if k.small]
    weights = np.array([k.weight for k in kinds])
    return kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]


def _place(rng: np.random.Generator, scene: Scene, surface: Surface, kind: Kind, counts: dict[str, int],
           tries: int = 40, color: str | None = None) -> SceneObject | None:
    taken = [o.drawn_box for o in scene.objects if o.support is None]
    for _ in range(tries):
        y = float(rng.uniform(surface.y0, surface.y1))
        jitter = float(rng.uniform(0.85, 1.2))
        s = surface.scale(y) * jitter
        w, h = kind.size[0] * s, kind.size[1] * s
        x = float(rng.uniform(surface.x0 + w / 2 + 4, max(surface.x1 - w / 2 - 4, surface.x0 + w / 2 + 5)))
        if surface.polygon is not None and not points_in_polygon([(x - w / 2, y), (x + w / 2, y)],
                                                                 surface.polygon).all():
            continue
        # a chosen colour draws no number: scenes without one stay as they were
        paint = str(rng.choice(kind.colors)) if color is None else color
        parts = kind.build(x, y, w, h, paint, rng)
        box = bounds([p.polygon for p in parts])
        if box[0] < 3 or box[1] < 3 or box[2] > scene.width - 3 or box[3] > scene.height - 3:
            continue
        if any(boxes_overlap(box, t, MARGIN) for t in taken):
            continue
        size = "small" if jitter < 0.93 else "large" if jitter > 1.1 else "medium"
        obj = SceneObject(len(scene.objects), kind.category, paint, size, parts, (x, y), surface.name,
                          graspable=kind.graspable, is_support=kind.support)
        scene.objects.append(obj)
        counts[kind.category] = counts.get(kind.category, 0) + 1
        return obj
    return None


def _rest_on(rng: np.random.Generator, scene: Scene, support: SceneObject, counts: dict[str, int],
             kind: Kind | None = None, color: str | None = None) -> SceneObject | None:
    """Put one small object (``kind``, else a random small one) on a plate or a cutting board."""
    kind = kind or _choose_kind(rng, "table", counts, small=True)
    if kind.category == "book":
        return None
    sb = support.drawn_box
    sw = sb[2] - sb[0]
    s = sw / KINDS[support.category].size[0]
    w, h = kind.size[0] * s * 0.9, kind.size[1] * s * 0.9
    x = float((sb[0] + sb[2]) / 2 + rng.uniform(-0.12, 0.12) * sw)
    y = float(support.base[1] - (sb[3] - sb[1]) * 0.35)
    paint = str(rng.choice(kind.colors)) if color is None else color
    parts = kind.build(x, y, w, h, paint, rng)
    box = bounds([p.polygon for p in parts])
    if box[1] < 3 or box[0] < 3 or box[2] > scene.width - 3:
        return None
    others = [o.drawn_box for o in scene.objects if o.support is None and o.id != support.id]
    if any(boxes_overlap(box, t, 4) for t in others):
        return None
    obj = SceneObject(len(scene.objects), kind.category, paint, "medium", parts, (x, y), support.surface,
                      support=support.id, graspable=kind.graspable)
    scene.objects.append(obj)
    support.carries.append(obj.id)
    counts[kind.category] = counts.get(kind.category, 0) + 1
    return obj


# -- composing a scene object by object (the GoT-R1 corpus lays out what a prompt names) ---------

def empty_tabletop(rng: np.random.Generator, scene_id: str, width: int, height: int) -> Scene:
    """A table below a wall with nothing on it yet (fill it with :func:`place_object`)."""
    return _tabletop(rng, scene_id, width, height)


def place_object(rng: np.random.Generator, scene: Scene, category: str, color: str | None = None,
                 tries: int = 40) -> SceneObject | None:
    """Stand one ``category`` object (``color``, else one of its colours) on the scene's first
    surface, clear of the others; None when it does not fit in ``tries`` draws."""
    counts: dict[str, int] = {}
    return _place(rng, scene, scene.surfaces[0], KINDS[category], counts, tries, color)


def rest_object_on(rng: np.random.Generator, scene: Scene, support: SceneObject, category: str,
                   color: str | None = None) -> SceneObject | None:
    """Put one small ``category`` object on ``support`` (a plate or a cutting board); None when it
    does not fit."""
    return _rest_on(rng, scene, support, {}, KINDS[category], color)


def finish_scene(scene: Scene) -> Scene:
    """Put the objects in painter order (renumbering their ids) and find the free regions: what
    :func:`make_scene` does after populating."""
    scene.objects = _draw_order(scene.objects)
    scene.regions = free_regions(scene)
    return scene


def _populate(rng: np.random.Generator, scene: Scene, target: int) -> None:
    counts: dict[str, int] = {}
    surfaces = {s.name: s for s in scene.surfaces}
    if scene.kind == "tabletop":
        plan = ["table"] * target
    else:
        n_shelf = int(rng.integers(1, max(2, target // 2) + 1))
        plan = ["shelf"] * n_shelf + ["counter"] * max(target - n_shelf, 1)
    for place in plan:
        kind = _choose_kind(rng, place, counts)
        obj = _place(rng, scene, surfaces[place], kind, counts)
        if obj is not None and obj.is_support and rng.random() < 0.6:
            _rest_on(rng, scene, obj, counts)


def _draw_order(objects: list[SceneObject]) -> list[SceneObject]:
    """Far to near; what rests on a support right after it. Ids are renumbered to the order."""
    fronts = [o for o in objects if o.surface == "front"]
    standing = sorted((o for o in objects if o.support is None and o.surface != "front"),
                      key=lambda o: (o.base[1], o.base[0]))
    order: list[SceneObject] = list(fronts)
    for o in standing:
        order.append(o)
        order.extend(objects[c] for c in o.carries)
    remap = {o.id: i for i, o in enumerate(order)}
    for o in order:
        o.id = remap[o.id]
        o.support = None if o.support is None else remap[o.support]
        o.carries = [remap[c] for c in o.carries]
    return order


# -- free regions ---------------------------------------------------------------------------

def free_regions(scene: Scene, limit: int = 10) -> list[FreeRegion]:
    """Empty rectangles of a surface left of, right of, in front of and between standing
    objects, and the empty tops of supports; each inside its surface and clear of every object."""
    boxes = {o.id: o.drawn_box for o in scene.objects}
    surfaces = {s.name: s for s in scene.surfaces}
    standing = [o for o in scene.objects if o.support is None and o.surface in surfaces]
    out: list[FreeRegion] = []

    def clear(poly: np.ndarray, ignore: tuple[int, ...] = ()) -> bool:
        b = bounds([poly])
        if b[0] < 4 or b[1] < 4 or b[2] > scene.width - 4 or b[3] > scene.height - 4:
            return False
        return not any(boxes_overlap(b, box, 6) for oid, box in boxes.items() if oid not in ignore)

    def inside(poly: np.ndarray, surface: Surface) -> bool:
        return surface.polygon is None or bool(points_in_polygon(poly, surface.polygon).all())

    for o in standing:
        surf = surfaces[o.surface]
        s = surf.scale(o.base[1])
        rw, rh = 84 * s, (40 * s if surf.name != "shelf" else 46 * s)
        b = boxes[o.id]
        by = o.base[1]
        gap = 10 * s
        top = by - rh * 0.7 if surf.name != "shelf" else by - rh
        cands = [("left_of", rect(b[0] - gap - rw, top, b[0] - gap, top + rh)),
                 ("right_of", rect(b[2] + gap, top, b[2] + gap + rw, top + rh))]
        if surf.name != "shelf":
            cx = (b[0] + b[2]) / 2
            cands.append(("in_front_of", rect(cx - rw / 2, b[3] + gap, cx + rw / 2, b[3] + gap + rh)))
        for relation, poly in cands:
            if inside(poly, surf) and clear(poly):
                out.append(FreeRegion(relation, (o.id,), poly, surf.name))
        if o.is_support and not o.carries:
            cx, cy = (b[0] + b[2]) / 2, b[1] + (b[3] - b[1]) * 0.45
            poly = ellipse(cx, cy, (b[2] - b[0]) * 0.3, (b[3] - b[1]) * 0.25, n=24)
            if clear(poly, ignore=(o.id,)):
                out.append(FreeRegion("on", (o.id,), poly, surf.name))
    for a in standing:
        for c in standing:
            if a.surface != c.surface or a.id == c.id:
                continue
            ba, bc = boxes[a.id], boxes[c.id]
            surf = surfaces[a.surface]
            s = surf.scale((a.base[1] + c.base[1]) / 2)
            g = bc[0] - ba[2]
            if g < 70 * s or abs(a.base[1] - c.base[1]) > 30 * s:
                continue
            rw = min(g - 20 * s, 110 * s)
            rh = 40 * s if surf.name != "shelf" else 46 * s
            cx = (ba[2] + bc[0]) / 2
            by = (a.base[1] + c.base[1]) / 2
            top = by - rh * 0.7 if surf.name != "shelf" else by - rh
            poly = rect(cx - rw / 2, top, cx + rw / 2, top + rh)
            if inside(poly, surf) and clear(poly):
                out.append(FreeRegion("between", (a.id, c.id), poly, surf.name))
    return out[:limit]


def boxes_overlap(a: np.ndarray, b: np.ndarray, margin: float = 0.0) -> bool:
    """Whether two (x1, y1, x2, y2) boxes come closer than ``margin`` pixels."""
    return bool(a[0] < b[2] + margin and b[0] < a[2] + margin and a[1] < b[3] + margin and b[1] < a[3] + margin)
