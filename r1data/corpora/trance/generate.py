"""Sampling a TRANCE sample: an initial state and a sequence of valid transformations.

Pure functions of the generator passed in, following ``trance/render.py`` of hughplay/TVR:

* the initial state has ``total`` objects (TRANCE: 10) with random shape, size, material,
  colour and rotation, ``n_visible`` of them at free grid points of the visible area and the
  rest outside it (in the scene, not drawn); no two overlap;
* a transformation is an ``(attribute, value)`` pair (one of TRANCE's 33, uniformly: TRANCE
  balances its samples towards uniform pairs) applied to an object. A position move is
  ``inner`` (stays in view), ``out`` (leaves the view) or ``in`` (an object out of view comes
  in), uniformly among those that apply. TRANCE's rules: only objects seen unoccluded in the
  initial image are transformed, except that ``in`` moves take an object out of view; the value
  must change; a move stays on the grid and a move or a larger size overlaps nothing; an object
  already transformed is not moved out.
* ours, so that every transformation can be read off the two images: an object gets at most one
  transformation per attribute, and an object moved in or out gets no other.

Whether the transformed objects can be seen in the final images is checked by rendering them
(:mod:`r1data.corpora.trance.procedural`); a sequence that fails there is sampled again.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from r1data.corpora.trance.world import (MATERIALS, PAIRS, RADIUS, SHAPES, SIZES, VALUES, apply, free_positions,
                                         is_valid, is_visible, move_type, moved, out_options, overlaps, value_of)

MOVE_TYPES = ("inner", "out", "in")


def initial_state(rng: np.random.Generator, total: int, n_visible: int) -> list[dict] | None:
    """``total`` objects, ``n_visible`` of them in view, none overlapping; None when they do not fit."""
    visible = [True] * n_visible + [False] * (total - n_visible)
    rng.shuffle(visible)
    objects: list[dict] = []
    for vis in visible:
        size = SIZES[int(rng.integers(len(SIZES)))]
        free = free_positions(objects, size, bool(vis))
        if not len(free):
            return None
        x, y = free[int(rng.integers(len(free)))]
        objects.append({"shape": SHAPES[int(rng.integers(len(SHAPES)))], "size": size,
                        "material": MATERIALS[int(rng.integers(len(MATERIALS)))],
                        "color": VALUES["color"][int(rng.integers(len(VALUES["color"])))],
                        "position": [int(x), int(y)], "rotation": round(float(rng.uniform(0, 2 * math.pi)), 4)})
    return objects


def _try(state: list[dict], idx: int, attr: str, val: Any, kind: str | None) -> tuple[list[dict], dict] | None:
    """The state after moving/changing object ``idx``, and the transformation record; None when a
    TRANCE rule forbids it."""
    obj = state[idx]
    if attr == "position":
        old = obj["position"]
        new = moved(old, val[0], val[1])
        if not is_valid(new) or move_type(old, new) != kind:
            return None
    elif value_of(obj, attr) == val:
        return None                                         # no change
    t: dict[str, Any] = {"obj_idx": idx, "attr": attr, "val": list(val) if attr == "position" else val}
    after = apply(state, t)
    grows = attr == "size" and RADIUS[val] > RADIUS[obj["size"]]
    if (attr == "position" or grows) and overlaps(after, idx):
        return None
    if attr == "position":
        t["options"] = out_options(obj["position"]) if kind == "out" else [list(val)]
        t["type"] = kind
    else:
        t["options"] = [val]
    return after, t


def sample_transformations(rng: np.random.Generator, objects: list[dict], n: int, transformable: set[int],
                           attributes: tuple[str, ...] = ("position", "shape", "size", "color", "material"),
                           tries: int = 60) -> list[dict] | None:
    """``n`` transformations applied in order to ``objects``, or None when none could be found in
    ``tries`` pair draws for one of them. ``transformable``: the objects seen unoccluded in the
    initial image (the only ones transformed, but for moves in)."""
    pairs = [p for p in PAIRS if p[0] in attributes]
    state = copy.deepcopy(objects)
    seq: list[dict] = []
    used: set[tuple[int, str]] = set()
    touched: set[int] = set()
    frozen: set[int] = set()          # moved in or out: nothing else may happen to them
    for _ in range(n):
        step = None
        for _ in range(tries):
            attr, val = pairs[int(rng.integers(len(pairs)))]
            kinds = [None]
            if attr == "position":
                kinds = [MOVE_TYPES[int(k)] for k in rng.permutation(len(MOVE_TYPES))]
            for kind in kinds:
                if kind == "in":
                    cands = [i for i, o in enumerate(state) if not is_visible(o["position"]) and i not in touched]
                else:
                    cands = [i for i in sorted(transformable) if is_visible(state[i]["position"])
                             and i not in frozen and (i, attr) not in used
                             and not (kind == "out" and i in touched)]
                for i in (cands[int(k)] for k in rng.permutation(len(cands))):
                    step = _try(state, i, attr, val, kind)
                    if step is not None:
                        break
                if step is not None:
                    break
            if step is not None:
                break
        if step is None:
            return None
        state, t = step
        seq.append(t)
        i = t["obj_idx"]
        used.add((i, t["attr"]))
        touched.add(i)
        if t.get("type") in ("in", "out"):
            frozen.add(i)
    return seq


def transformed_in_view(objects: list[dict], transformations: list[dict]) -> list[int]:
    """The objects a final image must show: every transformed object not moved out of view."""
    state = objects
    for t in transformations:
        state = apply(state, t)
    return sorted({t["obj_idx"] for t in transformations if is_visible(state[t["obj_idx"]]["position"])})
