"""The checks a ``gui`` row passes before it is kept.

| verifier | checks |
|---|---|
| ``gui_point_in_target`` | a click / long press lands in the target element's box, and that box is one of the ground truth's candidate boxes |
| ``gui_action_fits_element`` | the action suits what it acts on (type into a text field, swipe a scrollable list, click something clickable, long-press something that reacts to it, open from a launcher) |
| ``gui_coordinates_in_frame`` | the solution's call has its coordinates inside the resized frame, and scaled back they are inside the image |
| ``gui_solution_scores`` | the solution reads as a call and earns the full ``infigui.action`` reward against ``gt_action`` (and the format reward) |
"""

from __future__ import annotations

import json
from typing import Any

from r1data.parsing import parse_mobile_use_call
from r1data.rewards.infigui import action as action_reward
from r1data.rewards.infigui import format_ as format_reward
from r1data.steps.checks import verifier

CLICKABLE = {"back", "icon", "nav_row", "item_row", "chat_row", "file_row", "toggle_row", "check_row", "radio_row",
             "input", "button", "dialog_button", "fab", "tab", "app_icon", "element", "text"}


def _gt(row: dict) -> dict:
    gt = row.get("gt_action")
    return json.loads(gt) if isinstance(gt, str) else (gt or {})


@verifier("gui_point_in_target")
def gui_point_in_target(row: dict) -> bool | tuple[bool, str]:
    """A pointing action's ``point`` lies in ``target_box``, one of the candidate boxes."""
    gt = _gt(row)
    if gt.get("action") not in ("click", "long_press"):
        return True
    point, box = row.get("point"), row.get("target_box")
    boxes = gt.get("candidate_bbox") or []
    if point is not None and box is None and not boxes and row.get("source") != "procedural":
        # real data with no element under the point: the evaluation's distance rule still applies
        return (0 <= point[0] < row["width"] and 0 <= point[1] < row["height"]) or (False, f"point {point} off screen")
    if point is None or box is None:
        return False, f"a {gt.get('action')} without a point or a target box"
    if not (box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]):
        return False, f"point {point} is outside the target box {box}"
    if not any(b[0] <= box[0] + 1 and b[1] <= box[1] + 1 and box[2] - 1 <= b[2] and box[3] - 1 <= b[3] for b in boxes):
        return False, f"the target box {box} is not among the candidate boxes {boxes}"
    return True


@verifier("gui_action_fits_element")
def gui_action_fits_element(row: dict) -> bool | tuple[bool, str]:
    """The action type suits the element it acts on (``target_role``)."""
    kind, role = _gt(row).get("action"), row.get("target_role") or ""
    if row.get("source") != "procedural" and role in ("element", "text", "scroll", "icon"):
        role = "element"            # an accessibility node's class says little of what it does
    if kind == "type":
        ok = role in ("input", "")
    elif kind == "swipe":
        ok = role in ("scroll", "")
    elif kind == "click":
        ok = role in CLICKABLE or role == ""
    elif kind == "long_press":
        ok = role in CLICKABLE and role not in ("input", "back")
    elif kind == "open":
        ok = role in ("app_icon", "element", "")
    else:                           # system_button, wait, ...: no element
        ok = not row.get("target_box") or role == "dialog_button"
    return True if ok else (False, f"{kind} on a {role or 'missing'} element")


@verifier("gui_coordinates_in_frame")
def gui_coordinates_in_frame(row: dict, field: str = "solution") -> bool | tuple[bool, str]:
    """Coordinates of the call in ``field`` are inside the resized frame and the image."""
    args = parse_mobile_use_call(row.get(field))
    if not isinstance(args, dict):
        return False, f"{field} has no readable mobile_use call"
    rw, rh = row["resized_width"], row["resized_height"]
    for key in ("coordinate", "coordinate2"):
        p: Any = args.get(key)
        if p is None:
            continue
        if not (isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p)):
            return False, f"{key} {p!r} is not [x, y]"
        if not (0 <= p[0] < rw and 0 <= p[1] < rh):
            return False, f"{key} {p} is outside the {rw}x{rh} frame"
        x, y = p[0] * row["width"] / rw, p[1] * row["height"] / rh
        if not (0 <= x < row["width"] and 0 <= y < row["height"]):
            return False, f"{key} {p} maps outside the {row['width']}x{row['height']} image"
    return True


@verifier("gui_solution_scores")
def gui_solution_scores(row: dict, field: str = "solution") -> bool | tuple[bool, str]:
    """The call in ``field`` is well formed and matches ``gt_action`` by the AndroidControl rules."""
    text = row.get(field) or ""
    if format_reward(completions=[text]) != [1.0]:
        return False, f"{field} is not <think>..</think><tool_call>{{...}}</tool_call> with a readable call"
    got = action_reward(completions=[text], gt_action=[row.get("gt_action")], width=[row["width"]],
                        height=[row["height"]])[0]
    if got is None:
        return False, "gt_action is not one the AndroidControl rules can judge"
    return (True if got == 1.0 else (False, "the solution's action does not match gt_action"))
