"""Drawing a prompt plan: the planned objects on a table, their boxes measured in the picture.

:func:`lay_out` composes a tabletop scene of exactly the plan's objects with the shared generator
(``empty_tabletop``, ``place_object``, ``rest_object_on``): every group's instances in its
colour (one of its category's colours where the prompt gives none), a ``top`` relation's subject
resting on its support. A layout whose drawn boxes do not keep the plan's relations with the
generator's margins (:func:`r1data.rewards.got_layout.relation_holds`, ``strict``) is laid out
again. After rendering, each object's box is the extent of its visible pixels; a layout where an
object shows less than half of itself, or where the visible boxes break a relation, is tried again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from r1data.corpora.got.plans import Plan
from r1data.rewards.got_layout import GRID, relation_holds


@dataclass
class Placed:
    """One drawn instance: its group, its colour, its visible box in pixels and on the grid."""

    group: int
    category: str
    color: str
    box: list[float]            # visible pixels, x1 y1 x2 y2 (x2, y2 exclusive)
    grid: list[int]             # the same on GoT-R1's 0-1000 grid


def to_grid(box: list[float], width: int, height: int) -> list[int]:
    """Pixel box -> GoT-R1's 0-1000 grid (rounded, clipped)."""
    sx, sy = GRID / width, GRID / height
    return [int(np.clip(round(box[0] * sx), 0, GRID)), int(np.clip(round(box[1] * sy), 0, GRID)),
            int(np.clip(round(box[2] * sx), 0, GRID)), int(np.clip(round(box[3] * sy), 0, GRID))]


def _relations_hold(plan: Plan, boxes: dict[int, list[list[float]]], strict: bool) -> bool:
    for r in plan.relations:
        for a in boxes.get(r.subject, []):
            for b in boxes.get(r.object, []):
                if not relation_holds(r.relation, a, b, strict):
                    return False
    return True


def _compose(rng: np.random.Generator, plan: Plan, scene_id: str, width: int, height: int):  # type: ignore[no-untyped-def]
    """One attempt: (scene, [(object, group)]) with every instance placed, or None."""
    from r1data.corpora.tabletop import empty_tabletop, place_object, rest_object_on

    scene = empty_tabletop(rng, scene_id, width, height)
    tagged = []
    top = {r.subject: r.object for r in plan.relations if r.relation == "top"}
    order = sorted(range(len(plan.groups)), key=lambda g: g in top)      # supports before what rests on them
    for g in order:
        grp = plan.groups[g]
        for _ in range(grp.count):
            if g in top:
                supports = [o for o, k in tagged if k == top[g] and not o.carries]
                obj = rest_object_on(rng, scene, supports[0], grp.category, grp.color or None) if supports else None
            else:
                obj = place_object(rng, scene, grp.category, grp.color or None)
            if obj is None:
                return None
            tagged.append((obj, g))
    return scene, tagged


def lay_out(rng: np.random.Generator, plan: Plan, scene_id: str, width: int, height: int,
            tries: int = 40) -> tuple[object, list[Placed]] | None:
    """The rendered scene and its instances in plan order, or None when no layout keeps the plan
    in ``tries`` attempts."""
    from r1data.corpora.tabletop import finish_scene, render_scene

    for _ in range(tries):
        made = _compose(rng, plan, scene_id, width, height)
        if made is None:
            continue
        scene, tagged = made
        drawn: dict[int, list[list[float]]] = {}
        for obj, g in tagged:
            drawn.setdefault(g, []).append([float(v) for v in obj.drawn_box])
        if not _relations_hold(plan, {g: [to_grid(b, width, height) for b in bs] for g, bs in drawn.items()}, True):
            continue
        finish_scene(scene)
        render_scene(scene, rng)
        if any(obj.box is None or obj.visible_fraction < 0.5 for obj, _ in tagged):
            continue
        placed = [Placed(g, obj.category, obj.color, [float(v) for v in obj.box],
                         to_grid(list(obj.box), width, height)) for obj, g in tagged]
        visible: dict[int, list[list[float]]] = {}
        for p in placed:
            visible.setdefault(p.group, []).append(p.grid)
        if not _relations_hold(plan, visible, False):
            continue
        placed.sort(key=lambda p: (p.group, p.grid[0], p.grid[1]))
        return scene, placed
    return None
