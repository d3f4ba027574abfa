"""Corpus rows from what an episode recorded: step rows (low and high level, as InfiGUI-R1's
evaluation builds its jobs), error-recovery rows and ScreenSpot-style grounding rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from r1data.corpora.gui.actions import Action, centre, int_box
from r1data.corpora.gui.browser import Capture
from r1data.corpora.gui.prompts import system_prompt, user_message
from r1data.rewards.infigui import resized_frame


@dataclass
class Episode:
    """What rows of one episode share."""

    episode_id: str
    source: str
    app: str
    app_kind: str
    device: str
    theme: str
    goal: str
    width: int
    height: int
    family: str = ""

    @property
    def frame(self) -> tuple[int, int]:
        return resized_frame(self.width, self.height)


@dataclass
class Record:
    """One action taken on one screen: the screen before, the action, the screen after."""

    before: Capture
    action: Action
    instruction: str
    sub_goal: str
    history: list[str]                       # history entries of the actions before this one
    target: dict | None = None               # the element acted on (box in screenshot pixels)
    after: Capture | None = None
    recovery: str = ""                       # "" | escape | back_on_track
    step: int = 0
    extra: dict = field(default_factory=dict)


def elements_of(capture: Capture) -> list[dict]:
    """The interactive elements at least partly on screen, as stored in a row."""
    return [{"id": e["id"], "role": e["role"], "label": e["label"][:200], "box": [float(v) for v in e["box"]]}
            for e in capture.elements if e.get("visible")]


def screen_title(capture: Capture) -> str:
    """The title of what the screen shows ("Options dialog" while a dialog is open)."""
    title = str(capture.state.get("title") or capture.state.get("screen") or "")
    return f"{title} dialog" if capture.state.get("dialog") and title else title


def step_rows(ep: Episode, rec: Record, levels: list[str]) -> list[dict]:
    """One row per level (``low``: with the step instruction; ``high``: without) for a record."""
    rw, rh = ep.frame
    out = []
    for level in levels:
        instruction = rec.instruction if level == "low" else None
        tag = f"-{rec.recovery}" if rec.recovery else ""
        row = _common(ep, rec.before, rw, rh)
        row.update({
            "id": f"{ep.episode_id}-s{rec.step:02d}{tag}-{level}", "step": rec.step, "task": level,
            "recovery": rec.recovery, "goal": ep.goal, "step_instruction": instruction or "",
            "sub_goal": rec.sub_goal, "history": list(rec.history),
            "problem": user_message(ep.goal, instruction, rec.history),
            "action": json.loads(rec.action.history()), "gt_action": rec.action.ground_truth(),
            "action_type": rec.action.kind, "screen_after": rec.after.png if rec.after is not None else None,
            **_target(rec.target, rec.action), **rec.extra,
        })
        out.append(row)
    return out


def _common(ep: Episode, before: Capture, rw: int, rh: int) -> dict:
    return {"episode_id": ep.episode_id, "source": ep.source, "app": ep.app, "app_kind": ep.app_kind,
            "device": ep.device, "theme": ep.theme, "task_family": ep.family, "system": system_prompt(rw, rh),
            "image": before.png, "width": ep.width, "height": ep.height, "resized_width": rw, "resized_height": rh,
            "screen_title": screen_title(before), "elements": elements_of(before), "data_type": ""}


def _target(target: dict | None, action: Action) -> dict:
    return {"target_box": [float(v) for v in target["box"]] if target else None,
            "point": [float(v) for v in action.coordinate] if action.coordinate else None,
            "target_label": target["label"] if target else "", "target_role": target["role"] if target else ""}


def _unique(capture: Capture) -> list[dict]:
    labels = [e["label"].strip().lower() for e in capture.elements if e.get("shown")]
    return [e for e in capture.elements
            if e.get("shown") and e.get("hit") and e["role"] != "scroll" and e["label"].strip()
            and labels.count(e["label"].strip().lower()) == 1]


def instruction_for(el: dict, rng: np.random.Generator) -> str:
    """A ScreenSpot-style instruction naming one element (by text, function or kind)."""
    label, low = el["label"].strip(), el["label"].strip().lower()
    role = el["role"]
    options = {
        "back": ["go back", "the back button", "return to the previous screen"],
        "icon": [low, f"the {low} button", f"tap {low}"],
        "fab": [low, f"the {low} button"],
        "toggle_row": [f"the {label} switch", f"turn {'off' if el.get('checked') else 'on'} {label}", f"toggle {label}"],
        "check_row": [f"tick {label}", label, f"the {label} check box"],
        "radio_row": [f"select {label}", f"the {label} option"],
        "input": [f"the {low} field", f"type in the {low} box"],
        "button": [label, f"the {label} button"], "dialog_button": [label, f"the {label} button"],
        "tab": [f"the {label} tab"], "app_icon": [f"open {label}", f"the {label} app"],
    }.get(role, [label, f"open {label}"])
    return options[int(rng.integers(len(options)))]


def grounding_rows(ep: Episode, capture: Capture, k: int, count: int, rng: np.random.Generator) -> list[dict]:
    """Up to ``count`` rows pointing at elements of one screen (distinct labels, not covered)."""
    found = _unique(capture)
    if not found or count <= 0:
        return []
    picks = [found[i] for i in sorted(rng.choice(len(found), size=min(count, len(found)), replace=False))]
    return [grounding_row(ep, capture, el, instruction_for(el, rng), f"{ep.episode_id}-g{k:02d}-{j}", k)
            for j, el in enumerate(picks)]


def grounding_row(ep: Episode, capture: Capture, el: dict, instruction: str, row_id: str, k: int = 0) -> dict:
    """One grounding row: ``instruction`` names ``el``; the answer is a click at its centre."""
    rw, rh = ep.frame
    action = Action("click", centre(el["box"]), candidate_bbox=[int_box(el["box"])])
    row = _common(ep, capture, rw, rh)
    row.update({"id": row_id, "step": k, "task": "grounding", "recovery": "", "goal": instruction,
                "step_instruction": "", "sub_goal": f"Point at the element for: {instruction}", "history": [],
                "problem": user_message(instruction, None, []), "action": json.loads(action.history()),
                "gt_action": action.ground_truth(), "action_type": "click", "screen_after": None,
                "data_type": "icon" if el["role"] in ("back", "icon", "fab") else "text", **_target(el, action)})
    return row


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
