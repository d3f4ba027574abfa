"""The object catalog: categories, their colors, sizes, and how their parts are drawn.

Each builder gets the base point ``(cx, by)`` (the middle of the object's contact with its
surface), its width and height in pixels and its color, and returns its parts front to
back. Functional parts carry the names the pointing tasks use: ``handle``, ``lid``,
``knob``, ``cap``, ``spout``, ``blade``, ``screen``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from r1data.corpora.tabletop.scene import Part
from r1data.corpora.tabletop.shapes import (band, cylinder, ellipse, lying_ellipse, lying_rect, parallelogram,
                                            rect, top_ellipse)

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (200, 42, 40), "orange": (236, 128, 32), "yellow": (236, 200, 44), "green": (58, 148, 70),
    "blue": (44, 92, 204), "purple": (128, 70, 172), "pink": (236, 132, 172), "brown": (128, 84, 48),
    "black": (40, 40, 44), "white": (236, 236, 232), "gray": (140, 142, 148),
}
BRIGHT = ("red", "orange", "yellow", "green", "blue", "purple", "pink")
KITCHEN = ("red", "blue", "green", "yellow", "white", "black", "orange", "purple", "pink", "gray")

Builder = Callable[[float, float, float, float, str, np.random.Generator], list[Part]]


@dataclass(frozen=True)
class Kind:
    category: str
    colors: tuple[str, ...]
    size: tuple[float, float]          # width, height in pixels at scale 1
    build: Builder
    graspable: bool = True
    support: bool = False              # small objects may rest on it
    places: tuple[str, ...] = ("table", "counter", "shelf")
    weight: float = 1.0
    small: bool = False                # may rest on a support (a plate, a board)


def _side(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.5 else -1


def mug(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    e = w * 0.18
    side = _side(rng)
    hx = cx + side * (w / 2 - 1)
    a0, a1 = (-math.pi / 2, math.pi / 2) if side > 0 else (math.pi / 2, 3 * math.pi / 2)
    return [Part("body", cylinder(cx, by, w, h, e), color),
            Part("body", top_ellipse(cx, by, w, h, e), color, "inner"),
            Part("handle", band(hx, by - h * 0.52, w * 0.3, h * 0.28, max(w * 0.1, 3), a0, a1), color)]


def cup(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    e = w * 0.18
    return [Part("body", cylinder(cx, by, w * 0.8, h, e, top_w=w), color),
            Part("body", top_ellipse(cx, by, w, h, e), color, "inner")]


def bowl(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    e = h * 0.32
    rim_y = by - h + e
    body = np.concatenate([ellipse(cx, rim_y, w / 2, h - e, 0, math.pi, 24),
                           ellipse(cx, rim_y, w / 2, e, math.pi, 2 * math.pi, 18)])
    return [Part("body", body, color), Part("body", ellipse(cx, rim_y, w / 2 * 0.9, e * 0.8), color, "inner")]


def plate(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    cy = by - h / 2
    return [Part("body", ellipse(cx, cy, w / 2, h / 2, n=40), color, "flat"),
            Part("body", ellipse(cx, cy - h * 0.04, w / 2 * 0.68, h / 2 * 0.62, n=32), color, "light")]


def bottle(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    e = w * 0.18
    body_h = h * 0.64
    top = by - body_h + e
    neck_w = w * 0.42
    shoulder = np.array([[cx - w / 2, top], [cx + w / 2, top], [cx + neck_w / 2, top - h * 0.14],
                         [cx - neck_w / 2, top - h * 0.14]])
    neck_top = top - h * 0.24
    cap = str(rng.choice([c for c in ("white", "black", "red", "blue", "yellow") if c != color]))
    return [Part("body", cylinder(cx, by, w, body_h, e), color),
            Part("body", shoulder, color),
            Part("body", rect(cx - neck_w / 2, neck_top, cx + neck_w / 2, top - h * 0.13), color),
            Part("cap", cylinder(cx, neck_top + 1, neck_w * 1.15, h * 0.12, e * 0.35), cap)]


def jar(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    e = w * 0.18
    body_h = h * 0.78
    lid = str(rng.choice([c for c in ("white", "gray", "black", "red", "yellow", "blue") if c != color]))
    return [Part("body", cylinder(cx, by, w, body_h, e), color),
            Part("lid", cylinder(cx, by - body_h + 2 * e, w * 1.06, h * 0.22 + 2 * e, e), lid),
            Part("lid", top_ellipse(cx, by - body_h + 2 * e, w * 1.06, h * 0.22 + 2 * e, e, 0.98), lid, "light")]


def pot(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    e = w * 0.14
    body_h = h * 0.72
    rim_y = by - body_h + e
    dome = np.concatenate([ellipse(cx, rim_y, w / 2 * 1.02, e, 0, math.pi, 18),
                           ellipse(cx, rim_y, w / 2 * 1.02, h * 0.24, math.pi, 2 * math.pi, 24)])
    hy = by - body_h * 0.62
    hw, hh = w * 0.13, max(h * 0.07, 3)
    return [Part("body", cylinder(cx, by, w, body_h, e), color),
            Part("lid", dome, color, "light"),
            Part("knob", ellipse(cx, rim_y - h * 0.24, w * 0.08, h * 0.06), "black", "sphere"),
            Part("handle", rect(cx - w / 2 - hw, hy - hh, cx - w / 2 + 1, hy + hh), "black", "flat"),
            Part("handle", rect(cx + w / 2 - 1, hy - hh, cx + w / 2 + hw, hy + hh), "black", "flat")]


def kettle(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    e = w * 0.14
    body_h = h * 0.62
    top_y = by - body_h + e
    side = _side(rng)
    sx = cx + side * w * 0.38
    spout = np.array([[sx, by - body_h * 0.22], [sx + side * w * 0.34, top_y - h * 0.02],
                      [sx + side * w * 0.38, top_y - h * 0.08], [sx, by - body_h * 0.55]])
    if side < 0:
        spout = spout[::-1]
    return [Part("spout", spout, color),
            Part("body", cylinder(cx, by, w, body_h, e, top_w=w * 0.66), color),
            Part("handle", band(cx, top_y, w * 0.36, h * 0.4, max(w * 0.07, 3), math.pi * 1.08,
                                math.pi * 1.92), "black", "flat"),
            Part("lid", ellipse(cx, top_y, w * 0.22, e * 0.9), color, "light"),
            Part("knob", ellipse(cx, top_y - e * 0.6, w * 0.06, e * 0.55), "black", "sphere")]


def pan(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    cy = by - h / 2
    side = _side(rng)
    angle = math.radians(float(rng.uniform(-15, 15))) + (0 if side > 0 else math.pi)
    length = w * 0.75
    hcx = cx + side * (w / 2 + length / 2 - 4)
    return [Part("handle", lying_rect(hcx, cy, length, h * 0.3, angle, squash=0.6), "black", "flat"),
            Part("body", ellipse(cx, cy, w / 2, h / 2), color, "flat"),
            Part("body", ellipse(cx, cy - h * 0.05, w / 2 * 0.84, h / 2 * 0.72), "black", "inner")]


def knife(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    angle = math.radians(float(rng.uniform(-35, 35))) + (0 if rng.random() < 0.5 else math.pi)
    d = np.array([math.cos(angle), math.sin(angle) * 0.55])
    c = np.array([cx, by - h / 2])
    hc, bc = c - d * w * 0.3, c + d * w * 0.2
    return [Part("handle", lying_rect(hc[0], hc[1], w * 0.4, h, angle), color, "flat"),
            Part("blade", lying_rect(bc[0], bc[1], w * 0.6, h * 1.15, angle, taper=0.25), "gray", "light")]


def spoon(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    angle = math.radians(float(rng.uniform(-35, 35))) + (0 if rng.random() < 0.5 else math.pi)
    d = np.array([math.cos(angle), math.sin(angle) * 0.55])
    c = np.array([cx, by - h / 2])
    hc, bc = c - d * w * 0.18, c + d * w * 0.32
    return [Part("handle", lying_rect(hc[0], hc[1], w * 0.66, h * 0.4, angle), color, "flat"),
            Part("head", lying_ellipse(bc[0], bc[1], w * 0.18, h * 0.75, angle), color, "light")]


def box(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    front_h = h * 0.72
    x1, x2 = cx - w / 2, cx + w / 2
    dx, dy = w * 0.1, h - front_h
    side = np.array([[x2, by], [x2, by - front_h], [x2 + dx, by - front_h - dy], [x2 + dx, by - dy]])
    return [Part("body", rect(x1, by - front_h, x2, by), color, "flat"),
            Part("body", side, color, "dark"),
            Part("lid", parallelogram(x1, x2, by - front_h, dx, dy), color, "light")]


def book(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    x1, x2 = cx - w / 2, cx + w / 2
    edge = h * 0.3
    return [Part("body", rect(x1, by - edge, x2, by), "white", "flat"),
            Part("body", parallelogram(x1, x2, by - edge, w * 0.12, h - edge), color, "flat")]


def apple(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    r = w / 2
    return [Part("body", ellipse(cx, by - r, r, r * 0.95), color, "sphere"),
            Part("stem", rect(cx - 1.5, by - 2 * r - h * 0.12, cx + 1.5, by - 2 * r + 3), "brown", "flat")]


def orange(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    r = w / 2
    return [Part("body", ellipse(cx, by - r, r, r), color, "sphere")]


def banana(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    cy = by - h * 0.2
    outer = ellipse(cx, cy - h * 0.9, w / 2, h * 0.9 + h * 0.2, math.radians(20), math.radians(160), 20)
    inner = ellipse(cx, cy - h * 0.9, w / 2 * 0.8, h * 0.9 - h * 0.4, math.radians(160), math.radians(20), 20)
    return [Part("body", np.concatenate([outer, inner]), color, "cyl")]


def cutting_board(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    x1, x2 = cx - w / 2, cx + w / 2
    edge = max(h * 0.25, 3)
    side = _side(rng)
    tab_x = x2 if side > 0 else x1 - w * 0.12
    tab = rect(tab_x, by - h * 0.75, tab_x + w * 0.12, by - h * 0.25)
    return [Part("handle", tab, color, "flat"),
            Part("body", rect(x1, by - edge, x2, by), color, "dark"),
            Part("body", parallelogram(x1, x2, by - edge, w * 0.05, h - edge), color, "flat")]


def laptop(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    base_d = h * 0.28
    x1, x2 = cx - w / 2, cx + w / 2
    back_y = by - base_d
    screen = np.array([[x1 + w * 0.06, back_y], [x2 + w * 0.06, back_y],
                       [x2 + w * 0.02, by - h], [x1 + w * 0.02, by - h]])
    display = np.array([[x1 + w * 0.11, back_y - h * 0.06], [x2 + w * 0.01, back_y - h * 0.06],
                        [x2 - w * 0.02, by - h * 0.94], [x1 + w * 0.07, by - h * 0.94]])
    return [Part("screen", screen, color, "flat"), Part("screen", display, "black", "flat"),
            Part("keyboard", parallelogram(x1, x2, by, w * 0.06, base_d), color, "light")]


def plant(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    e = w * 0.16
    pot_h = h * 0.38
    parts = [Part("pot", cylinder(cx, by, w * 0.8, pot_h, e, top_w=w), color)]
    leaf_rng = np.random.default_rng(int(rng.integers(1 << 31)))
    for k in range(5):
        a = math.radians(-150 + k * 30 + float(leaf_rng.uniform(-8, 8)))
        lx, ly = cx + math.cos(a) * w * 0.35, by - pot_h - h * 0.25 + math.sin(a) * h * 0.28
        parts.append(Part("leaves", lying_ellipse(lx, ly, w * 0.28, w * 0.1, a, squash=1.0), "green", "flat"))
    return parts


def drawer(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    x1, x2 = cx - w / 2, cx + w / 2
    return [Part("body", rect(x1, by - h, x2, by), color, "flat"),
            Part("handle", rect(cx - w * 0.18, by - h * 0.6, cx + w * 0.18, by - h * 0.42), "gray", "light")]


def cabinet_door(cx, by, w, h, color, rng):  # type: ignore[no-untyped-def]
    x1, x2 = cx - w / 2, cx + w / 2
    side = _side(rng)
    kx = x2 - w * 0.14 if side > 0 else x1 + w * 0.14
    return [Part("body", rect(x1, by - h, x2, by), color, "flat"),
            Part("body", rect(x1 + w * 0.08, by - h * 0.92, x2 - w * 0.08, by - h * 0.08), color, "light"),
            Part("knob", ellipse(kx, by - h * 0.55, max(w * 0.05, 3), max(w * 0.05, 3)), "gray", "sphere")]


_ON = ("table", "counter")
KINDS: dict[str, Kind] = {k.category: k for k in [
    Kind("mug", KITCHEN, (56, 62), mug, weight=1.6),
    Kind("cup", KITCHEN, (44, 56), cup),
    Kind("bowl", KITCHEN, (100, 44), bowl, weight=1.2),
    Kind("plate", ("white", "blue", "green", "yellow", "gray"), (128, 26), plate, support=True,
         places=_ON, weight=1.2),
    Kind("bottle", ("green", "blue", "brown", "white", "red"), (36, 112), bottle),
    Kind("jar", ("white", "yellow", "orange", "red", "green", "brown"), (56, 72), jar),
    Kind("pot", ("gray", "black", "red", "blue", "green"), (120, 88), pot, places=_ON, weight=0.8),
    Kind("kettle", ("white", "black", "red", "gray", "blue", "green"), (86, 96), kettle, places=_ON, weight=0.8),
    Kind("pan", ("black", "gray", "red", "blue"), (110, 30), pan, places=_ON, weight=0.7),
    Kind("knife", ("black", "brown", "red", "blue", "yellow"), (124, 14), knife, places=_ON, small=True),
    Kind("spoon", ("gray", "brown", "white", "red", "blue"), (92, 16), spoon, places=_ON, small=True),
    Kind("box", ("brown", "red", "blue", "green", "yellow", "white"), (80, 66), box),
    Kind("book", BRIGHT + ("black", "brown"), (96, 28), book, small=True),
    Kind("apple", ("red", "green", "yellow"), (40, 44), apple, small=True, weight=1.2),
    Kind("orange", ("orange",), (42, 42), orange, small=True),
    Kind("banana", ("yellow",), (82, 30), banana, small=True),
    Kind("cutting board", ("brown", "white", "green"), (150, 20), cutting_board, support=True,
         places=_ON, weight=0.6),
    Kind("laptop", ("gray", "black", "white"), (150, 112), laptop, graspable=False, places=("table",),
         weight=0.5),
    Kind("plant", ("white", "brown", "red", "blue", "gray"), (60, 104), plant, places=("counter", "shelf"),
         weight=0.6),
]}
# front parts of indoor furniture: laid out in a row, not placed on a surface
FRONTS: dict[str, Kind] = {
    "drawer": Kind("drawer", ("white", "brown", "gray", "blue", "green"), (0, 0), drawer, graspable=False,
                   places=("front",)),
    "cabinet door": Kind("cabinet door", ("white", "brown", "gray", "blue", "green"), (0, 0), cabinet_door,
                         graspable=False, places=("front",)),
}

PLURALS = {"knife": "knives", "box": "boxes", "cutting board": "cutting boards", "cabinet door": "cabinet doors",
           "glass": "glasses"}


def plural(category: str) -> str:
    return PLURALS.get(category, category + "s")
