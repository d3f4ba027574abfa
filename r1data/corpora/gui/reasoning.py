"""The reference completion of a GUI row: spatial reasoning, the sub-goal, the tool call.

``gui_reasoning`` (programmatic annotator) writes, from the DOM the row was recorded with, what
InfiGUI-R1's stage-1 trajectories carry: what is on the screen, where the target is (region,
neighbours, its centre in the model's frame), what was done so far, the sub-goal in
``<step>``, then the call -- ``<think>...<step>..</step>...</think><tool_call>{...}</tool_call>``
with the coordinates in the resized frame. Every claim comes from the row's elements and action,
so the reasoning is true of the screen.

With ``--annotator PROFILE`` a VLM writes the reasoning instead (``gui_reasoning.jinja`` sends
the screenshot, the task and the right action); ``parse_gui_reply`` keeps its ``<think>`` (which
must state a ``<step>``) and appends the row's own call, so the action stays the ground truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from r1data.corpora.gui.actions import Action, tool_call
from r1data.parsing import tag_content
from r1data.steps.annotate import programmatic_annotator
from r1data.steps.base import Reject, StepContext, step

ROLE_WORDS = {"back": "back arrow", "icon": "icon button", "nav_row": "list entry", "item_row": "list entry",
              "chat_row": "conversation", "file_row": "file entry", "toggle_row": "switch row", "check_row": "check box row",
              "radio_row": "option", "input": "text field", "button": "button", "dialog_button": "dialog button",
              "fab": "floating button", "tab": "tab", "app_icon": "app icon", "scroll": "scrollable list"}


def row_action(row: dict) -> Action:
    """The row's action (its history form, original pixels) as an :class:`Action`."""
    a = row["action"] if isinstance(row["action"], dict) else json.loads(row["action"])
    gt = row["gt_action"] if isinstance(row["gt_action"], dict) else json.loads(row["gt_action"])
    return Action(a["action"], tuple(a["coordinate"]) if a.get("coordinate") else None,
                  tuple(a["coordinate2"]) if a.get("coordinate2") else None, a.get("text"), a.get("button"),
                  gt.get("direction"), a.get("time"), a.get("status"))


def call_of(row: dict) -> str:
    """The row's action as a ``<tool_call>`` in the resized frame."""
    return tool_call(row_action(row).arguments(row["width"], row["height"], row["resized_width"], row["resized_height"]))


def _region(box: list[float], w: int, h: int) -> str:
    cx, cy = (box[0] + box[2]) / 2 / w, (box[1] + box[3]) / 2 / h
    vertical = "top" if cy < 1 / 3 else ("bottom" if cy > 2 / 3 else "middle")
    horizontal = "left" if cx < 1 / 3 else ("right" if cx > 2 / 3 else "centre")
    if horizontal != "centre":
        return f"in the {vertical} {horizontal}"
    return "in the centre" if vertical == "middle" else f"at the {vertical}"


def _neighbour(row: dict, box: list[float]) -> str:
    """Where the target sits relative to the nearest labelled element above or below it."""
    above = [e for e in row.get("elements") or [] if e["box"][3] <= box[1] + 1 and e["role"] != "scroll"
             and e["label"] and e["box"][0] < box[2] and e["box"][2] > box[0]]
    below = [e for e in row.get("elements") or [] if e["box"][1] >= box[3] - 1 and e["role"] != "scroll"
             and e["label"] and e["box"][0] < box[2] and e["box"][2] > box[0]]
    if above:
        near = max(above, key=lambda e: e["box"][3])
        return f", just below \"{near['label']}\""
    if below:
        near = min(below, key=lambda e: e["box"][1])
        return f", just above \"{near['label']}\""
    return ""


def _frame_point(row: dict, point: Any) -> list[int]:
    return [round(point[0] * row["resized_width"] / row["width"]), round(point[1] * row["resized_height"] / row["height"])]


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _last_action(row: dict, last: dict) -> str:
    """The previous action in words, a point in the model's frame."""
    kind = last.get("action")
    if kind in ("click", "long_press") and last.get("coordinate"):
        x, y = _frame_point(row, last["coordinate"])
        return f"{'a click' if kind == 'click' else 'a long press'} at ({x}, {y})"
    if kind == "type":
        return f"typing \"{last.get('text', '')}\""
    if kind == "swipe" and last.get("coordinate") and last.get("coordinate2"):
        dy = last["coordinate2"][1] - last["coordinate"][1]
        dx = last["coordinate2"][0] - last["coordinate"][0]
        return f"a swipe {('down' if dy > 0 else 'up') if abs(dy) >= abs(dx) else ('right' if dx > 0 else 'left')}"
    if kind == "open":
        return f"opening {last.get('text', 'the app')}"
    if kind == "system_button":
        return f"pressing {last.get('button', 'Back')}"
    return str(kind or "an action")


def reasoning_text(row: dict) -> str:
    """The ``<think>`` body for a row (see the module docstring)."""
    action = row_action(row)
    w, h = row["width"], row["height"]
    labels = [e["label"] for e in row.get("elements") or [] if e["label"] and e["role"] not in ("scroll", "back")][:5]
    title = row.get("screen_title") or ""
    app = row.get("app") or "the app"
    if title == "Home screen":
        where = "the home screen"
    elif title.endswith(" dialog"):
        where = f"the \"{title[:-7]}\" dialog of {app}"
    else:
        where = f"the \"{title}\" screen of {app}" if title else "the app's screen"
    parts = [f"The screen shows {where}" + (f", with {', '.join(repr(x) for x in labels)}." if labels else ".")]
    if row.get("task") == "grounding":
        parts.append(f"I am asked to find {row['goal']}.")
    else:
        parts.append(f"The task is: {row['goal'].rstrip('.')}.")
        history = row.get("history") or []
        if history:
            parts.append(f"So far {len(history)} action{'s were' if len(history) > 1 else ' was'} taken; the last was "
                         f"{_last_action(row, json.loads(history[-1]))}.")
        if row.get("recovery") == "escape":
            parts.append("That last action led here, which does not move the task forward, so I should undo it first.")
        if row.get("step_instruction"):
            parts.append(f"The current step is to {row['step_instruction'][0].lower() + row['step_instruction'][1:]}.")
    box, label = row.get("target_box"), row.get("target_label") or ""
    role = ROLE_WORDS.get(row.get("target_role") or "", "element")
    if action.kind == "swipe":
        side = "below" if action.direction == "down" else "above"
        parts.append(f"What I need is not in view yet; the list goes on {side}, so I swipe {action.direction} inside it.")
    elif action.kind in ("click", "long_press") and box:
        x, y = _frame_point(row, [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        parts.append(f"\"{label}\" is {_a(role)} {_region(box, w, h)} of the screen{_neighbour(row, box)}, "
                     f"centred near ({x}, {y}) in this {row['resized_width']}x{row['resized_height']} image.")
    elif action.kind == "type" and box:
        parts.append(f"The {role} \"{label}\" has the focus, so typing goes into it.")
    elif action.kind == "open":
        parts.append(f"The {action.text} app can be opened directly instead of looking for its icon.")
    elif action.kind == "wait":
        parts.append("The app is still loading, so nothing can be done until it has finished.")
    elif action.kind == "system_button":
        parts.append(f"The {action.button} button does that.")
    parts.append(f"<step>{row['sub_goal']}</step>")
    verb = {"click": f"click on \"{label}\"", "long_press": f"long-press \"{label}\"", "type": f"type \"{action.text}\"",
            "swipe": f"swipe {action.direction}", "open": f"open {action.text}", "wait": "wait",
            "system_button": f"press {action.button}"}.get(action.kind, action.kind)
    parts.append(f"So I will {verb}.")
    return " ".join(parts)


@programmatic_annotator("gui_reasoning")
def gui_reasoning(row: dict, ctx: StepContext) -> dict:
    """The reference completion from the row's DOM elements and action (module docstring)."""
    return {"solution": f"<think>{reasoning_text(row)}</think>\n{call_of(row)}"}


def read_reply(reply: Any) -> str:
    """The ``<think>`` of a VLM's reply, which must state a ``<step>``; ``ValueError`` otherwise."""
    if not isinstance(reply, str) or not reply.strip():
        raise ValueError("the reply is empty")
    think = tag_content(reply, "think")
    if not think:
        raise ValueError(f"no <think>...</think> in the reply: {reply[:120]!r}")
    if not tag_content(think, "step"):
        raise ValueError(f"no <step>...</step> sub-goal inside <think>: {think[:120]!r}")
    return think


@step("parse_gui_reply")
def parse_gui_reply(rows: Iterable[dict], ctx: StepContext, *, field: str = "reasoning_reply") -> Iterator[dict | Reject]:
    """``solution`` = the model's ``<think>`` (from ``field``) + the row's own call; rows without
    a reply pass through; an unreadable reply is rejected as ``unparsable_reply``."""
    for row in rows:
        reply = row.get(field)
        if reply is None:
            yield row
            continue
        try:
            think = read_reply(reply)
        except ValueError as e:
            yield Reject(row, "unparsable_reply", f"{row.get('id')}: {e}")
            continue
        ctx.stats.count("vlm_replies_read")
        row["solution"] = f"<think>{think}</think>\n{call_of(row)}"
        yield row
