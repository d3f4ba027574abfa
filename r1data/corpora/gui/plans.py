"""Tasks on a generated app: a goal and the steps that reach it, each with what must follow.

A :class:`Step` names one action on one element (by ``data-el`` id) with its low-level
instruction (AndroidControl's "step instruction") and its sub-goal (what the step is for,
InfiGUI-R1's ``<step>``), and ``expect``: the app state the action must lead to, checked in the
browser after the action (a screen, a dialog, an input's value, a switch, a list's items).
Swipes are not planned: the episode runner inserts them when a target is out of view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from r1data.corpora.gui.ui import App, El


@dataclass
class Step:
    kind: str                          # click | long_press | type | open | wait | system_button
    instruction: str
    sub_goal: str
    target: str = ""                   # element id (click, long_press; type: the focused input)
    text: str = ""                     # type, open
    button: str = ""                   # system_button
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    family: str                        # e.g. "settings.toggle" (counted per build)
    goal: str
    steps: list[Step]


def pick(rng: np.random.Generator, items: list, k: int | None = None) -> Any:
    """One item (or ``k`` distinct ones, in a random order)."""
    if k is None:
        return items[int(rng.integers(len(items)))]
    return [items[i] for i in rng.choice(len(items), size=min(k, len(items)), replace=False)]


def click(el: El, instruction: str, sub_goal: str, **expect: Any) -> Step:
    return Step("click", instruction, sub_goal, target=el.id, expect=expect)


def long_press(el: El, instruction: str, sub_goal: str, **expect: Any) -> Step:
    return Step("long_press", instruction, sub_goal, target=el.id, expect=expect)


def type_text(el: El, text: str, instruction: str, sub_goal: str) -> Step:
    return Step("type", instruction, sub_goal, target=el.id, text=text, expect={"value": (el.id, text)})


def fill(field_el: El, text: str, what: str) -> list[Step]:
    """Click an input, then type into it (AndroidControl types into the focused field)."""
    return [click(field_el, f"Click on the {what} field", f"Focus the {what} field to enter {text}",
                  focused=field_el.id),
            type_text(field_el, text, f"Type {text} in the {what} field", f"Enter {text} as the {what}")]


def opening(app: App, rng: np.random.Generator) -> list[Step]:
    """The steps that open ``app`` from the launcher: ``open`` (the evaluation also takes a click
    on its icon), then ``wait`` while it loads when it shows a splash screen."""
    steps = [Step("open", f"Open the {app.name} app", f"Launch {app.name} to start the task", text=app.name,
                  expect={"screen": "splash" if app.splash_ms else app.main})]
    if app.splash_ms:
        steps.append(Step("wait", "Wait for the app to load", f"Wait until {app.name} has loaded",
                          expect={"screen": app.main}))
    return steps


def more_options(app: App) -> El:
    """A "More options" icon opening the app's menu (a dialog whose entries close it)."""
    if "menu" not in app.dialogs:
        menu = app.dialog("menu", "Options")
        menu.buttons = [app.add(El("dialog_button", label, do="close", style="flat"), menu.id)
                        for label in ("Help & feedback", "Cancel")]
    return El("icon", "More options", icon="more", dialog="menu")


def lower_half(rng: np.random.Generator, items: list) -> list:
    """The items further down a list half the time (reaching them takes swipes on small screens)."""
    return items[len(items) // 2:] if rng.random() < 0.5 else items


def phrase(rng: np.random.Generator, options: list[str], **values: Any) -> str:
    """One of several wordings of the same goal, filled in."""
    return pick(rng, options).format(**values)


# -- shared vocabulary ---------------------------------------------------------------------------

PEOPLE = ["Alice Chen", "Ben Okafor", "Carla Diaz", "David Kim", "Emma Novak", "Farid Haddad", "Grace Liu",
          "Hugo Martin", "Ines Costa", "Jonas Berg", "Keiko Sato", "Liam Walsh", "Maya Patel", "Noah Fischer",
          "Olivia Brown", "Pablo Ruiz", "Quinn Taylor", "Rosa Klein", "Sam Adeyemi", "Tara Singh"]
COLORS = ["#e57373", "#64b5f6", "#81c784", "#ffb74d", "#ba68c8", "#4db6ac", "#f06292", "#7986cb", "#a1887f"]
LAUNCHER_APPS = ["Camera", "Photos", "Maps", "Calendar", "Music", "Weather", "Notes", "Calculator", "Phone",
                 "Contacts", "Mail", "Browser", "Store", "News", "Podcasts", "Wallet", "Health", "Translate",
                 "Recorder", "Gallery"]
