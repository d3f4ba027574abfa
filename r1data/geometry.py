"""Shared geometry: boxes, masks and points, vectorised with numpy.

One implementation for verifiers (checking a built record), rewards (scoring a completion)
and metrics (``r1data eval``). Coordinates are pixels of the stored image unless stated.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


# -- 2D boxes (x1, y1, x2, y2) ------------------------------------------------------------------

def box_iou(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """IoU of boxes ``a`` (N, 4) and ``b`` (N, 4) pairwise, or one box each. Degenerate -> 0."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = ix * iy
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def box_iou_matrix(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4): (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    return box_iou(np.repeat(a, len(b), axis=0), np.tile(b, (len(a), 1))).reshape(len(a), len(b))


def box_valid(box: ArrayLike, width: float | None = None, height: float | None = None) -> bool:
    """Finite, positive extent, and inside the image when its size is given."""
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.shape != (4,) or not np.all(np.isfinite(b)) or b[2] <= b[0] or b[3] <= b[1]:
        return False
    if width is not None and height is not None:
        return bool(b[0] >= 0 and b[1] >= 0 and b[2] <= width and b[3] <= height)
    return True


def boxes_union_iou(pred: ArrayLike, gt: ArrayLike, width: int | None = None, height: int | None = None,
                    *, clip: bool = True) -> float:
    """IoU of the union of ``pred`` boxes with the union of ``gt`` boxes (SATORI's box reward).

    Exact areas (coordinate compression, as shapely's ``unary_union`` gives), so fractional
    boxes are not rounded to pixels; for integer boxes inside the image this equals the
    rasterised IoU. With ``clip`` (and a size) boxes are cut to the image first. Degenerate
    boxes (x2 <= x1 or y2 <= y1) cover nothing; an empty union on both sides gives 0."""
    p = _clean_boxes(pred, width, height, clip)
    g = _clean_boxes(gt, width, height, clip)
    if len(p) == 0 and len(g) == 0:
        return 0.0
    both = np.concatenate([p, g])
    xs = np.unique(both[:, [0, 2]])
    ys = np.unique(both[:, [1, 3]])
    cx = (xs[:-1] + xs[1:]) / 2
    cy = (ys[:-1] + ys[1:]) / 2
    area = np.diff(ys)[:, None] * np.diff(xs)[None, :]
    cover_p = _cover(p, cx, cy)
    cover_g = _cover(g, cx, cy)
    union = float((area * (cover_p | cover_g)).sum())
    return float((area * (cover_p & cover_g)).sum() / union) if union > 0 else 0.0


def boxes_union_iou_batch(preds: Sequence[ArrayLike], gts: Sequence[ArrayLike], eps: float = 0.0) -> np.ndarray:
    """:func:`boxes_union_iou` (without clipping) for many rows at once: row ``i`` compares the
    union of ``preds[i]`` with the union of ``gts[i]``. Rows are padded to the largest box count
    with empty boxes, which cover no cell, so one vectorised pass gives every row's exact IoU.
    ``eps`` is added to the union area (SATORI's ``inter / (union + 1e-6)``)."""
    n = len(preds)
    if n == 0:
        return np.zeros(0)
    cleaned_p = [_clean_boxes(b, None, None, False) for b in preds]
    cleaned_g = [_clean_boxes(b, None, None, False) for b in gts]
    kp = max(1, max(len(b) for b in cleaned_p))
    kg = max(1, max(len(b) for b in cleaned_g))
    P = np.zeros((n, kp, 4))
    G = np.zeros((n, kg, 4))
    for i, (bp, bg) in enumerate(zip(cleaned_p, cleaned_g)):
        P[i, : len(bp)] = bp
        G[i, : len(bg)] = bg
    return union_iou_padded(P, G, eps)


def union_iou_padded(P: np.ndarray, G: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """The core of :func:`boxes_union_iou_batch`: ``P`` (n, kp, 4) and ``G`` (n, kg, 4) hold each
    row's boxes with ordered corners, padded with empty boxes (any box with x2 <= x1 or
    y2 <= y1 covers nothing). Returns each row's area(U_P & U_G) / (area(U_P | U_G) + eps)."""
    n = len(P)
    both = np.concatenate([P, G], axis=1)
    xs = np.sort(np.concatenate([both[..., 0], both[..., 2]], axis=1), axis=1)
    ys = np.sort(np.concatenate([both[..., 1], both[..., 3]], axis=1), axis=1)
    cx, cy = (xs[:, :-1] + xs[:, 1:]) / 2, (ys[:, :-1] + ys[:, 1:]) / 2
    area = np.diff(ys, axis=1)[:, :, None] * np.diff(xs, axis=1)[:, None, :]

    def cover(b: np.ndarray) -> np.ndarray:   # (n, len(cy), len(cx)): cell inside any box
        inx = (b[:, :, 0, None] < cx[:, None, :]) & (cx[:, None, :] < b[:, :, 2, None])
        iny = (b[:, :, 1, None] < cy[:, None, :]) & (cy[:, None, :] < b[:, :, 3, None])
        return (iny[:, :, :, None] & inx[:, :, None, :]).any(axis=1)

    cp, cg = cover(P), cover(G)
    union = (area * (cp | cg)).sum(axis=(1, 2))
    inter = (area * (cp & cg)).sum(axis=(1, 2))
    return np.divide(inter, union + eps, out=np.zeros(n), where=union > 0)


def _clean_boxes(boxes: ArrayLike, width: float | None, height: float | None, clip: bool) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if clip and width is not None and height is not None:
        b = np.column_stack([np.clip(b[:, 0], 0, width), np.clip(b[:, 1], 0, height),
                             np.clip(b[:, 2], 0, width), np.clip(b[:, 3], 0, height)])
    keep = np.isfinite(b).all(axis=1) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    return b[keep]


def _cover(boxes: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """Which grid cells (centres ``cy`` x ``cx``) lie inside any of ``boxes``: (len(cy), len(cx))."""
    if len(boxes) == 0:
        return np.zeros((len(cy), len(cx)), dtype=bool)
    inx = (boxes[:, 0, None] < cx) & (cx < boxes[:, 2, None])
    iny = (boxes[:, 1, None] < cy) & (cy < boxes[:, 3, None])
    return (iny[:, :, None] & inx[:, None, :]).any(axis=0)


def smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56,
                 max_pixels: int = 14 * 14 * 4 * 1280) -> tuple[int, int]:
    """The (height, width) Qwen2-VL / Qwen2.5-VL feeds the model (``qwen_vl_utils.smart_resize``).

    Both sides a multiple of ``factor``, the area within [min_pixels, max_pixels], the aspect
    ratio kept as closely as possible. Models answer in pixels of this frame, so rewards scale
    their coordinates back with ``width / w_bar`` and ``height / h_bar``."""
    return _smart_resize(int(height), int(width), int(factor), int(min_pixels), int(max_pixels))


@functools.lru_cache(maxsize=4096)
def _smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    if min(height, width) <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio must be under 200, got {width}x{height}")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def boxes_to_mask(boxes: ArrayLike, width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        c1, r1 = int(np.clip(np.floor(x1), 0, width)), int(np.clip(np.floor(y1), 0, height))
        c2, r2 = int(np.clip(np.ceil(x2), 0, width)), int(np.clip(np.ceil(y2), 0, height))
        mask[r1:r2, c1:c2] = True
    return mask


# -- 3D boxes ---------------------------------------------------------------------------------

def box3d_corners_from_center(center: ArrayLike, size: ArrayLike) -> np.ndarray:
    """(cx, cy, cz), (dx, dy, dz) -> axis-aligned (x1, y1, z1, x2, y2, z2)."""
    c = np.asarray(center, dtype=np.float64)
    s = np.asarray(size, dtype=np.float64) / 2
    return np.concatenate([c - s, c + s])


def aabb_of_oriented(center: ArrayLike, size: ArrayLike, yaw: float) -> np.ndarray:
    """The axis-aligned box around a box rotated by ``yaw`` (radians) about z."""
    cx, cy, cz = np.asarray(center, dtype=np.float64)
    dx, dy, dz = np.asarray(size, dtype=np.float64) / 2
    c, s = abs(np.cos(yaw)), abs(np.sin(yaw))
    hx, hy = dx * c + dy * s, dx * s + dy * c
    return np.array([cx - hx, cy - hy, cz - dz, cx + hx, cy + hy, cz + dz])


def box3d_iou(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Axis-aligned 3D IoU of corner boxes (N, 6) vs (N, 6) (or one each). Degenerate -> 0."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 6)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 6)
    lo = np.maximum(a[:, :3], b[:, :3])
    hi = np.minimum(a[:, 3:], b[:, 3:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    va = np.prod(np.clip(a[:, 3:] - a[:, :3], 0, None), axis=1)
    vb = np.prod(np.clip(b[:, 3:] - b[:, :3], 0, None), axis=1)
    union = va + vb - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def box3d_valid(box: ArrayLike) -> bool:
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    return b.shape == (6,) and bool(np.all(np.isfinite(b)) and np.all(b[3:] > b[:3]))


# -- masks ------------------------------------------------------------------------------------

def mask_iou(pred: np.ndarray, gt: np.ndarray, empty: float = 1.0) -> float:
    """Foreground IoU of two binary masks; ``empty`` when both are empty (SegEarth-R1: 1)."""
    p = np.asarray(pred, dtype=bool)
    g = np.asarray(gt, dtype=bool)
    if p.shape != g.shape:
        raise ValueError(f"mask shapes differ: {p.shape} vs {g.shape}")
    union = np.count_nonzero(p | g)
    return float(np.count_nonzero(p & g) / union) if union else empty


def mask_iou_batch(pred: np.ndarray, gt: np.ndarray, empty: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample IoU, intersections and unions for stacks of masks (N, H, W).

    Counting is memory-bound: one pass per sample through a reused buffer (no temporaries the
    size of the stack, no allocation per sample) is as fast as numpy gets here; a whole-stack
    ``count_nonzero(axis=1)`` or a popcount over 64-bit words measured slower
    (scripts/bench_rewards.py prints the ratio against a plain per-sample loop)."""
    p = np.asarray(pred, dtype=bool)
    g = np.asarray(gt, dtype=bool)
    if p.shape != g.shape:
        raise ValueError(f"mask stacks differ in shape: {p.shape} vs {g.shape}")
    n = p.shape[0] if p.ndim else 0
    pixels = int(np.prod(p.shape[1:])) if p.ndim > 1 else 1
    p = p.reshape(n, pixels)
    g = g.reshape(n, pixels)
    inter = np.zeros(n, dtype=np.int64)
    union = np.zeros(n, dtype=np.int64)
    buf = np.empty(pixels, dtype=bool)
    for i in range(n):
        np.logical_and(p[i], g[i], out=buf)
        inter[i] = np.count_nonzero(buf)
        np.logical_or(p[i], g[i], out=buf)
        union[i] = np.count_nonzero(buf)
    iou = np.where(union > 0, inter / np.maximum(union, 1), empty)
    return iou, inter, union


def polygons_to_mask(polygons: Sequence[ArrayLike], height: int, width: int) -> np.ndarray:
    """Rasterise polygons ``[[x, y], ...]`` (pixels) into one boolean mask, their union.

    Polygons with fewer than three vertices are skipped; edges are drawn as foreground (PIL)."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(im)
    for poly in polygons:
        pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if len(pts) >= 3 and np.isfinite(pts).all():
            draw.polygon([(float(x), float(y)) for x, y in pts], fill=1, outline=1)
    return np.asarray(im, dtype=bool)


def mask_to_png(mask: np.ndarray) -> bytes:
    """A binary mask as a lossless single-channel PNG (0 / 255)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.asarray(mask, dtype=bool) * 255).astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def png_to_mask(data: bytes) -> np.ndarray:
    """A PNG (any mode) to a boolean mask: foreground where the first channel is > 0."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im)
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr > 0


def rle_encode(mask: np.ndarray) -> dict:
    """COCO-style uncompressed RLE (column-major counts, starting with zeros)."""
    m = np.asarray(mask, dtype=bool)
    flat = m.flatten(order="F")
    if flat.size == 0:
        return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": []}
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]]))
    counts = ([0] if flat[0] else []) + runs.tolist()
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": [int(c) for c in counts]}


def rle_decode(rle: dict) -> np.ndarray:
    h, w = rle["size"]
    counts = rle["counts"]
    if isinstance(counts, str):
        raise ValueError("compressed RLE strings are not supported; use uncompressed counts")
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    if flat.size != h * w:
        raise ValueError(f"RLE counts sum to {flat.size}, expected {h * w}")
    return flat.reshape((h, w), order="F")


# -- points -----------------------------------------------------------------------------------

def points_in_box(points: ArrayLike, box: ArrayLike) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x1, y1, x2, y2 = np.asarray(box, dtype=np.float64).reshape(4)
    return (p[:, 0] >= x1) & (p[:, 0] <= x2) & (p[:, 1] >= y1) & (p[:, 1] <= y2)


def points_in_mask(points: ArrayLike, mask: np.ndarray) -> np.ndarray:
    """Whether each (x, y) falls on a foreground pixel; outside the image -> False."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    m = np.asarray(mask, dtype=bool)
    h, w = m.shape
    xi = np.floor(p[:, 0]).astype(np.int64)
    yi = np.floor(p[:, 1]).astype(np.int64)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    out = np.zeros(len(p), dtype=bool)
    out[inside] = m[yi[inside], xi[inside]]
    return out


def points_in_polygon(points: ArrayLike, polygon: ArrayLike) -> np.ndarray:
    """Even-odd ray casting, vectorised over points."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    x, y = p[:, 0:1], p[:, 1:2]
    x1, y1 = poly[:, 0], poly[:, 1]
    x2 = np.concatenate((x1[1:], x1[:1]))     # the next vertex (np.roll, without its overhead)
    y2 = np.concatenate((y1[1:], y1[:1]))
    crosses = (y1 > y) != (y2 > y)
    # where an edge is horizontal it never crosses the ray: divide only where it may (no errstate:
    # entering it costs more than the arithmetic for the few points a reward checks)
    dy = np.broadcast_to(y2 - y1, crosses.shape)
    t = np.divide(y - y1, dy, out=np.zeros(crosses.shape), where=crosses)
    xint = (x2 - x1) * t + x1
    return np.count_nonzero(crosses & (x < xint), axis=1) % 2 == 1


def points_inside_image(points: ArrayLike, width: float, height: float) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return np.isfinite(p).all(axis=1) & (p[:, 0] >= 0) & (p[:, 0] < width) & (p[:, 1] >= 0) & (p[:, 1] < height)


# -- intervals and traces -----------------------------------------------------------------------

def interval_iou(a: ArrayLike, b: ArrayLike) -> float:
    """1-D IoU of intervals ``[start, end]``; 0 when either is empty or reversed."""
    s1, e1 = (float(v) for v in np.asarray(a, dtype=np.float64).reshape(2))
    s2, e2 = (float(v) for v in np.asarray(b, dtype=np.float64).reshape(2))
    if e1 <= s1 or e2 <= s2:
        return 0.0
    inter = max(0.0, min(e1, e2) - max(s1, s2))
    union = (e1 - s1) + (e2 - s2) - inter
    return inter / union if union > 0 else 0.0


def discrete_frechet_batch(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Discrete Frechet distance of B pairs of polylines: ``p`` (B, n, 2), ``q`` (B, m, 2) -> (B,).

    The standard dynamic programme (Eiter and Mannila), run over the batch at once."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    d = np.sqrt(((p[:, :, None, :] - q[:, None, :, :]) ** 2).sum(-1))      # (B, n, m)
    n, m = d.shape[1], d.shape[2]
    dp = np.empty_like(d)
    dp[:, 0, 0] = d[:, 0, 0]
    for j in range(1, m):
        dp[:, 0, j] = np.maximum(dp[:, 0, j - 1], d[:, 0, j])
    for i in range(1, n):
        dp[:, i, 0] = np.maximum(dp[:, i - 1, 0], d[:, i, 0])
        prev = np.minimum(dp[:, i - 1, 1:], dp[:, i - 1, :-1])            # min(up, diagonal)
        for j in range(1, m):
            dp[:, i, j] = np.maximum(np.minimum(prev[:, j - 1], dp[:, i, j - 1]), d[:, i, j])
    return dp[:, n - 1, m - 1]


def discrete_frechet(p: ArrayLike, q: ArrayLike) -> float:
    """Discrete Frechet distance of two polylines (N, 2) and (M, 2)."""
    return float(discrete_frechet_batch(np.asarray(p, dtype=np.float64)[None],
                                        np.asarray(q, dtype=np.float64)[None])[0])


def resample_polyline(points: ArrayLike, n: int) -> np.ndarray:
    """``n`` points linearly interpolated at evenly spaced positions of the point index
    (Embodied-R1's resampling: uniform in index, not in arc length)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 1:
        return np.repeat(pts, n, axis=0)
    t_old = np.linspace(0.0, 1.0, len(pts))
    t_new = np.linspace(0.0, 1.0, n)
    return np.column_stack([np.interp(t_new, t_old, pts[:, 0]), np.interp(t_new, t_old, pts[:, 1])])


def polyline_rmse(p: ArrayLike, q: ArrayLike) -> float:
    """RMSE of point distances after resampling both polylines to the longer length."""
    p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    q = np.asarray(q, dtype=np.float64).reshape(-1, 2)
    n = max(len(p), len(q))
    a, b = resample_polyline(p, n), resample_polyline(q, n)
    return float(np.sqrt(((a - b) ** 2).sum() / n))
