"""The scene30k verifiers: the answer against ground truth, ids, and geometry."""

from __future__ import annotations

import math

import numpy as np

from r1data.geometry import box3d_iou, box3d_valid
from r1data.parsing import normalize_answer, parse_box3d, parse_think_answer
from r1data.steps.checks import verifier

_NUMBERS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
            "seven": "7", "eight": "8", "nine": "9", "ten": "10"}


def _canon(text: str | None) -> str:
    words = normalize_answer(text).split()
    return " ".join(_NUMBERS.get(w, w) for w in words)


@verifier("scene30k_answer_matches_truth")
def answer_matches_truth(row: dict, field: str = "cot", min_iou: float = 0.5) -> bool | tuple[bool, str]:
    """The ``<answer>`` is one of the acceptable answers; for referring questions its box
    overlaps ``target_box`` with 3D IoU >= ``min_iou``."""
    predicted = parse_think_answer(row.get(field)).answer
    if predicted is None:
        return False, "no <answer>"
    if row.get("target_box") is not None:
        box = parse_box3d(predicted)
        if box is None:
            return False, f"answer {predicted[:60]!r} is not 'box: [x1, y1, z1, x2, y2, z2]'"
        iou = float(box3d_iou(box, row["target_box"])[0])
        return (True, "") if iou >= min_iou else (False, f"3D IoU {iou:.2f} < {min_iou}")
    accepted = {_canon(a) for a in row.get("answers") or [row.get("answer")] if a}
    if _canon(predicted) in accepted:
        return True
    return False, f"answer {predicted[:60]!r} not in {sorted(accepted)[:5]}"


@verifier("scene30k_object_ids_exist")
def object_ids_exist(row: dict) -> bool | tuple[bool, str]:
    """Every id in ``object_ids`` names an object of the scene."""
    ids = {o["id"] for o in row.get("objects") or []}
    missing = [i for i in row.get("object_ids") or [] if i not in ids]
    if missing:
        return False, f"object ids {missing} are not in the scene"
    if not row.get("object_ids") and row.get("question_type") not in ("counting", "existence"):
        return False, "the question refers to no object"
    return True


@verifier("scene30k_boxes_valid")
def boxes_valid(row: dict, room_margin: float = 0.05) -> bool | tuple[bool, str]:
    """Object boxes are finite with positive size (and inside the room for procedural scenes);
    ``target_box``, when present, is a valid box."""
    scene = row.get("scene")
    room = scene.room_size if scene is not None and scene.source == "procedural" else None
    for o in row.get("objects") or []:
        c, s, yaw = o["center"], o["size"], o["yaw"]
        values = [*c, *s, yaw]
        if not all(math.isfinite(v) for v in values):
            return False, f"object {o['id']} has a non-finite box"
        if min(s) <= 0:
            return False, f"object {o['id']} has a non-positive size {s}"
        if room is not None:
            cc, ss = abs(math.cos(yaw)), abs(math.sin(yaw))
            hx, hy = (s[0] * cc + s[1] * ss) / 2, (s[0] * ss + s[1] * cc) / 2
            lo = np.array([c[0] - hx, c[1] - hy, c[2] - s[2] / 2])
            hi = np.array([c[0] + hx, c[1] + hy, c[2] + s[2] / 2])
            if (lo < -room_margin).any() or (hi > np.array(room) + room_margin).any():
                return False, f"object {o['id']} leaves the room"
    target = row.get("target_box")
    if target is not None and not box3d_valid(target):
        return False, f"target_box {target} is not a valid box"
    return True


def levenshtein(a: str, b: str) -> int:
    """Character edit distance (insertions, deletions, substitutions of one character)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def similarity(a: str, b: str) -> float:
    """3D-R1's normalised Levenshtein similarity, ``1 - lev(a, b) / max(len)`` of the stripped
    strings, character level and case-sensitive; 1.0 for two empty strings."""
    a, b = a.strip(), b.strip()
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest


@verifier("scene30k_consistency")
def consistency(row: dict, field: str = "cot", reanswer: str = "consistency_answer",
                threshold: float = 0.8) -> bool | tuple[bool, str]:
    """3D-R1's consistency check: the answer a second model gave from the reasoning alone
    (``reanswer``, written by an ``annotate`` step with ``scene30k_consistency.jinja``) agrees
    with the chain's own ``<answer>``: normalised Levenshtein similarity >= ``threshold``."""
    given = row.get(reanswer)
    if not isinstance(given, str):
        return False, f"no {reanswer} (run an annotate step with scene30k_consistency.jinja before this verifier)"
    own = parse_think_answer(row.get(field)).answer
    if own is None:
        return False, f"{field} has no <answer>"
    sim = similarity(given, own)
    return (True, "") if sim >= threshold else (False, f"low_similarity {sim:.2f} < {threshold}: {given!r} vs {own!r}")
