"""The model of a generated app and its page: elements, screens, dialogs, devices, themes.

An :class:`App` is data: screens of elements (rows, toggles, inputs, buttons...), dialogs and
the templates of items the user can add. :func:`render_html` turns it into one page
(``web/app.html.jinja`` + ``web/style.css`` + ``web/runtime.js``) where every interactive
element carries ``data-el`` (its id), ``data-role`` and ``data-label``, and does what its
attributes say (``web/runtime.js``): the page is the app, not a picture of one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

WEB = Path(__file__).with_name("web")

# interactive roles (each gets a data-el id) and the static ones (text on the page)
INTERACTIVE = ("back", "icon", "nav_row", "item_row", "chat_row", "file_row", "toggle_row", "check_row",
               "radio_row", "input", "button", "dialog_button", "fab", "tab", "app_icon", "scroll")
STATIC = ("section", "bubble", "note", "big", "kv", "error", "field")

# Material-style 24x24 icon paths (drawn for this project)
ICONS = {
    "back": "M20 11H7.8l5.6-5.6L12 4l-8 8 8 8 1.4-1.4L7.8 13H20z",
    "search": "M15.5 14h-.8l-.3-.3A6.5 6.5 0 1 0 9.5 16a6.5 6.5 0 0 0 4.2-1.6l.3.3v.8l5 5 1.5-1.5zm-6 0a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9z",
    "more": "M12 8a2 2 0 1 0 0-4 2 2 0 0 0 0 4zm0 2a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm0 6a2 2 0 1 0 0 4 2 2 0 0 0 0-4z",
    "add": "M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6z",
    "send": "M2 21l21-9L2 3v7l15 2-15 2z",
    "delete": "M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6zM19 4h-3.5l-1-1h-5l-1 1H5v2h14z",
    "folder": "M10 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2h-8z",
    "file": "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zm-1 7V3.5L18.5 9z",
    "share": "M18 16a3 3 0 0 0-2 .8L8.9 12.7a3 3 0 0 0 0-1.4L16 7.2A3 3 0 1 0 15 5l-7 4.1a3 3 0 1 0 0 5.8l7.1 4.2A3 3 0 1 0 18 16z",
    "gear": "M19.4 13a7.5 7.5 0 0 0 0-2l2.1-1.6-2-3.5-2.5 1a7 7 0 0 0-1.7-1L15 3h-4l-.4 2.7a7 7 0 0 0-1.7 1l-2.5-1-2 3.5L6.6 11a7.5 7.5 0 0 0 0 2l-2.1 1.6 2 3.5 2.5-1a7 7 0 0 0 1.7 1L11 21h4l.4-2.7a7 7 0 0 0 1.7-1l2.5 1 2-3.5zM13 15.5a3.5 3.5 0 1 1 0-7 3.5 3.5 0 0 1 0 7z",
    "close": "M19 6.4L17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z",
    "alarm": "M12 4a9 9 0 1 0 0 18 9 9 0 0 0 0-18zm1 9.4l3 1.8-.8 1.3L11 14V8h2zM7.9 2.7L3 6.8l1.3 1.5 4.9-4.1zM22 6.8l-4.9-4.1-1.3 1.5 4.9 4.1z",
}


@dataclass
class El:
    """One thing on a screen. Interactive roles get an ``id`` (``data-el``) from :meth:`App.add`."""

    role: str
    label: str = ""
    id: str = ""
    sub: str = ""
    meta: str = ""
    icon: str = ""
    color: str = ""
    nav: str = ""            # the screen a click opens
    dialog: str = ""         # the dialog a click opens
    longpress: str = ""      # the dialog a long press opens
    checked: bool | None = None
    radio: str = ""
    do: str = ""             # add | save | submit | delete | close
    input: str = ""          # html id of the input read by add / save
    extra: str = ""          # html id of a second input (save: the item's subtitle)
    list: str = ""           # html id of the list added to
    form: str = ""           # html id of the form a submit checks
    required: bool = False
    open: str = ""           # launcher icons: the app they open
    enter: str = ""          # inputs: the element whose action Enter triggers
    html_id: str = ""
    style: str = ""
    child: "El | None" = None
    screen: str = ""         # the screen (or dialog) the element is on

    @property
    def is_icon(self) -> bool:
        """ScreenSpot's data_type: an icon (no visible text) or text."""
        return self.role in ("back", "icon", "fab")


@dataclass
class Screen:
    id: str
    title: str
    kind: str = "list"                      # list | form | chat | detail | done
    back: El | None = None
    actions: list[El] = field(default_factory=list)
    body: list[El] = field(default_factory=list)
    after: list[El] = field(default_factory=list)     # below the list, inside the scroller
    composer: list[El] = field(default_factory=list)
    tabs: list[El] = field(default_factory=list)
    fab: El | None = None
    list_id: str = ""
    scroll: El = field(default_factory=lambda: El("scroll"))


@dataclass
class Dialog:
    id: str
    title: str
    text: str = ""
    context: bool = False                   # the text ends with the label of the item pressed
    inputs: list[El] = field(default_factory=list)
    buttons: list[El] = field(default_factory=list)


@dataclass
class App:
    kind: str
    name: str
    color: str
    screens: dict[str, Screen] = field(default_factory=dict)
    dialogs: dict[str, Dialog] = field(default_factory=dict)
    templates: dict[str, El] = field(default_factory=dict)
    main: str = ""
    splash_ms: int = 0
    elements: dict[str, El] = field(default_factory=dict)

    def add(self, el: El, where: str) -> El:
        """Give an interactive element its id and remember it (``where``: its screen or dialog)."""
        if el.role in INTERACTIVE:
            el.id = f"e{len(self.elements) + 1}"
            el.screen = where
            self.elements[el.id] = el
            if el.role in ("input", "scroll") and not el.html_id:
                el.html_id = f"h{el.id}"
        if el.child is not None:
            self.add(el.child, where)
        return el

    def screen(self, sid: str, title: str, kind: str = "list", back: bool = True) -> Screen:
        s = Screen(sid, title, kind)
        if back:
            s.back = self.add(El("back", "Back", icon="back"), sid)
        s.scroll = self.add(El("scroll", title), sid)
        self.screens[sid] = s
        return s

    def put(self, screen: Screen, part: str, *els: El) -> list[El]:
        """Append elements to ``screen.body`` / ``after`` / ``actions`` / ``composer`` / ``tabs``."""
        getattr(screen, part).extend(self.add(e, screen.id) for e in els)
        return list(els)

    def dialog(self, did: str, title: str, text: str = "", context: bool = False) -> Dialog:
        d = Dialog(did, title, text, context)
        self.dialogs[did] = d
        return d


@dataclass(frozen=True)
class Device:
    name: str
    width: int           # CSS pixels
    height: int
    scale: float         # device pixels per CSS pixel

    @property
    def size(self) -> tuple[int, int]:
        """Screenshot size in pixels."""
        return round(self.width * self.scale), round(self.height * self.scale)


DEVICES = {"phone": Device("phone", 360, 780, 2.0), "tablet": Device("tablet", 600, 960, 1.5),
           "desktop": Device("desktop", 1280, 800, 1.0)}

ACCENTS = ["#1a73e8", "#0b8043", "#d93025", "#8e24aa", "#e37400", "#00838f", "#3949ab", "#c2185b", "#5d4037"]
FONTS = ["'DejaVu Sans', sans-serif", "'Liberation Sans', sans-serif", "'DejaVu Sans Condensed', sans-serif",
         "'Liberation Serif', serif"]


@dataclass(frozen=True)
class Theme:
    name: str
    vars: dict
    cards: bool
    center_title: bool


def make_theme(rng: np.random.Generator) -> Theme:
    """A light or dark theme with an accent colour, a font, a size, a density and corner radius."""
    dark = bool(rng.random() < 0.35)
    accent = ACCENTS[int(rng.integers(len(ACCENTS)))]
    dense = bool(rng.random() < 0.4)
    fs = int(rng.integers(14, 18))
    v = {
        "bg": "#121212" if dark else ("#ffffff" if rng.random() < 0.6 else "#f3f4f6"),
        "card": "#1e1e1e" if dark else "#ffffff",
        "fg": "#e8eaed" if dark else "#202124",
        "muted": "#9aa0a6" if dark else "#5f6368",
        "line": "#333" if dark else "#e3e3e3",
        "bar": "#1b1b1b" if dark else "#f8f9fa",
        "off": "#5f6368" if dark else "#bdc1c6",
        "accent": accent, "on-accent": "#ffffff", "font": FONTS[int(rng.integers(len(FONTS)))], "fs": f"{fs}px",
        "radius": f"{int(rng.choice([4, 8, 12, 16]))}px", "gap": "12px",
        "row-h": "48px" if dense else "60px", "input-h": "40px" if dense else "46px", "bar-h": "52px" if dense else "58px",
    }
    colored = bool(rng.random() < 0.4) and not dark
    v["head"], v["head-fg"] = (accent, "#ffffff") if colored else (v["bar"], v["fg"])
    return Theme(f"{'dark' if dark else 'light'}-{accent[1:]}", v, bool(rng.random() < 0.3), bool(rng.random() < 0.3))


@functools.lru_cache(maxsize=1)
def _assets() -> tuple[Any, str, str]:
    import jinja2

    env = jinja2.Environment(autoescape=True, trim_blocks=False, undefined=jinja2.StrictUndefined)
    template = env.from_string((WEB / "app.html.jinja").read_text(encoding="utf-8"))
    return template, (WEB / "style.css").read_text(encoding="utf-8"), (WEB / "runtime.js").read_text(encoding="utf-8")


def render_html(app: App, device: Device, theme: Theme, *, start: str, launcher: list[El] | None = None,
                clock: str = "9:41", battery: int = 87) -> str:
    """The app as one HTML page showing ``start`` (a screen id, or ``home`` for the launcher)."""
    template, css, runtime = _assets()
    config = {"app": app.name, "main": app.main, "start": start, "splash": app.splash_ms if launcher else 0}
    cols = 4 if device.name == "phone" else (6 if device.name == "tablet" else 8)
    return template.render(app=app, device=device, theme=theme, launcher=launcher or [], launcher_cols=cols,
                           clock=clock, battery=battery, icons=ICONS, css=css, runtime=runtime, config=config)
