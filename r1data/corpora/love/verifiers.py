"""The love verifiers: options in order, and the CoT kept only when both steps are right.

LOVE-R1 kept a zoom-step CoT when its interval overlaps a clue interval (and is a valid zoom) and an
answer-step CoT when its boxed letter is the answer (``build_cgbench_sample_cot.py``,
``build_cgbench_answer_cot.py``). A row without CoT (a released question built offline) has nothing
to check here: it is an RL row.
"""

from __future__ import annotations

from r1data.rewards.love import ANSWER_PREFIX, ZOOM_PREFIX, iou_1d, parse_zoom
from r1data.steps.checks import verifier


@verifier("love_options")
def options_listed(row: dict) -> bool | tuple[bool, str]:
    """Options are ``A. ...`` lines in letter order, distinct, and the answer is one of their letters."""
    options = row.get("options") or []
    if len(options) < 2:
        return False, f"{len(options)} options"
    for i, o in enumerate(options):
        if not str(o).startswith(f"{chr(65 + i)}. "):
            return False, f"option {i} is not '{chr(65 + i)}. ...': {str(o)[:40]!r}"
    if len({str(o)[3:].strip().lower() for o in options}) != len(options):
        return False, "two options are the same"
    if row.get("answer") not in [chr(65 + i) for i in range(len(options))]:
        return False, f"answer {row.get('answer')!r} is not an option letter"
    return True


@verifier("love_zoom_cot")
def zoom_cot_valid(row: dict) -> bool | tuple[bool, str]:
    """The zoom step starts with LOVE-R1's zoom prefix, its first box is a valid zoom request for the
    video (integer seconds, 1..min(D/2, 60) long, inside [0, D+1]) and it overlaps a clue interval."""
    text = row.get("zoom_cot") or ""
    if not text:
        return True
    if not text.startswith(ZOOM_PREFIX):
        return False, "the zoom step does not start with 'I need to zoom in on the video.'"
    step = parse_zoom(text, float(row["duration"]), [])
    if step.kind != "zoom":
        return False, "its \\boxed{[s, e]} is not a valid zoom request for this video"
    clues = [(c["start"], c["end"]) for c in row.get("clues") or []]
    if not any(iou_1d(step.interval, c) > 0 for c in clues):
        return False, f"the zoom {list(step.interval)} overlaps no clue interval"
    return True


@verifier("love_answer_cot")
def answer_cot_right(row: dict) -> bool | tuple[bool, str]:
    """The answer step starts with LOVE-R1's answer prefix and its first boxed letter is the answer."""
    text = row.get("answer_cot") or ""
    if not text:
        return True
    if not text.startswith(ANSWER_PREFIX):
        return False, "the answer step does not start with 'I get the answer.'"
    parts = text.split("\\boxed{", 1)
    if len(parts) < 2 or not parts[1]:
        return False, "the answer step has no \\boxed{}"
    if parts[1][0].upper() != str(row.get("answer")):
        return False, f"the answer step boxes {parts[1][0]!r}, the answer is {row.get('answer')!r}"
    return True
