"""One GUI action in InfiGUI-R1's ``mobile_use`` space and its three written forms.

* :meth:`Action.history` -- the history entry (``step_pams`` in InfiGUI-R1's AndroidControl
  files: original pixels, absent keys left out), JSON-dumped into the next steps' prompts;
* :meth:`Action.ground_truth` -- what the evaluation checks (``step_check_pams``: ``action``,
  ``coordinate``, ``candidate_bbox``, ``text``, ``button``, ``direction``);
* :meth:`Action.arguments` -- the tool call's arguments in the model's frame (pixels of the
  image after ``smart_resize``), what a completion writes.

:func:`perform` does the action on a live page, as a user would: the mouse clicks, presses,
drags; the keyboard types; the system Back button is the app's own back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# key order of a history entry: the order the released android_control files show
HISTORY_KEYS = ("action", "button", "coordinate", "coordinate2", "text", "time")


@dataclass
class Action:
    kind: str                                   # key|click|long_press|swipe|type|system_button|open|wait|terminate
    coordinate: tuple[int, int] | None = None   # original pixels
    coordinate2: tuple[int, int] | None = None
    text: str | None = None
    button: str | None = None
    direction: str | None = None                # swipe: up / down / left / right
    time: float | None = None                   # long_press, wait: seconds
    status: str | None = None
    candidate_bbox: list[list[int]] = field(default_factory=list)

    def history(self) -> str:
        d = {"action": self.kind, "button": self.button,
             "coordinate": list(self.coordinate) if self.coordinate else None,
             "coordinate2": list(self.coordinate2) if self.coordinate2 else None,
             "text": self.text, "time": self.time}
        return json.dumps({k: d[k] for k in HISTORY_KEYS if d[k] is not None}, ensure_ascii=False)

    def ground_truth(self) -> dict:
        gt: dict[str, Any] = {"action": self.kind}
        if self.kind in ("click", "long_press"):
            gt["coordinate"] = list(self.coordinate or ())
            gt["candidate_bbox"] = [list(b) for b in self.candidate_bbox]
        elif self.kind == "open":
            gt["text"] = self.text
            gt["candidate_bbox"] = [list(b) for b in self.candidate_bbox]
        elif self.kind in ("type", "key"):
            gt["text"] = self.text
        elif self.kind == "swipe":
            gt["direction"] = self.direction
        elif self.kind == "system_button":
            gt["button"] = self.button
        elif self.kind == "terminate":
            gt["status"] = self.status
        return gt

    def arguments(self, width: int, height: int, rw: int, rh: int) -> dict:
        """The call's arguments with coordinates in the resized ``rw`` x ``rh`` frame."""
        def scale(p: tuple[int, int]) -> list[int]:
            return [min(rw - 1, max(0, round(p[0] * rw / width))), min(rh - 1, max(0, round(p[1] * rh / height)))]

        args: dict[str, Any] = {"action": self.kind}
        if self.coordinate is not None:
            args["coordinate"] = scale(self.coordinate)
        if self.coordinate2 is not None:
            args["coordinate2"] = scale(self.coordinate2)
        for key in ("text", "button", "time", "status"):
            value = getattr(self, key)
            if value is not None:
                args[key] = value
        return args

    def describe(self) -> str:
        """A short phrase of what was done (the reasoning's history)."""
        if self.kind == "type":
            return f'typed "{self.text}"'
        if self.kind == "swipe":
            return f"swiped {self.direction}"
        if self.kind == "open":
            return f"opened {self.text}"
        if self.kind == "system_button":
            return f"pressed {self.button}"
        if self.kind == "wait":
            return "waited"
        return f"{'long-pressed' if self.kind == 'long_press' else 'clicked'} at {list(self.coordinate or ())}"


def tool_call(arguments: dict) -> str:
    """``<tool_call>`` JSON ``</tool_call>`` as Qwen2.5-VL writes a function call."""
    return "<tool_call>\n" + json.dumps({"name": "mobile_use", "arguments": arguments}, ensure_ascii=False) + \
        "\n</tool_call>"


def centre(box: list[float]) -> tuple[int, int]:
    return round((box[0] + box[2]) / 2), round((box[1] + box[3]) / 2)


def int_box(box: list[float]) -> list[int]:
    """A box in whole pixels that still contains the element (floor / ceil)."""
    import math

    return [math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3])]


def swipe_between(box: list[float], direction: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Start and end of a swipe inside ``box`` moving ``direction`` over half its size (as
    InfiGUI-R1's converted AndroidControl scrolls do: a quarter to three quarters)."""
    x1, y1, x2, y2 = box
    cx, cy = round((x1 + x2) / 2), round((y1 + y2) / 2)
    lo_y, hi_y = round(y1 + 0.25 * (y2 - y1)), round(y1 + 0.75 * (y2 - y1))
    lo_x, hi_x = round(x1 + 0.25 * (x2 - x1)), round(x1 + 0.75 * (x2 - x1))
    return {"down": ((cx, lo_y), (cx, hi_y)), "up": ((cx, hi_y), (cx, lo_y)),
            "right": ((lo_x, cy), (hi_x, cy)), "left": ((hi_x, cy), (lo_x, cy))}[direction]


def perform(page: Any, action: Action, scale: float) -> None:
    """Do ``action`` on a live page (coordinates in screenshot pixels, ``scale`` per CSS pixel)."""
    def css(p: tuple[int, int]) -> tuple[float, float]:
        return p[0] / scale, p[1] / scale

    mouse = page.mouse
    if action.kind == "click":
        mouse.click(*css(action.coordinate))
    elif action.kind == "long_press":
        mouse.move(*css(action.coordinate))
        mouse.down()
        page.clock.run_for(int((action.time or 1) * 1000))
        mouse.up()
    elif action.kind == "swipe":
        mouse.move(*css(action.coordinate))
        mouse.down()
        mouse.move(*css(action.coordinate2), steps=8)
        mouse.up()
    elif action.kind == "type":
        page.keyboard.type(action.text or "")
    elif action.kind == "open":
        if not page.evaluate("name => r1app.open(name)", action.text):
            raise ValueError(f"no app called {action.text!r}")
    elif action.kind == "wait":
        page.clock.run_for(int((action.time or 2) * 1000))
    elif action.kind == "system_button":
        if action.button == "Back":
            page.evaluate("() => r1app.back()")
        elif action.button == "Home":
            page.evaluate("() => r1app.home()")
        else:
            page.keyboard.press("Enter")
    else:
        raise ValueError(f"cannot perform {action.kind!r}")
    page.clock.run_for(16)      # let the app's handlers settle (one frame)
