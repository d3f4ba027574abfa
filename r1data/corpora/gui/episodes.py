"""The embedded default of ``gui``: generated apps, run in headless Chromium, recorded as rows.

* ``gui_apps`` (source): episode ``i`` is ``{episode_id, app_kind, device}`` drawn from the
  spec's weights; nothing heavy happens in the source, so rendering runs in the workers.
* ``gui_episodes`` (step): builds the app and picks a task (from the episode's own random
  stream), renders the page, and plays the task in the browser: before each action a screenshot
  and the DOM's element boxes, then the action done with the mouse or keyboard, then a check
  that the app did what the step expects (a screen opened, the text is in the field, the switch
  moved, the item is in the list), then the next screenshot. A target out of view is brought in
  by swipes (each one a step). With probability ``recovery`` one click step is first done
  wrong (a neighbouring element), and the recovery (back, close, undo) is recorded and checked.

Rows: each step at each of ``levels`` (low: with the step instruction; high: without), the
recovery rows (``escape``: on the wrong screen, the recovering action; ``back_on_track``: back
on the right screen, with the error in the history, the right action), and ``grounding`` rows
per screen. An episode whose page does not render or whose app does not react is rejected
whole, with the reason. Everything is a pure function of the seed and the episode id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from r1data.corpora.gui import apps_everyday, apps_system
from r1data.corpora.gui.actions import Action, centre, int_box, perform, swipe_between
from r1data.corpora.gui.browser import Capture, PageError, shared_browser
from r1data.corpora.gui.plans import COLORS, LAUNCHER_APPS, Step, Task, opening, pick
from r1data.corpora.gui.rows import Episode, Record, grounding_rows, step_rows
from r1data.corpora.gui.ui import DEVICES, App, Device, El, Theme, make_theme, render_html
from r1data.errors import UsageError
from r1data.steps.base import RecordError, Reject, StepContext, source, step
from r1data.steps.synthetic import NumberedSource

KINDS = {"settings": apps_system.settings, "files": apps_system.files, "clock": apps_system.clock,
         "shopping": apps_everyday.shopping, "forms": apps_everyday.forms, "messaging": apps_everyday.messaging}
LEVELS = ("low", "high")
# elements a plausible wrong click may hit (each such click can be undone)
WRONG_ROLES = ("nav_row", "chat_row", "file_row", "toggle_row", "check_row", "icon", "fab", "tab")


class EpisodeError(RecordError):
    """The app did not behave as the task needs: the episode is rejected with this reason."""


def _weights(name: str, given: dict[str, float], known: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    bad = sorted(set(given) - set(known))
    if bad or not given or min(given.values()) < 0 or sum(given.values()) <= 0:
        raise UsageError(f"gui_apps: {name} must weight some of {', '.join(known)}, got {given!r}")
    names = list(given)
    p = np.array([given[k] for k in names], dtype=np.float64)
    return names, p / p.sum()


@source("gui_apps")
class GuiApps(NumberedSource):
    """Numbered episodes: which kind of app (``apps`` weights settings, files, clock, shopping,
    forms, messaging) on which device (``devices`` weights phone, tablet, desktop)."""

    def __init__(self, ctx: StepContext, *, apps: dict[str, float] | None = None,
                 devices: dict[str, float] | None = None, count: int | None = None):
        self.ctx = ctx
        self.apps = _weights("apps", apps or {k: 1.0 for k in KINDS}, tuple(KINDS))
        self.devices = _weights("devices", devices or {"phone": 0.6, "tablet": 0.2, "desktop": 0.2}, tuple(DEVICES))
        self.count = count

    def item(self, i: int) -> dict:
        rng = self.ctx.rng("episode", i)
        kind = self.apps[0][int(rng.choice(len(self.apps[0]), p=self.apps[1]))]
        device = self.devices[0][int(rng.choice(len(self.devices[0]), p=self.devices[1]))]
        return {"episode_id": f"gui{i:07d}", "app_kind": kind, "device": device, "source": "procedural"}


@dataclass
class Plan:
    """One episode before it runs: the app, the task, the page and what to draw at random."""

    app: App
    task: Task
    steps: list[Step]
    device: Device
    theme: Theme
    html: str
    launcher: bool
    rng: np.random.Generator
    recovery_at: int | None


@step("gui_episodes", expands=True)
class GuiEpisodes:
    """Play each numbered episode in headless Chromium and turn it into rows (module docstring).

    ``levels``: which of low / high each step gives; ``grounding``: grounding rows per screen;
    ``recovery``: the chance an episode records an error and its recovery; ``launcher``: the
    chance a phone or tablet episode starts on the home screen (``open``, then ``wait`` while a
    splash screen shows); ``max_swipes``: swipes allowed to bring one target into view;
    ``chromium``: the browser binary (default ``/usr/bin/chromium`` or ``$R1DATA_CHROMIUM``)."""

    def __init__(self, ctx: StepContext, *, levels: list[str] = list(LEVELS), grounding: int = 1,  # noqa: B006
                 recovery: float = 0.5, launcher: float = 0.5, max_swipes: int = 6, chromium: str | None = None,
                 timeout_s: float = 20.0):
        if not levels or set(levels) - set(LEVELS):
            raise UsageError(f"gui_episodes: levels must be among {', '.join(LEVELS)}, got {levels}")
        if not (0 <= recovery <= 1 and 0 <= launcher <= 1) or grounding < 0 or max_swipes < 0:
            raise UsageError("gui_episodes: recovery and launcher are chances in [0, 1]; grounding and max_swipes >= 0")
        self.ctx = ctx
        self.levels, self.grounding, self.recovery, self.launcher = list(levels), grounding, recovery, launcher
        self.max_swipes = max_swipes
        self.chromium, self.timeout_s = chromium, timeout_s

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        browser = None
        for item in rows:
            if "image" in item:                     # a row of a real source: nothing to play
                yield item
                continue
            if browser is None:
                browser = shared_browser(self.chromium, self.timeout_s)
            try:
                out = browser.run(self.execute, self.plan(item), item, browser)
            except RecordError as e:
                self.ctx.stats.count(f"episodes_rejected.{e.reason}")
                yield Reject({k: v for k, v in item.items()}, e.reason, e.detail)
                continue
            self.ctx.stats.count("episodes")
            self.ctx.stats.count("screens", len({id(r["image"]) for r in out}))
            yield from out

    def plan(self, item: dict) -> Plan:
        rng = self.ctx.rng(item["episode_id"])
        app, tasks = KINDS[item["app_kind"]](rng)
        task = pick(rng, tasks)
        device = DEVICES[item["device"]]
        theme = make_theme(rng)
        icons = None
        if device.name != "desktop" and rng.random() < self.launcher:
            names = pick(rng, [n for n in LAUNCHER_APPS if n != app.name], int(rng.integers(7, 15))) + [app.name]
            order = rng.permutation(len(names))
            icons = [app.add(El("app_icon", names[j], open=names[j], color=app.color if names[j] == app.name
                                else pick(rng, COLORS)), "home") for j in order]
        steps = (opening(app, rng) if icons else []) + task.steps
        clicks = [i for i, s in enumerate(steps) if s.kind == "click"]
        recovery_at = pick(rng, clicks) if clicks and rng.random() < self.recovery else None
        html = render_html(app, device, theme, start="home" if icons else app.main, launcher=icons,
                           clock=f"{int(rng.integers(6, 23))}:{int(rng.integers(0, 60)):02d}",
                           battery=int(rng.integers(15, 100)))
        return Plan(app, task, steps, device, theme, html, bool(icons), rng, recovery_at)

    def execute(self, plan: Plan, item: dict, browser) -> list[dict]:  # type: ignore[no-untyped-def]
        """Play ``plan`` in ``browser``; the rows, or :class:`EpisodeError` / ``PageError``."""
        device, app = plan.device, plan.app
        page = browser.load(device, plan.html)
        w, h = device.size
        ep = Episode(item["episode_id"], "procedural", app.name, app.kind, device.name, plan.theme.name,
                     plan.task.goal, w, h, plan.task.family)
        run = _Run(self, plan, browser, page)
        for i, st in enumerate(plan.steps):
            if st.kind in ("click", "long_press", "type"):
                run.reveal(st)
            if i == plan.recovery_at:
                run.recover(st)
            run.do(st)
        rows: list[dict] = []
        for rec in run.records:
            rows.extend(step_rows(ep, rec, self.levels))
        for k, capture in run.screens:
            rows.extend(grounding_rows(ep, capture, k, self.grounding, plan.rng))
        return rows


class _Run:
    """The state of one episode while it plays."""

    def __init__(self, owner: GuiEpisodes, plan: Plan, browser, page):  # type: ignore[no-untyped-def]
        self.owner, self.plan, self.browser, self.page = owner, plan, browser, page
        self.screen = browser.capture(plan.device, page)
        self.history: list[str] = []
        self.records: list[Record] = []
        self.screens: list[tuple[int, Capture]] = []
        self.pending: tuple[Capture, list[str]] | None = None   # back-on-track: (screen, history)

    def act(self, action: Action) -> Capture:
        try:
            perform(self.page, action, self.plan.device.scale)
        except Exception as e:
            raise EpisodeError("action_failed", f"{action.kind}: {str(e).splitlines()[0][:200]}") from None
        if self.browser.errors:             # the app's script threw while handling the action
            raise EpisodeError("app_error", f"{action.kind}: {self.browser.errors[0]}")
        return self.browser.capture(self.plan.device, self.page)

    def target(self, st: Step, screen: Capture) -> dict:
        el = screen.element(st.target)
        if el is None:
            raise EpisodeError("missing_element", f"{st.instruction}: element {st.target} is not on the screen")
        x1, y1, x2, y2 = el["box"]
        if x2 - x1 < 1 or y2 - y1 < 1:
            raise EpisodeError("empty_box", f"{st.instruction}: element {st.target} ({el['label']!r}) has an empty box")
        return el

    def action_for(self, st: Step, screen: Capture) -> tuple[Action, dict | None]:
        if st.kind in ("click", "long_press"):
            el = self.target(st, screen)
            if not el["hit"]:
                raise EpisodeError("target_covered", f"{st.instruction}: {el['label']!r} is covered at its centre")
            return Action(st.kind, centre(el["box"]), candidate_bbox=[int_box(el["box"])],
                          time=1 if st.kind == "long_press" else None), el
        if st.kind == "type":
            el = self.target(st, screen)
            if not el.get("focused"):
                raise EpisodeError("not_focused", f"{st.instruction}: the field {el['label']!r} has no focus")
            return Action("type", text=st.text), el
        if st.kind == "open":
            icon = next((e for e in screen.elements if e["role"] == "app_icon" and e["label"] == st.text), None)
            boxes = [int_box(icon["box"])] if icon else []
            return Action("open", text=st.text, candidate_bbox=boxes), icon
        if st.kind == "wait":
            return Action("wait", time=2), None
        return Action("system_button", button=st.button or "Back"), None

    def record(self, before: Capture, action: Action, instruction: str, sub_goal: str, target: dict | None,
               after: Capture, recovery: str = "", history: list[str] | None = None, **extra: str) -> None:
        self.records.append(Record(before, action, instruction, sub_goal,
                                   list(self.history if history is None else history), target, after, recovery,
                                   len(self.screens), extra))

    def advance(self, before: Capture, action: Action, after: Capture) -> None:
        self.screens.append((len(self.screens), before))
        self.history.append(action.history())
        self.screen = after

    def reveal(self, st: Step) -> None:
        """Swipe until ``st``'s target is wholly in view (each swipe a recorded step)."""
        for _ in range(self.owner.max_swipes + 1):
            el = self.target(st, self.screen)
            if el["shown"]:
                return
            scroller = next((e for e in self.screen.elements if e["role"] == "scroll"), None)
            if scroller is None:
                break
            direction = "down" if el["box"][3] > scroller["box"][3] else "up"
            start, end = swipe_between(scroller["box"], direction)
            action = Action("swipe", start, end, direction=direction)
            after = self.act(action)
            if after.state["scroll"] == self.screen.state["scroll"]:
                raise EpisodeError("no_effect", f"swipe {direction} to reach {el['label']!r} did not scroll")
            self.record(self.screen, action, f"Scroll {direction} to find {el['label']}",
                        f"Scroll {direction} to bring {el['label']} into view", scroller, after)
            self.advance(self.screen, action, after)
        raise EpisodeError("target_out_of_reach", f"{st.instruction}: still out of view after {self.owner.max_swipes} swipes")

    def recover(self, st: Step) -> None:
        """Click a plausible wrong element, record how to recover, check the app is back."""
        rng, before = self.plan.rng, self.screen
        options = [e for e in before.elements if e["role"] in WRONG_ROLES and e["shown"] and e["hit"]
                   and e["id"] != st.target and _undoable(self.plan.app.elements.get(e["id"]))]
        if not options:
            return
        wrong_el = pick(rng, options)
        wrong = Action("click", centre(wrong_el["box"]), candidate_bbox=[int_box(wrong_el["box"])])
        error = self.act(wrong)
        s0, s1 = before.state, error.state
        if s1["dialog"] != s0["dialog"]:
            closers = [e for e in error.elements if e["role"] == "dialog_button"
                       and getattr(self.plan.app.elements.get(e["id"]), "do", "") == "close"]
            close = next((e for e in closers if e["label"] == "Cancel"), closers[0] if closers else None)
            if close is None:
                raise EpisodeError("recovery_failed", f"no way to close dialog {s1['dialog']}")
            fix, target, kind = Action("click", centre(close["box"]), candidate_bbox=[int_box(close["box"])]), close, "close"
            words = (f"Click on {close['label']}", f"Close the {s1['title']} dialog that opened by mistake")
        elif s1["screen"] != s0["screen"]:
            fix, target, kind = Action("system_button", button="Back"), None, "back"
            words = ("Go back", f"Go back: {s1['title']} is not where the task continues")
        elif s1["checks"] != s0["checks"]:
            again = error.element(wrong_el["id"])
            fix, target, kind = Action("click", centre(again["box"]), candidate_bbox=[int_box(again["box"])]), again, "undo"
            state = "on" if s0["checks"].get(wrong_el["id"]) else "off"
            words = (f"Turn {wrong_el['label']} back {state}", f"Undo the change to {wrong_el['label']}")
        else:
            return                                     # the click changed nothing: no error to recover
        back = self.act(fix)
        for key in ("screen", "dialog", "checks", "values", "lists"):
            if back.state[key] != s0[key]:
                raise EpisodeError("recovery_failed", f"after {kind} the app's {key} is not what it was")
        erred = self.history + [wrong.history()]
        self.record(error, fix, words[0], words[1], target, back, "escape", erred,
                    error_action=wrong.history(), recovery_kind=kind)
        self.pending = (back, erred + [fix.history()])
        self.screen = back

    def do(self, st: Step) -> None:
        before = self.screen
        action, target = self.action_for(st, before)
        after = self.act(action)
        problem = _unmet(st.expect, after.state)
        if problem:
            raise EpisodeError("no_effect", f"{st.instruction}: {problem}")
        if self.pending is not None:
            screen, history = self.pending
            self.record(screen, action, st.instruction, st.sub_goal, target, after, "back_on_track", history)
            self.pending = None
        self.record(before, action, st.instruction, st.sub_goal, target, after)
        self.advance(before, action, after)


def _undoable(el: El | None) -> bool:
    if el is None:
        return False
    return bool(el.nav or el.dialog or el.role in ("toggle_row", "check_row")) and el.do == "" and not el.open


def _unmet(expect: dict, state: dict) -> str:
    """What of ``expect`` the app's ``state`` does not show ('' when all of it)."""
    for key, want in expect.items():
        if key == "screen" and state["screen"] != want:
            return f"expected screen {want}, the app shows {state['screen']}"
        if key == "dialog" and state["dialog"] != want:
            return f"expected dialog {want}, the app shows {state['dialog']}"
        if key == "value" and state["values"].get(want[0]) != want[1]:
            return f"expected {want[1]!r} in the field, it holds {state['values'].get(want[0])!r}"
        if key == "checked" and state["checks"].get(want[0]) != want[1]:
            return f"expected the switch {'on' if want[1] else 'off'}"
        if key == "list_has" and want[1] not in state["lists"].get(want[0], []):
            return f"expected {want[1]!r} in the list"
        if key == "list_lacks" and want[1] in state["lists"].get(want[0], []):
            return f"expected {want[1]!r} gone from the list"
        if key == "focused" and state["focused"] != want:
            return "expected the field to have the focus"
    return ""


__all__ = ["GuiApps", "GuiEpisodes", "EpisodeError", "KINDS", "PageError"]
