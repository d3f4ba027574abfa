"""TRANCE's world: the vocabulary, the grid, and what a transformation does to a state.

Every fact here is TRANCE's own, read from ``hughplay/TVR`` (``trance/resource/values.json``,
``properties.json``, ``trance/option.py``, ``trance/scene.py``, ``trance/render.py`` and the
evaluator ``src/criterion/components/evaluator.py``, commit d6b94b3):

* attributes and values: shape (cube, sphere, cylinder), size (large 0.9, medium 0.6, small 0.3:
  the radius in scene units), material (rubber, metal, glass), 8 colours, and position moves
  ``[direction, step]`` with 8 directions and steps 1 or 2;
* positions are integers on a grid of unit 0.15: valid ``x, y`` in ``-40..40`` (6 / 0.15), the
  visible area ``-20..20`` (objects outside it are in the scene but not drawn); one step is
  1.5 / 0.15 = 10 grid units; ``behind`` is +x, ``right`` is +y (seen from the centre camera);
* two objects overlap when their centres are closer than ``r1 + r2 + 0.15`` (``min_gap``);
* an answer's position is right when it equals the final one, or when both are invisible (the
  evaluator's rule: a move out of view can end anywhere out of view).

A state is a list of object dicts ``{shape, size, material, color, position: [x, y], rotation}``
(TRANCE's ``states[k].objects``), indexed by their place in the list.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

ATTRIBUTES = ("position", "shape", "size", "color", "material")
SHAPES = ("cube", "sphere", "cylinder")
SIZES = ("large", "medium", "small")
MATERIALS = ("rubber", "metal", "glass")
COLORS: dict[str, tuple[int, int, int]] = {
    "gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
    "brown": (129, 74, 25), "purple": (129, 38, 192), "cyan": (41, 208, 208), "yellow": (255, 238, 51),
}
VALUES: dict[str, tuple[str, ...]] = {"shape": SHAPES, "size": SIZES, "material": MATERIALS,
                                      "color": tuple(COLORS)}
RADIUS = {"large": 0.9, "medium": 0.6, "small": 0.3}      # scene units
DIRECTIONS: dict[str, tuple[int, int]] = {
    "behind": (1, 0), "front": (-1, 0), "right": (0, 1), "left": (0, -1),
    "behind-right": (1, 1), "behind-left": (1, -1), "front-right": (-1, 1), "front-left": (-1, -1),
}
STEPS = (1, 2)
UNIT = 0.15                  # scene units per grid unit
STEP = 10                    # grid units per step (1.5 / 0.15)
MIN_GAP = 0.15               # scene units
GRID = 40                    # valid positions: -40..40
VISIBLE = 20                 # visible positions: -20..20

# every (attribute, value) pair TRANCE samples from: 3 + 3 + 3 + 8 + 16 = 33
PAIRS: tuple[tuple[str, Any], ...] = tuple(
    [(attr, v) for attr in ("shape", "size", "material", "color") for v in VALUES[attr]]
    + [("position", (d, s)) for d in DIRECTIONS for s in STEPS])


def is_valid(pos: Any) -> bool:
    """Inside TRANCE's grid (``-40..40`` on both axes)."""
    return -GRID <= int(pos[0]) <= GRID and -GRID <= int(pos[1]) <= GRID


def is_visible(pos: Any) -> bool:
    """Inside the visible area (``-20..20``); positions outside are in the scene but not drawn."""
    return -VISIBLE <= int(pos[0]) <= VISIBLE and -VISIBLE <= int(pos[1]) <= VISIBLE


def moved(pos: Any, direction: str, step: int) -> list[int]:
    """The position after moving ``step`` steps towards ``direction``."""
    dx, dy = DIRECTIONS[direction]
    return [int(pos[0]) + dx * step * STEP, int(pos[1]) + dy * step * STEP]


def move_type(old: Any, new: Any) -> str | None:
    """TRANCE's kind of move: ``inner`` (visible to visible), ``out``, ``in``; None for invisible
    to invisible (never sampled: nothing would show)."""
    a, b = is_visible(old), is_visible(new)
    return {(True, True): "inner", (True, False): "out", (False, True): "in"}.get((a, b))


def out_options(pos: Any) -> list[list[Any]]:
    """Every move from ``pos`` that lands on a valid position out of view: what an observer of
    an object that left the view cannot tell apart (TRANCE's ``get_move_options``)."""
    out = []
    for d in DIRECTIONS:
        for s in STEPS:
            new = moved(pos, d, s)
            if is_valid(new) and not is_visible(new):
                out.append([d, s])
    return out


def overlaps(objects: list[dict], i: int) -> bool:
    """Whether object ``i`` comes closer to another than ``r1 + r2 + min_gap`` (scene.is_overlapped)."""
    o = objects[i]
    x, y = o["position"]
    r = RADIUS[o["size"]]
    for j, other in enumerate(objects):
        if j == i:
            continue
        x2, y2 = other["position"]
        d = math.hypot(x - x2, y - y2) * UNIT
        if d < r + RADIUS[other["size"]] + MIN_GAP - 1e-9:
            return True
    return False


def value_of(obj: dict, attr: str) -> Any:
    return list(obj["position"]) if attr == "position" else obj[attr]


class TransformationError(ValueError):
    """A transformation that cannot apply to a state: ``reason`` names what is wrong."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def check_transformation(t: dict, n_objects: int) -> tuple[int, str, Any]:
    """``(obj_idx, attr, val)`` of a TRANCE transformation record, checked against the vocabulary
    and the number of objects; :class:`TransformationError` (``missing_object``, ``bad_attribute``,
    ``bad_value``) otherwise."""
    idx = t.get("obj_idx")
    if isinstance(idx, bool) or not isinstance(idx, int):
        raise TransformationError("bad_transformation", f"obj_idx should be an integer, got {idx!r:.40}")
    if not 0 <= idx < n_objects:
        raise TransformationError("missing_object", f"obj_idx {idx} refers to no object (the state has "
                                                    f"{n_objects}: 0..{n_objects - 1})")
    attr = t.get("attr")
    if attr not in ATTRIBUTES:
        raise TransformationError("bad_attribute", f"attr {attr!r:.40} is not one of {', '.join(ATTRIBUTES)}")
    val = t.get("val")
    if attr == "position":
        if not (isinstance(val, (list, tuple)) and len(val) == 2 and val[0] in DIRECTIONS
                and not isinstance(val[1], bool) and val[1] in STEPS):
            raise TransformationError("bad_value", f"position value {val!r:.60} is not [direction, 1|2] "
                                                   f"with a direction of {', '.join(DIRECTIONS)}")
        val = [str(val[0]), int(val[1])]
    elif val not in VALUES[attr]:
        raise TransformationError("bad_value", f"{attr} value {val!r:.40} is not one of {', '.join(VALUES[attr])}")
    return idx, attr, val


def apply(objects: list[dict], t: dict) -> list[dict]:
    """The state after transformation ``t`` (a new list; ``objects`` is left as it is)."""
    idx, attr, val = check_transformation(t, len(objects))
    out = copy.deepcopy(objects)
    if attr == "position":
        out[idx]["position"] = moved(out[idx]["position"], val[0], val[1])
    else:
        out[idx][attr] = val
    return out


def replay(objects: list[dict], transformations: list[dict]) -> tuple[list[dict], list[str]]:
    """The state after every transformation in order, and the problems met on the way (TRANCE's
    rules: ``no_op`` a value that does not change, ``out_of_grid`` a move off the grid,
    ``overlap`` two objects too close after a move or a size change)."""
    state = copy.deepcopy(objects)
    problems = []
    for k, t in enumerate(transformations):
        idx, attr, _ = check_transformation(t, len(state))
        before = value_of(state[idx], attr)
        state = apply(state, t)
        after = value_of(state[idx], attr)
        if before == after:
            problems.append(f"no_op: transformation {k} ({idx}.{attr}) leaves the value {after!r}")
        if attr == "position" and not is_valid(after):
            problems.append(f"out_of_grid: transformation {k} moves object {idx} to {after}")
        if attr in ("position", "size") and overlaps(state, idx):
            problems.append(f"overlap: after transformation {k} object {idx} overlaps another")
    return state, problems


def same_state(a: list[dict], b: list[dict]) -> list[str]:
    """Where state ``a`` differs from ``b`` (empty when they match), with the evaluator's rule
    for positions: equal, or both out of view."""
    if len(a) != len(b):
        return [f"{len(a)} objects against {len(b)}"]
    diffs = []
    for i, (x, y) in enumerate(zip(a, b)):
        for attr in ("shape", "size", "color", "material"):
            if x[attr] != y[attr]:
                diffs.append(f"{i}.{attr}: {x[attr]} vs {y[attr]}")
        px, py = list(map(int, x["position"])), list(map(int, y["position"]))
        if px != py and (is_visible(px) or is_visible(py)):
            diffs.append(f"{i}.position: {px} vs {py}")
    return diffs


def state_distance(a: list[dict], b: list[dict]) -> int:
    """TVR's ``dist``: the number of attributes (position as one) that differ."""
    return len(same_state(a, b)) if len(a) == len(b) else max(len(a), len(b)) * 5


def format_value(attr: str, val: Any) -> str:
    """TRANCE's pair text after the attribute: ``cyan``, ``behind.2`` (``option.fmt_act``)."""
    if attr == "position":
        return f"{val[0]}.{int(val[1])}"
    return str(val)


def format_item(t: dict) -> str:
    """One answer line, ``index.attribute.value``: ``2.color.cyan``, ``0.position.behind.2``."""
    return f"{int(t['obj_idx'])}.{t['attr']}.{format_value(t['attr'], t['val'])}"


def free_positions(objects: list[dict], size: str, visible: bool, ignore: int | None = None) -> np.ndarray:
    """Grid points where an object of ``size`` fits without overlapping the others, inside the
    visible area or outside it: (N, 2) int array, in a fixed order."""
    axis = np.arange(-GRID, GRID + 1)
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
    inside = (np.abs(pts) <= VISIBLE).all(axis=1)
    ok = inside if visible else ~inside
    r = RADIUS[size]
    for j, o in enumerate(objects):
        if j == ignore:
            continue
        d = np.hypot(pts[:, 0] - o["position"][0], pts[:, 1] - o["position"][1]) * UNIT
        ok &= d >= r + RADIUS[o["size"]] + MIN_GAP - 1e-9
    return pts[ok]
