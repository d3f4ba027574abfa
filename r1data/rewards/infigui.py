"""InfiGUI-R1 rewards: the AndroidControl evaluation rules as released, format and sub-goal.

InfiGUI-R1 released no reward code. Its AndroidControl evaluation
(``Reallm-Labs/InfiGUI-R1``, ``eval/android_control/android_control.py`` ``compute_scores`` and
``evaluate_android_control.py`` ``evaluate_android_control_action``, commit d280ab8) is what
``infigui.action`` and ``infigui.action_type`` reproduce, case by case:

* **reading the call** (:func:`r1data.parsing.parse_mobile_use_call`): after the last
  ``</think>``, the first ``<tool_call>`` (or a bare ``{"name": "mobile_use", "arguments":``),
  strict JSON, its ``arguments``. Any failure while reading or judging a prediction (no call,
  bad JSON, a missing key, a ``null`` or string coordinate, a ``type`` without ``text``) is an
  error there, and scores 0 for both type and action, as in the evaluation's counts;
* **coordinates**: the prediction's are divided by the resized frame
  (``smart_resize(h, w, max_pixels=6400*28*28)``), the ground truth's by the original size;
* **click / long_press**: inside a ``candidate_bbox`` enlarged 1.2x about its centre (edges
  count), else within 0.04 x max(resized W, H) of the GT point, distances in resized pixels;
* **type / open**: lower-cased, stripped, substring either way (so an empty ``text`` matches);
  an ``open`` GT also takes a ``click`` inside its (enlarged) candidate boxes or near the centre
  of the first one; without candidate boxes that click is neither type- nor action-correct;
* **swipe**: the direction of ``coordinate -> coordinate2`` on the *normalised* coordinates
  (dominant axis, ties vertical), equal to the GT ``direction``;
* **system_button**: names equal after lower-casing and stripping; **wait**: the type alone.

What differs, and why: a ground truth the evaluation cannot read (a missing ``text`` or box
list, an action outside the rules such as ``terminate``) makes the row not applicable (None)
instead of an error counted against the model; ``null`` values in a ground truth mean absent
(the released JSON omits absent keys: its code would fail on a ``null`` box list).
``score_other=True`` scores ``key`` / ``terminate`` ground truths (text / status) as our extension.

``infigui.subgoal`` (:mod:`r1data.rewards.infigui_subgoal`) is the paper's sub-goal guidance as
we read it: no code or formula is released.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from r1data.geometry import smart_resize
from r1data.parsing import parse_mobile_use_call, tag_content
from r1data.rewards._core import column, reward, texts, weighted

PAPER = "InfiGUI-R1 (Reallm-Labs/InfiGUI-R1), eval/android_control/evaluate_android_control.py"
PAPER_SUBGOAL = "InfiGUI-R1 (arXiv 2504.14239) sub-goal guidance; formula not released, ours"
MAX_PIXELS = 6400 * 28 * 28
MIN_PIXELS = 4 * 28 * 28                 # qwen_vl_utils' default, which the evaluation keeps
BBOX_ENLARGE = 1.2
POINT_DISTANCE = 0.04
ACTIONS = ("key", "click", "long_press", "swipe", "type", "system_button", "open", "wait", "terminate")
_FORMAT = re.compile(r"<think>.*?</think>\s*<tool_call>.*?</tool_call>", re.DOTALL)


class _PredictionError(Exception):
    """The evaluation would raise on this prediction (counted as an error: no type, no match)."""


def ground_truth(value: Any) -> dict | None:
    """A step's ground truth (``step_check_pams``: a dict or its JSON) with null values dropped."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict) or not isinstance(value.get("action"), str):
        return None
    return {k: v for k, v in value.items() if v is not None}


def resized_frame(width: int, height: int, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(resized width, resized height): the frame the model's coordinates live in."""
    h, w = smart_resize(int(height), int(width), 28, MIN_PIXELS, max_pixels)
    return w, h


def _norm_point(value: Any, w: float, h: float) -> list[float]:
    # the evaluation indexes [0] and [1] and divides: anything else raises
    try:
        return [value[0] / w, value[1] / h]
    except (TypeError, IndexError, KeyError, ZeroDivisionError):
        raise _PredictionError from None


def _normalise(action: dict, w: float, h: float) -> dict:
    """``norm_coordinate``: boxes and points of ``action`` divided by (w, h)."""
    out = dict(action)
    if "candidate_bbox" in out:
        try:
            out["candidate_bbox"] = [[b[0] / w, b[1] / h, b[2] / w, b[3] / h] for b in out["candidate_bbox"]]
        except (TypeError, IndexError, KeyError, ZeroDivisionError):
            raise _PredictionError from None
    for key in ("coordinate", "coordinate2"):
        if key in out:
            out[key] = _norm_point(out[key], w, h)
    return out


def check_text(pred: Any, gt: str) -> bool:
    if not isinstance(pred, str):
        raise _PredictionError
    a, b = pred.lower().strip(), gt.lower().strip()
    return a in b or b in a


def check_click(click: list[float], boxes: list, gt_point: list[float] | None, rw: int, rh: int,
                enlarge: float = BBOX_ENLARGE, distance: float = POINT_DISTANCE) -> bool:
    """Normalised ``click`` in a box enlarged ``enlarge`` x, else within ``distance`` x max(rw, rh)."""
    if len(boxes):
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        centre, half = (b[:, :2] + b[:, 2:]) / 2, (b[:, 2:] - b[:, :2]) * enlarge / 2
        lo, hi = centre - half, centre + half
        if np.any((lo[:, 0] <= click[0]) & (click[0] <= hi[:, 0]) & (lo[:, 1] <= click[1]) & (click[1] <= hi[:, 1])):
            return True
    if gt_point is not None:
        d = math.hypot((gt_point[0] - click[0]) * rw, (gt_point[1] - click[1]) * rh)
        return d <= distance * max(rw, rh)
    return False


def swipe_direction(start: Any, end: Any) -> str:
    """up / down / left / right of the move ``start -> end`` (dominant axis; ties vertical)."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    if abs(dx) > abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


def _gt_readable(gt: dict) -> bool:
    want = gt["action"]
    if want in ("type", "open", "key"):
        return isinstance(gt.get("text"), str)
    if want == "system_button":
        return isinstance(gt.get("button"), str)
    if want == "swipe":
        return isinstance(gt.get("direction"), str)
    if want in ("click", "long_press"):
        return isinstance(gt.get("candidate_bbox"), list) and gt.get("coordinate") is not None
    return True


def match_action(pred: Any, gt: Any, width: int, height: int, *, max_pixels: int = MAX_PIXELS,
                 enlarge: float = BBOX_ENLARGE, distance: float = POINT_DISTANCE,
                 score_other: bool = False) -> tuple[bool, bool] | None:
    """(type correct, action correct) of predicted ``arguments`` against a ground truth step, by
    the released AndroidControl rules (module docstring); None when the ground truth is not
    one those rules can judge."""
    judged = judge_step(pred, gt, width, height, max_pixels=max_pixels, enlarge=enlarge, distance=distance,
                        score_other=score_other)
    return None if judged is None else judged[:2]


def judge_step(pred: Any, gt: Any, width: int, height: int, *, max_pixels: int = MAX_PIXELS,
               enlarge: float = BBOX_ENLARGE, distance: float = POINT_DISTANCE,
               score_other: bool = False) -> tuple[bool, bool, bool] | None:
    """:func:`match_action` plus whether the evaluation would have raised on the prediction
    (``compute_scores`` counts those in ``error_num`` and leaves them out of the click count)."""
    gt = ground_truth(gt)
    if gt is None or not _gt_readable(gt) or not width or not height:
        return None
    want = gt["action"]
    if want not in _JUDGED and not score_other:
        return None
    rw, rh = resized_frame(width, height, max_pixels)
    try:
        g = _normalise(gt, width, height)
    except _PredictionError:
        return None
    try:
        typ, ok = _judge(pred, g, rw, rh, enlarge, distance)
        return typ, ok, False
    except (_PredictionError, KeyError, TypeError, IndexError, AttributeError, ValueError):
        return False, False, True


_JUDGED = ("wait", "system_button", "type", "open", "swipe", "click", "long_press")


def _judge(pred: Any, g: dict, rw: int, rh: int, enlarge: float, distance: float) -> tuple[bool, bool]:
    if not isinstance(pred, dict):
        raise _PredictionError
    p = _normalise(pred, rw, rh)
    kind, want = p["action"], g["action"]
    if want == "open" and kind == "click":
        boxes = g.get("candidate_bbox") or []
        if not boxes:
            return False, False
        centre = [(boxes[0][0] + boxes[0][2]) / 2, (boxes[0][1] + boxes[0][3]) / 2]
        return True, check_click(p["coordinate"], boxes, centre, rw, rh, enlarge, distance)
    if kind != want:
        return False, False
    if want == "system_button":
        return True, p["button"].lower().strip() == g["button"].lower().strip()
    if want in ("type", "open", "key"):
        return True, check_text(p["text"], g["text"])
    if want == "swipe":
        return True, swipe_direction(p["coordinate"], p["coordinate2"]) == g["direction"]
    if want in ("click", "long_press"):
        return True, check_click(p["coordinate"], g["candidate_bbox"], g["coordinate"], rw, rh, enlarge, distance)
    if want == "terminate" and "status" in g:      # score_other: our extension
        return True, str(p.get("status", "")).lower().strip() == str(g["status"]).lower().strip()
    return True, True                              # wait (and, with score_other, the rest): the type alone


def _scores(completions: Any, gt_action: Any, width: Any, height: Any, name: str, thinking: bool,
            **params: Any) -> list[tuple[bool, bool] | None]:
    t = texts(completions)
    n = len(t)
    gts = column(gt_action, n, "gt_action", name)
    ws, hs = column(width, n, "width", name), column(height, n, "height", name)
    return [match_action(parse_mobile_use_call(text, thinking), g, w, h, **params) if g is not None else None
            for text, g, w, h in zip(t, gts, ws, hs)]


_COLUMNS = ("gt_action", "width", "height")


@reward("infigui.action", columns=_COLUMNS, paper=PAPER)
def action(prompts: Any = None, completions: Any = (), *, gt_action: Any = None, width: Any = None,
           height: Any = None, max_pixels: int = MAX_PIXELS, enlarge: float = BBOX_ENLARGE,
           distance: float = POINT_DISTANCE, thinking: bool = True, score_other: bool = False,
           **_: Any) -> list[float | None]:
    """1 when the call's action matches ``gt_action`` by the released AndroidControl rules
    (the evaluation's "extact match"); None where the ground truth is not one they judge."""
    rows = _scores(completions, gt_action, width, height, "infigui.action", thinking, max_pixels=max_pixels,
                   enlarge=enlarge, distance=distance, score_other=score_other)
    return [None if r is None else float(r[1]) for r in rows]


@reward("infigui.action_type", columns=_COLUMNS, paper=PAPER)
def action_type(prompts: Any = None, completions: Any = (), *, gt_action: Any = None, width: Any = None,
                height: Any = None, max_pixels: int = MAX_PIXELS, thinking: bool = True,
                score_other: bool = False, **_: Any) -> list[float | None]:
    """1 when the call's action type is the GT's (a click also counts for ``open`` with boxes)."""
    rows = _scores(completions, gt_action, width, height, "infigui.action_type", thinking, max_pixels=max_pixels,
                   score_other=score_other)
    return [None if r is None else float(r[0]) for r in rows]


@reward("infigui.format", paper=PAPER_SUBGOAL)
def format_(prompts: Any = None, completions: Any = (), *, require_step: bool = False,
            **_: Any) -> list[float | None]:
    """1 for exactly ``<think>..</think><tool_call>{...}</tool_call>`` (nothing around it) whose
    call the evaluation reads as a JSON object with an ``action``; ``require_step``: the
    reasoning must also state a ``<step>`` sub-goal. Ours: the paper's format reward is not released."""
    out: list[float | None] = []
    for t in texts(completions):
        args = parse_mobile_use_call(t)
        ok = bool(_FORMAT.fullmatch(t)) and isinstance(args, dict) and args.get("action") in ACTIONS
        if ok and require_step:
            ok = bool(sub_goal_of(t))
        out.append(1.0 if ok else 0.0)
    return out


@reward("infigui.total", columns=_COLUMNS, paper=PAPER_SUBGOAL)
def total(prompts: Any = None, completions: Any = (), *, gt_action: Any = None, width: Any = None,
          height: Any = None, w_format: float = 1.0, w_action: float = 1.0, **_: Any) -> list[float | None]:
    """format + action (the paper's weights are not released; these are ours)."""
    kw = dict(gt_action=gt_action, width=width, height=height)
    return weighted([(w_format, format_(prompts, completions)), (w_action, action(prompts, completions, **kw))],
                    none_as_zero=False)


# -- grounding: ScreenSpot's rule ----------------------------------------------------------------

@reward("infigui.point_in_box", columns=("target_box", "width", "height"),
        paper="ScreenSpot (njucckevin/SeeClick pretrain/screenspot_test.py): the point inside the box")
def point_in_box(prompts: Any = None, completions: Any = (), *, target_box: Any = None, width: Any = None,
                 height: Any = None, max_pixels: int = MAX_PIXELS, **_: Any) -> list[float | None]:
    """1 when the call's ``coordinate`` (resized frame, scaled back) lies in ``target_box``
    (original pixels, edges included), as ScreenSpot scores grounding; None without a box."""
    t = texts(completions)
    n = len(t)
    boxes = column(target_box, n, "target_box", "infigui.point_in_box")
    ws, hs = column(width, n, "width", "infigui.point_in_box"), column(height, n, "height", "infigui.point_in_box")
    out: list[float | None] = []
    for text, box, w, h in zip(t, boxes, ws, hs):
        if box is None or len(box) != 4 or not w or not h:
            out.append(None)
            continue
        rw, rh = resized_frame(w, h, max_pixels)
        args = parse_mobile_use_call(text)
        try:
            x, y = float(args["coordinate"][0]) * w / rw, float(args["coordinate"][1]) * h / rh
        except (TypeError, KeyError, IndexError, ValueError):
            out.append(0.0)
            continue
        out.append(float(box[0] <= x <= box[2] and box[1] <= y <= box[3]))
    return out


# -- sub-goal guidance ----------------------------------------------------------------------------

def sub_goal_of(text: str | None) -> str | None:
    """The first ``<step>...</step>`` inside the reasoning (``<think>``), else anywhere."""
    think = tag_content(text, "think")
    return tag_content(think, "step") or tag_content(text, "step")


# -- the evaluation's numbers -------------------------------------------------------------------

def metrics(completions: list[str], columns: dict[str, list[Any]]) -> dict[str, float | int | None]:
    """AndroidControl's numbers as ``compute_scores`` counts them (fractions, not percent), over
    every row and, with a ``task`` column, per level (``low_*``, ``high_*``: AndroidControl-Low
    and -High): type and exact-match accuracy over every scored step (a prediction it cannot read
    or judge counts as wrong), click accuracy as exact ``click`` predictions over the click steps
    judged without an error (so an ``open`` matched by a click counts, as there), the error
    count; and ScreenSpot accuracy (point in box) over the grounding rows."""
    n = len(completions)
    gts = columns.get("gt_action") or [None] * n
    ws, hs = columns.get("width") or [0] * n, columns.get("height") or [0] * n
    tasks = columns.get("task") or [None] * n
    out: dict[str, float | int | None] = {}
    for level in (None, "low", "high"):
        keep = [i for i in range(n) if level is None or tasks[i] == level]
        if level is not None and not keep:
            continue
        prefix = f"{level}_" if level else ""
        out.update({prefix + k: v for k, v in _counts([completions[i] for i in keep], [gts[i] for i in keep],
                                                       [ws[i] for i in keep], [hs[i] for i in keep]).items()})
    boxes = columns.get("target_box")
    grounding: list[float] = []
    if boxes is not None:
        keep = [i for i in range(n) if tasks[i] in (None, "grounding")]
        grounding = [v for v in point_in_box(completions=[completions[i] for i in keep],
                                             target_box=[boxes[i] for i in keep], width=[ws[i] for i in keep],
                                             height=[hs[i] for i in keep]) if v is not None]
    out["screenspot_acc"] = float(np.mean(grounding)) if grounding else None
    return out


def _counts(completions: list[str], gts: list, ws: list, hs: list) -> dict[str, float | int | None]:
    typ = ok = clicks = click_ok = errors = scored = 0
    for text, g, w, h in zip(completions, gts, ws, hs):
        pred = parse_mobile_use_call(text)
        judged = judge_step(pred, g, w, h) if g is not None else None
        if judged is None:
            continue
        scored += 1
        typ += judged[0]
        ok += judged[1]
        if judged[2]:
            errors += 1
            continue
        clicks += ground_truth(g)["action"] == "click"          # type: ignore[index]
        click_ok += judged[1] and pred.get("action") == "click"
    return {"type_match_acc": typ / scored if scored else None, "exact_match_acc": ok / scored if scored else None,
            "click_match_acc": click_ok / clicks if clicks else None, "errors": errors}
