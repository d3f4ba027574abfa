"""The verifiers of ``trance``: the transformations against the two states, and the reference
completion against the reward.

* ``trance_objects_exist``: every transformation names an object of the state, an attribute and a
  value of TRANCE's vocabulary;
* ``trance_no_noop``: no transformation leaves its value as it was;
* ``trance_replay``: the transformations replayed on the initial state, in order, give the final
  state (positions out of view compare equal, as TVR's evaluator has it), with no move off the
  grid and no overlap on the way;
* ``trance_options``: each value is among its options, and a move out of view lists every move
  that leaves the view from there (what the final image cannot tell apart);
* ``trance_reference_full_marks``: the reference completion is in the format and earns the full
  ``star.accuracy`` (5 per transformation, no penalty).
"""

from __future__ import annotations

import json
from typing import Any

from r1data.corpora.trance.world import (TransformationError, apply, check_transformation, out_options, replay,
                                         same_state)
from r1data.steps.checks import verifier


def _objects(rows: Any) -> list[dict]:
    return [{k: o[k] for k in ("shape", "size", "color", "material", "position", "rotation") if k in o}
            for o in rows or []]


def _transformations(row: dict) -> list[dict]:
    value = row.get("transformations")
    return json.loads(value) if isinstance(value, str) else list(value or [])


@verifier("trance_objects_exist")
def objects_exist(row: dict) -> bool | tuple[bool, str]:
    """Every transformation refers to an existing object, a known attribute and value."""
    seq = _transformations(row)
    if not seq:
        return False, "no transformation"
    n = len(row.get("objects") or [])
    for k, t in enumerate(seq):
        try:
            check_transformation(t, n)
        except TransformationError as e:
            return False, f"transformation {k}: {e}"
    return True


@verifier("trance_no_noop")
def no_noop(row: dict) -> bool | tuple[bool, str]:
    """No transformation leaves its attribute's value unchanged."""
    try:
        _, problems = replay(_objects(row.get("objects")), _transformations(row))
    except TransformationError as e:
        return False, str(e)
    noops = [p for p in problems if p.startswith("no_op")]
    return True if not noops else (False, noops[0])


@verifier("trance_replay")
def replays_to_final(row: dict) -> bool | tuple[bool, str]:
    """Replaying the transformations on ``objects`` gives ``final_objects``, with no move off the
    grid and no overlap along the way."""
    try:
        state, problems = replay(_objects(row.get("objects")), _transformations(row))
    except TransformationError as e:
        return False, str(e)
    problems = [p for p in problems if not p.startswith("no_op")]
    if problems:
        return False, problems[0]
    diffs = same_state(state, _objects(row.get("final_objects")))
    return True if not diffs else (False, f"replayed state differs from the final one: {'; '.join(diffs[:3])}")


@verifier("trance_options")
def options_complete(row: dict) -> bool | tuple[bool, str]:
    """Each value is one of its options; a move out of view lists every move out of view."""
    state = _objects(row.get("objects"))
    for k, t in enumerate(_transformations(row)):
        options = [list(o) if isinstance(o, (list, tuple)) else o for o in t.get("options") or []]
        val = list(t["val"]) if isinstance(t["val"], (list, tuple)) else t["val"]
        if val not in options:
            return False, f"transformation {k}: value {val} is not among its options {options}"
        if t.get("type") == "out":
            want = out_options(state[t["obj_idx"]]["position"])
            if sorted(map(tuple, options)) != sorted(map(tuple, want)):
                return False, f"transformation {k}: moved out of view, options {options} should be {want}"
        state = apply(state, t)
    return True


@verifier("trance_reference_full_marks")
def reference_full_marks(row: dict, field: str = "solution") -> bool | tuple[bool, str]:
    """The reference completion earns full marks: star.format 1 and star.accuracy 5 per transformation."""
    from r1data.rewards.format import strict_think_answer
    from r1data.rewards.star import accuracy_score

    text = row.get(field) or ""
    if strict_think_answer(text, False) != 1.0:
        return False, f"{field} is not <think>..</think><answer>..</answer>"
    seq = _transformations(row)
    got = accuracy_score(text, seq)
    want = 5.0 * len(seq)
    return True if got == want else (False, f"{field} earns star.accuracy {got}, full marks are {want}")
