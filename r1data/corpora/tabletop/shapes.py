"""Polygon primitives in image pixels (x right, y down) from which objects are built.

Every shape is a ``(K, 2)`` float array of vertices; the renderer fills it, the mask of a part
is its rasterised polygon. Round things are polygons with enough vertices to look round.
"""

from __future__ import annotations

import math

import numpy as np


def ellipse(cx: float, cy: float, rx: float, ry: float, a0: float = 0.0, a1: float = 2 * math.pi,
            n: int = 36) -> np.ndarray:
    """Vertices on an ellipse from angle ``a0`` to ``a1`` (a full ellipse by default)."""
    full = abs(a1 - a0) >= 2 * math.pi - 1e-9
    t = np.linspace(a0, a1, n, endpoint=not full)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def rect(x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)


def cylinder(cx: float, by: float, w: float, h: float, e: float, top_w: float | None = None) -> np.ndarray:
    """Silhouette of an upright cylinder (or a tapered one) seen from slightly above.

    ``by`` is the lowest image row of the object (its contact with the surface), ``e`` the
    vertical radius of its elliptical rim, ``top_w`` the width at the top (default ``w``).
    """
    top_w = w if top_w is None else top_w
    bottom = ellipse(cx, by - e, w / 2, e, 0.0, math.pi, 18)                  # lower half, right to left
    top = ellipse(cx, by - h + e, top_w / 2, e, math.pi, 2 * math.pi, 18)     # upper half, left to right
    return np.concatenate([bottom, top])


def top_ellipse(cx: float, by: float, w: float, h: float, e: float, shrink: float = 0.92) -> np.ndarray:
    """The rim (open top) of a :func:`cylinder`."""
    return ellipse(cx, by - h + e, w / 2 * shrink, e * shrink)


def band(cx: float, cy: float, rx_out: float, ry_out: float, thickness: float, a0: float, a1: float,
         n: int = 16) -> np.ndarray:
    """An elliptical arc band (a handle): outer arc from ``a0`` to ``a1``, inner arc back."""
    outer = ellipse(cx, cy, rx_out, ry_out, a0, a1, n)
    inner = ellipse(cx, cy, max(rx_out - thickness, 1.0), max(ry_out - thickness, 1.0), a1, a0, n)
    return np.concatenate([outer, inner])


def lying_rect(cx: float, cy: float, length: float, width: float, angle: float, squash: float = 0.55,
               taper: float = 1.0) -> np.ndarray:
    """A flat rectangle lying on the table, rotated by ``angle`` (radians) in the table plane.

    The table is seen obliquely, so offsets along y are multiplied by ``squash``. ``taper``
    scales the width at the far end (a blade narrowing to its tip).
    """
    d = np.array([math.cos(angle), math.sin(angle) * squash])
    n = np.array([-math.sin(angle), math.cos(angle) * squash])
    c = np.array([cx, cy])
    a, b = c - d * length / 2, c + d * length / 2
    return np.array([a + n * width / 2, b + n * width * taper / 2, b - n * width * taper / 2, a - n * width / 2])


def lying_ellipse(cx: float, cy: float, rx: float, ry: float, angle: float, squash: float = 0.55,
                  n: int = 24) -> np.ndarray:
    """An ellipse lying on the table (see :func:`lying_rect`)."""
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    ca, sa = math.cos(angle), math.sin(angle)
    return np.stack([cx + x * ca - y * sa, cy + (x * sa + y * ca) * squash], axis=1)


def parallelogram(x1: float, x2: float, y_front: float, dx: float, dy: float) -> np.ndarray:
    """A horizontal face seen from above: front edge ``x1..x2`` at ``y_front``, back edge shifted."""
    return np.array([[x1, y_front], [x2, y_front], [x2 + dx, y_front - dy], [x1 + dx, y_front - dy]])


def bounds(polygons: list[np.ndarray]) -> np.ndarray:
    """(x1, y1, x2, y2) around polygons."""
    pts = np.concatenate(polygons)
    return np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])
