"""SegEarth-R1 (EarthReason) reward and metrics: per-sample mask IoU, gIoU, cIoU, Pr@0.5..0.9.

SegEarth-R1 is trained with supervised losses and has no reward; the reward here is the
per-sample foreground IoU its evaluation uses (``segearth_r1/eval_and_test/eval.py``), with
IoU = 1 when prediction and ground truth are both empty. The ``<answer>`` holds the predicted
mask as COCO uncompressed RLE ``{"size": [h, w], "counts": [...]}``, polygons
``[[[x, y], ...], ...]`` (or one polygon ``[[x, y], ...]``, or COCO's flat ``[[x1, y1, x2, ...]]``)
in pixels of the stored image, or the words "empty" / "no target" for an empty mask.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np

from r1data.geometry import mask_iou_batch, png_to_mask, polygons_to_mask, rle_decode
from r1data.parsing import parse_json_like, parse_think_answer
from r1data.rewards._core import column, reward, texts

PAPER = "SegEarth-R1 (earth-insights/SegEarth-R1), segearth_r1/eval_and_test/eval.py"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
_EMPTY = re.compile(r"^\W*(empty|none|no target|no targets|no object|nothing|there is no target( object)?"
                    r"( in the image)?)\W*$", re.I)


def decode_mask(value: Any) -> np.ndarray | None:
    """A stored mask (PNG bytes, ``{"bytes": ...}``, a PIL image or an array) as a bool array."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("bytes")
        if value is None:
            return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return png_to_mask(bytes(value))
    if hasattr(value, "save") and hasattr(value, "mode"):   # a PIL image
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return png_to_mask(buf.getvalue())
    arr = np.asarray(value)
    return (arr[..., 0] if arr.ndim == 3 else arr) > 0


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _as_polygon(p: Any) -> np.ndarray | None:
    """``[[x, y], ...]`` or COCO's flat ``[x1, y1, x2, y2, ...]`` -> (N, 2); None otherwise."""
    if not isinstance(p, (list, tuple)) or not p:
        return None
    if all(isinstance(q, (list, tuple)) and len(q) == 2 and all(_is_number(v) for v in q) for q in p):
        return np.asarray(p, dtype=np.float64)
    if len(p) % 2 == 0 and all(_is_number(v) for v in p):
        return np.asarray(p, dtype=np.float64).reshape(-1, 2)
    return None


def _polygons(value: list) -> list[np.ndarray] | None:
    """One polygon, or a list of polygons, in either point layout; None when unreadable."""
    single = _as_polygon(value)
    if single is not None:
        return [single]
    polys = [_as_polygon(p) for p in value]
    return None if any(p is None for p in polys) else polys  # type: ignore[return-value]


def parse_mask(text: str, height: int, width: int) -> np.ndarray | None:
    """The mask an answer describes, (height, width) bool; None when it cannot be read (or an
    RLE's size differs from the image)."""
    parsed = parse_think_answer(text)
    content = (parsed.answer if parsed.answer is not None else text).strip()
    if _EMPTY.match(content):
        return np.zeros((height, width), dtype=bool)
    value = parse_json_like(content)
    if isinstance(value, dict) and "counts" in value and "size" in value:
        try:
            mask = rle_decode(value)
        except (ValueError, TypeError):
            return None
        return mask if mask.shape == (height, width) else None
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            return np.zeros((height, width), dtype=bool)
        polys = _polygons(list(value))
        return None if polys is None else polygons_to_mask(polys, height, width)
    return None


def iou_rows(completions: list[str], masks: list[Any]) -> tuple[list[float | None], np.ndarray, np.ndarray, list[bool]]:
    """Per-row IoU (None without a GT mask, 0 when unreadable), intersections, unions, readable."""
    n = len(completions)
    ious: list[float | None] = [None] * n
    inter = np.zeros(n, dtype=np.int64)
    union = np.zeros(n, dtype=np.int64)
    readable = [False] * n
    decoded: dict[Any, np.ndarray | None] = {}
    groups: dict[tuple[int, int], list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for i, (text, m) in enumerate(zip(completions, masks)):
        # the completions of a GRPO group share one GT mask: decode it once
        raw = m.get("bytes") if isinstance(m, dict) else m
        key = bytes(raw) if isinstance(raw, (bytes, bytearray, memoryview)) else id(m)
        if key not in decoded:
            decoded[key] = decode_mask(m)
        gt = decoded[key]
        if gt is None:
            continue
        pred = parse_mask(text, *gt.shape)
        if pred is None:
            ious[i] = 0.0
            union[i] = int(np.count_nonzero(gt))
            continue
        readable[i] = True
        groups.setdefault(gt.shape, []).append((i, pred, gt))
    for items in groups.values():
        iou, it, un = mask_iou_batch(np.stack([p for _, p, _ in items]), np.stack([g for _, _, g in items]), empty=1.0)
        for (i, _, _), v, a, b in zip(items, iou, it, un):
            ious[i], inter[i], union[i] = float(v), int(a), int(b)
    return ious, inter, union, readable


@reward("segearth.iou", columns=("mask",), paper=PAPER)
def iou(prompts: Any = None, completions: Any = (), *, mask: Any = None, **_: Any) -> list[float | None]:
    """Foreground IoU of the answer's mask with ``mask``; 1 when both are empty, 0 when the
    answer cannot be read, None for rows without a mask."""
    t = texts(completions)
    return iou_rows(t, column(mask, len(t), "mask", "segearth.iou"))[0]


@reward("segearth.format", columns=("mask",), paper=PAPER)
def format_(prompts: Any = None, completions: Any = (), *, mask: Any = None, **_: Any) -> list[float | None]:
    """1 when the answer is a readable mask (RLE of the image's size, polygons, or "empty")."""
    t = texts(completions)
    ious, _, _, readable = iou_rows(t, column(mask, len(t), "mask", "segearth.format"))
    return [None if v is None else float(r) for v, r in zip(ious, readable)]


def metrics(completions: list[str], columns: dict[str, list[Any]]) -> dict[str, float | int | None]:
    """gIoU (mean per-sample IoU, 1 for empty/empty), cIoU (sum of intersections over sum of
    unions), Pr@t = share of samples with IoU > t. Unreadable answers count as IoU 0."""
    masks = columns.get("mask")
    if masks is None:
        return {}
    ious, inter, union, readable = iou_rows(completions, masks)
    rows = [i for i, v in enumerate(ious) if v is not None]
    if not rows:
        return {}
    arr = np.asarray([ious[i] for i in rows], dtype=np.float64)
    out: dict[str, float | int | None] = {
        "gIoU": float(arr.mean()),
        "cIoU": float(inter[rows].sum() / (union[rows].sum() + 1e-10)),
    }
    for t in THRESHOLDS:
        out[f"Pr@{t}"] = float((arr > t).mean())
    out["unreadable_rows"] = int(sum(not readable[i] for i in rows))
    return out
