"""Words for a rendered scene: referring expressions for objects and phrases for free regions.

A referring expression names exactly one object of the scene (RefCOCO style): the category
alone when it is unique, else with its color, the support it rests on, its left-to-right rank
or its distance from the camera, whichever tells it apart. Region phrases ("to the left of the
red mug", "between the bowl and the bottle") name their anchors by their own expressions, so
the phrase points at one place.
"""

from __future__ import annotations

import numpy as np

from r1data.corpora.tabletop.scene import FreeRegion, Scene, SceneObject

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
RELATION_WORDS = {"left_of": "to the left of", "right_of": "to the right of", "in_front_of": "in front of",
                  "between": "between", "on": "on"}


def object_name(obj: SceneObject, color: bool = True) -> str:
    """``"red mug"`` (or ``"mug"``; never ``"orange orange"``)."""
    return f"{obj.color} {obj.category}" if color and obj.color != obj.category else obj.category


def _cx(obj: SceneObject) -> float:
    b = obj.box or obj.drawn_box
    return (b[0] + b[2]) / 2


def referring_expressions(scene: Scene, obj: SceneObject) -> list[str]:
    """Every expression (without article) that names ``obj`` and no other object, shortest first.

    Empty when nothing tells it apart (two identical objects side by side get ranks, so this
    is rare: only same-category objects with equal position)."""
    same = [o for o in scene.objects if o.category == obj.category]
    if len(same) == 1:
        return list(dict.fromkeys([obj.category, object_name(obj)]))
    out: list[str] = []
    same_color = [o for o in same if o.color == obj.color]
    if len(same_color) == 1 and obj.color != obj.category:
        out.append(object_name(obj))
    if obj.surface == "front":
        row = sorted(same, key=_cx)
        k = row.index(obj)
        out.append(f"{ORDINALS[k] if k < len(ORDINALS) else str(k + 1) + 'th'} {obj.category} from the left")
        if k == len(row) - 1:
            out.append(f"rightmost {obj.category}")
        if k == 0:
            out.append(f"leftmost {obj.category}")
        return out
    if obj.support is not None:
        sup = scene.obj(obj.support)
        on_same = [o for o in same if o.support is not None and scene.obj(o.support).category == sup.category]
        if len(on_same) == 1:
            out.append(f"{obj.category} on the {sup.category}")
    if obj.surface in ("shelf", "counter") and sum(o.surface == obj.surface for o in same) == 1:
        out.append(f"{obj.category} on the {obj.surface}")
    xs = sorted(_cx(o) for o in same)
    if len(set(xs)) == len(xs):
        if _cx(obj) == xs[0]:
            out.append(f"leftmost {obj.category}")
        elif _cx(obj) == xs[-1]:
            out.append(f"rightmost {obj.category}")
        elif len(same) == 3:
            out.append(f"{obj.category} in the middle")
    if obj.surface == "table":
        ys = sorted(o.base[1] for o in same)
        if len(set(ys)) == len(ys) and abs(ys[0] - ys[-1]) > 20:
            if obj.base[1] == ys[-1]:
                out.append(f"{obj.category} closest to the camera")
            elif obj.base[1] == ys[0]:
                out.append(f"{obj.category} farthest from the camera")
    return out


def refer(scene: Scene, obj: SceneObject, rng: np.random.Generator | None = None) -> str | None:
    """``"the red mug"``: one of :func:`referring_expressions` (the shortest without ``rng``)."""
    options = referring_expressions(scene, obj)
    if not options:
        return None
    pick = options[0] if rng is None else options[int(rng.integers(len(options)))]
    return f"the {pick}"


def region_phrase(scene: Scene, region: FreeRegion) -> str | None:
    """``"to the left of the red mug"``, ``"between the bowl and the bottle"``, ``"on the plate"``.

    None when an anchor cannot be named uniquely."""
    names = [refer(scene, scene.obj(a)) for a in region.anchors]
    if any(n is None for n in names):
        return None
    words = RELATION_WORDS[region.relation]
    if region.relation == "between":
        return f"{words} {names[0]} and {names[1]}"
    return f"{words} {names[0]}"
