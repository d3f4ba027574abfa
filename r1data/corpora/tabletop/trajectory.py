"""Visual traces: the image path of an object carried from where it stands to a free region.

A trace is an ordered list of integer pixel points. It starts on the object (its grasp point,
a point deep inside its visible mask near its centre), rises in an arc (the object is lifted,
which moves it up in the image) and ends at the centre of the target region. Embodied-R1
asks for exactly 8 points.
"""

from __future__ import annotations

import numpy as np

from r1data.corpora.tabletop.outline import depth_map


def anchor_point(mask: np.ndarray) -> tuple[int, int]:
    """The point ``(x, y)`` of ``mask`` deepest inside it, ties broken towards its centroid.

    Always on the mask (raises ``ValueError`` on an empty mask)."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        raise ValueError("empty mask has no anchor point")
    ys, xs = np.nonzero(m)
    y0, x0 = int(ys.min()), int(xs.min())
    crop = m[y0:ys.max() + 1, x0:xs.max() + 1]
    depth = depth_map(crop)
    cy, cx = np.nonzero(depth >= max(1, int(depth.max() * 0.6)))
    my, mx = ys.mean() - y0, xs.mean() - x0
    i = int(np.argmin((cy - my) ** 2 + (cx - mx) ** 2))
    return int(cx[i]) + x0, int(cy[i]) + y0


def lift_trace(start: tuple[float, float], end: tuple[float, float], n: int = 8, lift: float = 0.35,
               width: int | None = None, height: int | None = None) -> list[list[int]]:
    """``n`` points from ``start`` to ``end`` (both included) on a quadratic arc raised by ``lift``
    times the distance (at least 12 px), clipped to the image when its size is given."""
    p0 = np.asarray(start, dtype=np.float64)
    p2 = np.asarray(end, dtype=np.float64)
    dist = float(np.hypot(*(p2 - p0)))
    mid = (p0 + p2) / 2
    p1 = mid - np.array([0.0, max(lift * dist, 12.0)])
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
    pts[0], pts[-1] = p0, p2             # exact ends: the trace starts on the object
    pts = np.rint(pts)
    if width is not None and height is not None:
        pts[:, 0] = np.clip(pts[:, 0], 0, width - 1)
        pts[:, 1] = np.clip(pts[:, 1], 0, height - 1)
    return [[int(x), int(y)] for x, y in pts]
