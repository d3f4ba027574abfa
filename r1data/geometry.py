"""Shared geometry: boxes, masks and points, vectorised with numpy.

One implementation for verifiers (checking a built record), rewards (scoring a completion)
and metrics (``r1data eval``). Coordinates are pixels of the stored image unless stated.
"""

from __future__ import annotations

import io
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


def boxes_union_iou(pred: ArrayLike, gt: ArrayLike, width: int, height: int) -> float:
    """IoU of the union of ``pred`` boxes with the union of ``gt`` boxes (SATORI's box reward),
    rasterised on the image grid."""
    pm = boxes_to_mask(pred, width, height)
    gm = boxes_to_mask(gt, width, height)
    union = np.logical_or(pm, gm).sum()
    return float(np.logical_and(pm, gm).sum() / union) if union else 0.0


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
    """Per-sample IoU, intersections and unions for stacks of masks (N, H, W)."""
    p = np.asarray(pred, dtype=bool).reshape(len(pred), -1)
    g = np.asarray(gt, dtype=bool).reshape(len(gt), -1)
    inter = np.count_nonzero(p & g, axis=1)
    union = np.count_nonzero(p | g, axis=1)
    iou = np.where(union > 0, inter / np.maximum(union, 1), empty)
    return iou, inter, union


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
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    crosses = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xint = (x2 - x1) * (y - y1) / (y2 - y1) + x1
    return np.count_nonzero(crosses & (x < xint), axis=1) % 2 == 1


def points_inside_image(points: ArrayLike, width: float, height: float) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return np.isfinite(p).all(axis=1) & (p[:, 0] >= 0) & (p[:, 0] < width) & (p[:, 1] >= 0) & (p[:, 1] < height)
