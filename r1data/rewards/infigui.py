"""InfiGUI-R1 rewards from the AndroidControl matching rules: action type, action, format.

InfiGUI-R1 released no reward code; its AndroidControl evaluation
(``eval/android_control/evaluate_android_control.py``) gives the rules used here:

* coordinates: the prediction is normalised by the resized frame
  (``smart_resize(h, w, max_pixels=6400*28*28)``), the ground truth by the original size;
* click / long_press: inside any ``candidate_bbox`` enlarged 1.2x about its centre, else
  within 0.04 x max(resized W, H) of the GT point (distances in resized pixels);
* type / open: case-insensitive substring either way; an ``open`` is also matched by a click
  inside the app's first candidate box (or near its centre);
* swipe: the dominant axis of coordinate -> coordinate2 gives up/down/left/right, which must
  equal the GT ``direction``;
* system_button: names equal, case-insensitive; wait: the type alone.

Completion: ``<think>..</think><tool_call>{"name": "mobile_use", "arguments": {...}}</tool_call>``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from r1data.geometry import smart_resize
from r1data.parsing import parse_tool_call
from r1data.rewards._core import column, reward, texts, weighted

PAPER = "InfiGUI-R1 (Reallm-Labs/InfiGUI-R1), eval/android_control/evaluate_android_control.py"
MAX_PIXELS = 6400 * 28 * 28
BBOX_ENLARGE = 1.2
POINT_DISTANCE = 0.04
_FORMAT = re.compile(r"\s*<think>.*?</think>\s*<tool_call>.*?</tool_call>\s*", re.DOTALL)


def _gt(value: Any) -> dict | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) and value.get("action") else None


def predicted_action(text: str) -> dict | None:
    """The ``arguments`` of the first ``mobile_use`` tool call, or None."""
    call = parse_tool_call(text)
    if not call:
        return None
    args = call.get("arguments")
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return None
    return args if isinstance(args, dict) and isinstance(args.get("action"), str) else None


def _point(value: Any) -> np.ndarray | None:
    try:
        p = np.asarray(value, dtype=np.float64).reshape(2)
    except (TypeError, ValueError):
        return None
    return p if np.isfinite(p).all() else None


def _text_match(pred: Any, gt: Any) -> bool:
    a, b = str(pred or "").lower().strip(), str(gt or "").lower().strip()
    return a in b or b in a


def _click_ok(click: np.ndarray, boxes: Any, gt_point: np.ndarray | None, rw: int, rh: int,
              enlarge: float, distance: float) -> bool:
    """``click`` and the GT are normalised (0-1); distances are measured in resized pixels."""
    b = np.asarray(boxes or [], dtype=np.float64).reshape(-1, 4)
    if len(b):
        c = (b[:, :2] + b[:, 2:]) / 2
        half = (b[:, 2:] - b[:, :2]) * enlarge / 2
        lo, hi = c - half, c + half
        if np.any((lo[:, 0] <= click[0]) & (click[0] <= hi[:, 0]) & (lo[:, 1] <= click[1]) & (click[1] <= hi[:, 1])):
            return True
    if gt_point is not None:
        d = np.hypot((gt_point[0] - click[0]) * rw, (gt_point[1] - click[1]) * rh)
        return bool(d <= distance * max(rw, rh))
    return False


def swipe_direction(start: np.ndarray, end: np.ndarray) -> str:
    dx, dy = end[0] - start[0], end[1] - start[1]
    if abs(dx) > abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


def match_action(pred: dict | None, gt: dict, width: int, height: int, max_pixels: int = MAX_PIXELS,
                 enlarge: float = BBOX_ENLARGE, distance: float = POINT_DISTANCE) -> tuple[bool, bool]:
    """(type matches, action matches) of one prediction against a GT step."""
    if pred is None:
        return False, False
    rh, rw = smart_resize(int(height), int(width), 28, 56 * 56, max_pixels)
    kind, want = pred.get("action"), gt.get("action")
    scale_gt = np.array([width, height], dtype=np.float64)
    boxes = [[x1 / width, y1 / height, x2 / width, y2 / height] for x1, y1, x2, y2 in (gt.get("candidate_bbox") or [])]

    def click_point() -> np.ndarray | None:
        p = _point(pred.get("coordinate"))
        return None if p is None else p / np.array([rw, rh], dtype=np.float64)

    if want in ("wait",):
        return kind == want, kind == want
    if want == "system_button":
        ok = kind == want and str(pred.get("button", "")).lower().strip() == str(gt.get("button", "")).lower().strip()
        return kind == want, ok
    if want == "type":
        return kind == want, kind == want and _text_match(pred.get("text"), gt.get("text"))
    if want == "open":
        if kind == "open":
            return True, _text_match(pred.get("text"), gt.get("text"))
        if kind == "click" and boxes:
            p = click_point()
            centre = np.array([(boxes[0][0] + boxes[0][2]) / 2, (boxes[0][1] + boxes[0][3]) / 2])
            return True, p is not None and _click_ok(p, boxes, centre, rw, rh, enlarge, distance)
        return False, False
    if want == "swipe":
        if kind != "swipe":
            return False, False
        a, b = _point(pred.get("coordinate")), _point(pred.get("coordinate2"))
        return True, a is not None and b is not None and swipe_direction(a, b) == gt.get("direction")
    if want in ("click", "long_press"):
        if kind != want:
            return False, False
        p = click_point()
        g = _point(gt.get("coordinate"))
        return True, p is not None and _click_ok(p, boxes, None if g is None else g / scale_gt, rw, rh,
                                                 enlarge, distance)
    return kind == want, kind == want   # key, terminate, ...: the type alone


def _rows(completions: Any, gt_action: Any, width: Any, height: Any, name: str,
          **params: Any) -> list[tuple[bool, bool] | None]:
    t = texts(completions)
    n = len(t)
    gts = column(gt_action, n, "gt_action", name)
    ws, hs = column(width, n, "width", name), column(height, n, "height", name)
    out: list[tuple[bool, bool] | None] = []
    for text, g, w, h in zip(t, gts, ws, hs):
        gt = _gt(g)
        out.append(None if gt is None or not w or not h else match_action(predicted_action(text), gt, w, h, **params))
    return out


_COLUMNS = ("gt_action", "width", "height")


@reward("infigui.action", columns=_COLUMNS, paper=PAPER)
def action(prompts: Any = None, completions: Any = (), *, gt_action: Any = None, width: Any = None,
           height: Any = None, max_pixels: int = MAX_PIXELS, enlarge: float = BBOX_ENLARGE,
           distance: float = POINT_DISTANCE, **_: Any) -> list[float | None]:
    """1 when the tool call's action matches ``gt_action`` by the AndroidControl rules (module docstring)."""
    rows = _rows(completions, gt_action, width, height, "infigui.action", max_pixels=max_pixels,
                 enlarge=enlarge, distance=distance)
    return [None if r is None else float(r[1]) for r in rows]


@reward("infigui.action_type", columns=_COLUMNS, paper=PAPER)
def action_type(prompts: Any = None, completions: Any = (), *, gt_action: Any = None, width: Any = None,
                height: Any = None, **_: Any) -> list[float | None]:
    """1 when the predicted action type is the GT's (a click also counts for ``open``)."""
    rows = _rows(completions, gt_action, width, height, "infigui.action_type")
    return [None if r is None else float(r[0]) for r in rows]


@reward("infigui.format", paper=PAPER)
def format_(prompts: Any = None, completions: Any = (), **_: Any) -> list[float | None]:
    """1 for ``<think>..</think><tool_call>{...}</tool_call>`` with a readable ``mobile_use`` call."""
    return [1.0 if _FORMAT.fullmatch(t) and predicted_action(t) is not None else 0.0 for t in texts(completions)]


@reward("infigui.total", columns=_COLUMNS, paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, gt_action: Any = None, width: Any = None,
          height: Any = None, w_format: float = 1.0, w_action: float = 1.0, **_: Any) -> list[float | None]:
    """format + action (the paper's weights are not released; these are ours)."""
    kw = dict(gt_action=gt_action, width=width, height=height)
    return weighted([(w_format, format_(prompts, completions)), (w_action, action(prompts, completions, **kw))],
                    none_as_zero=False)
