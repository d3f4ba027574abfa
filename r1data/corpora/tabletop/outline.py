"""Masks to polygons and back, and points well inside a mask.

``r1data.geometry`` has no mask -> polygon or polygon -> mask yet; these are the private
helpers of the two image corpora until it has (reported to the owner of geometry.py).
"""

from __future__ import annotations

import numpy as np

# 8 neighbours clockwise from west, as (dy, dx) with y down
_DIRS = [(0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1)]
_INDEX = {d: i for i, d in enumerate(_DIRS)}


def polygon_to_mask(polygon: np.ndarray | list, width: int, height: int) -> np.ndarray:
    """Rasterise one polygon ``[[x, y], ...]`` (pixels) into a (height, width) bool mask."""
    from PIL import Image, ImageDraw

    pts = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    im = Image.new("L", (int(width), int(height)), 0)
    if len(pts) >= 3:
        # pixel centres sit at +0.5: shift so a vertex at (x, y) covers pixel floor(x, y)
        ImageDraw.Draw(im).polygon([(float(x) - 0.5, float(y) - 0.5) for x, y in pts], fill=1)
    return np.asarray(im, dtype=bool)


def polygons_to_mask(polygons: list, width: int, height: int) -> np.ndarray:
    """COCO-style polygons (each a flat ``[x1, y1, x2, y2, ...]`` or ``[[x, y], ...]``) -> mask."""
    mask = np.zeros((int(height), int(width)), dtype=bool)
    for poly in polygons:
        mask |= polygon_to_mask(np.asarray(poly, dtype=np.float64).reshape(-1, 2), width, height)
    return mask


def _trace(mask: np.ndarray) -> np.ndarray:
    """Moore-neighbour tracing of the outer boundary of the component holding the first
    foreground pixel (raster order). ``mask`` must have a background border. Returns (y, x)."""
    ys, xs = np.nonzero(mask)
    start = (int(ys[0]), int(xs[0]))
    boundary = [start]
    cur, back = start, 0                 # we entered the start pixel from its west neighbour
    first_move: tuple | None = None
    limit = 4 * int(mask.sum()) + 16
    for _ in range(limit):
        for k in range(1, 9):
            i = (back + k) % 8
            dy, dx = _DIRS[i]
            nxt = (cur[0] + dy, cur[1] + dx)
            if mask[nxt]:
                prev = _DIRS[(i - 1) % 8]
                bpos = (cur[0] + prev[0], cur[1] + prev[1])
                back = _INDEX[(bpos[0] - nxt[0], bpos[1] - nxt[1])]
                break
        else:
            return np.array(boundary)    # an isolated pixel
        move = (cur, nxt)
        if first_move is None:
            first_move = move
        elif move == first_move:         # Jacob's stopping criterion
            break
        cur = nxt
        boundary.append(cur)
    return np.array(boundary[:-1] if len(boundary) > 1 and boundary[-1] == start else boundary)


def _simplify(points: np.ndarray, eps: float) -> np.ndarray:
    """Ramer-Douglas-Peucker on a closed ring of points."""
    n = len(points)
    if n <= 4:
        return points
    far = int(np.argmax(((points - points[0]) ** 2).sum(axis=1)))
    keep = np.zeros(n, dtype=bool)
    keep[[0, far]] = True
    stack = [(0, far), (far, n)]
    ring = np.concatenate([points, points[:1]])
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        p, q = ring[a], ring[b]
        seg = ring[a + 1:b]
        d = q - p
        norm = float(np.hypot(*d))
        if norm == 0:
            dist = np.hypot(*(seg - p).T)
        else:
            dist = np.abs(d[0] * (seg[:, 1] - p[1]) - d[1] * (seg[:, 0] - p[0])) / norm
        i = int(np.argmax(dist))
        if dist[i] > eps:
            m = a + 1 + i
            keep[m % n] = True
            stack += [(a, m), (m, b)]
    return points[keep]


def mask_outline(mask: np.ndarray, eps: float = 1.0, max_vertices: int = 64) -> list[list[float]]:
    """The outline of a mask's largest piece as a polygon ``[[x, y], ...]`` in pixels.

    Vertices lie on the centres of boundary pixels, so every pixel at least one pixel inside
    the mask is inside the polygon. Empty list for an empty mask.
    """
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return []
    ys, xs = np.nonzero(m)
    y0, x0 = int(ys.min()), int(xs.min())
    crop = np.pad(m[y0:ys.max() + 1, x0:xs.max() + 1], 1)
    best: np.ndarray | None = None
    best_area = -1
    remaining = crop.copy()
    for _ in range(4):                   # a few pieces at most: keep the largest
        if remaining.sum() < max(best_area * 0.5, 1):
            break
        ring = _trace(remaining)
        pts = ring[:, ::-1].astype(np.float64)          # (x, y)
        covered = polygon_to_mask(pts + 0.5, remaining.shape[1], remaining.shape[0]) & remaining
        area = int(covered.sum()) or len(ring)
        if area > best_area:
            best, best_area = pts, area
        remaining &= ~covered
        remaining[tuple(ring.T)] = False
    assert best is not None
    e = eps
    poly = _simplify(best, e)
    while len(poly) > max_vertices:
        e *= 1.5
        poly = _simplify(best, e)
    poly = poly + np.array([x0 - 1 + 0.5, y0 - 1 + 0.5])
    return [[round(float(x), 1), round(float(y), 1)] for x, y in poly]


def depth_map(mask: np.ndarray, max_depth: int = 24) -> np.ndarray:
    """How many 4-neighbour erosions each pixel survives (0 outside), up to ``max_depth``."""
    m = np.asarray(mask, dtype=bool)
    depth = np.zeros(m.shape, dtype=np.int16)
    cur = m.copy()
    for _ in range(max_depth):
        if not cur.any():
            break
        depth += cur
        p = np.pad(cur, 1)
        cur = cur & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return depth


def interior_points(mask: np.ndarray, n: int, rng: np.random.Generator, polygon: list | None = None,
                    min_depth: int = 2) -> list[list[int]]:
    """``n`` well-spread integer points ``[x, y]`` deep inside ``mask`` (and ``polygon`` if given).

    Points come from the deeper half of the mask (at least ``min_depth`` pixels from its edge
    where the mask allows), picked by farthest-point sampling so they spread over the target.
    """
    from r1data.geometry import points_in_polygon

    m = np.asarray(mask, dtype=bool)
    if not m.any() or n <= 0:
        return []
    ys, xs = np.nonzero(m)
    y0, x0 = int(ys.min()), int(xs.min())
    crop = m[y0:ys.max() + 1, x0:xs.max() + 1]
    depth = depth_map(crop)
    level = max(1, min(int(depth.max()), max(min_depth, int(depth.max()) // 2)))
    cy, cx = np.nonzero(depth >= level)
    cand = np.stack([cx + x0, cy + y0], axis=1)
    if polygon is not None and len(polygon) >= 3:
        inside = points_in_polygon(cand, polygon)
        if inside.any():
            cand = cand[inside]
    if len(cand) > 400:
        cand = cand[rng.choice(len(cand), 400, replace=False)]
    chosen = [int(rng.integers(len(cand)))]
    dist = ((cand - cand[chosen[0]]) ** 2).sum(axis=1).astype(np.float64)
    while len(chosen) < min(n, len(cand)):
        i = int(np.argmax(dist))
        chosen.append(i)
        dist = np.minimum(dist, ((cand - cand[i]) ** 2).sum(axis=1))
    return [[int(cand[i, 0]), int(cand[i, 1])] for i in chosen]
