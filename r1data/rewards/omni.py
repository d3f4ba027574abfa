"""Omni-R1 rewards (RefAVS grounding step): format and box IoU of ``{"bbox_2d": [...]}``.

Source: ``aim-uofa/Omni-R1`` @ 1de42f8 ``src/omni_r1/reward.py``: format =
``re.fullmatch(r"<think>.*?</think>\\s*<answer>.*?</answer>")``; accuracy = IoU of the parsed
``bbox_2d`` with the GT box (Omni-R1 scales the GT into the resized frame; here the
prediction is scaled to the original pixels instead, which gives the same IoU).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from r1data.geometry import box_iou, smart_resize
from r1data.parsing import parse_json_like, parse_think_answer
from r1data.rewards._core import column, optional_column, reward, texts
from r1data.rewards.format import strict_think_answer

PAPER = "Omni-R1 (aim-uofa/Omni-R1 @ 1de42f8), src/omni_r1/reward.py"
_BBOX = re.compile(r'"?bbox_2d"?\s*:\s*(\[[^\]]*\])')


def parse_bbox_2d(text: str) -> list[float] | None:
    """The first ``"bbox_2d": [x1, y1, x2, y2]`` in the answer (or the whole text)."""
    parsed = parse_think_answer(text)
    m = _BBOX.search(parsed.answer if parsed.answer is not None else text)
    if not m:
        return None
    value = parse_json_like(m.group(1))
    if not isinstance(value, list) or len(value) != 4:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return None
    return [float(v) for v in value]


@reward("omni.format", paper=PAPER)
def format_(prompts: Any = None, completions: Any = (), *, strip_whitespace: bool = False,
            **_: Any) -> list[float | None]:
    """1 when the completion is exactly ``<think>..</think><answer>..</answer>`` (``re.fullmatch``;
    ``strip_whitespace``: surrounding whitespace allowed)."""
    return [strict_think_answer(t, strip_whitespace) for t in texts(completions)]


@reward("omni.iou", columns=("bbox", "width", "height"), paper=PAPER)
def iou(prompts: Any = None, completions: Any = (), *, bbox: Any = None, width: Any = None, height: Any = None,
        coords: str = "original", min_pixels: int = 3136, max_pixels: int = 12845056,
        **_: Any) -> list[float | None]:
    """IoU of the answer's ``bbox_2d`` with the ``bbox`` column (pixels). ``coords="resized"``:
    the prediction is in the Qwen smart_resize frame (needs ``width``/``height``)."""
    if coords not in ("original", "resized"):
        raise ValueError(f"coords must be 'original' or 'resized', got {coords!r}")
    t = texts(completions)
    n = len(t)
    gts = column(bbox, n, "bbox", "omni.iou")
    ws = optional_column(width, n, "width", "omni.iou")
    hs = optional_column(height, n, "height", "omni.iou")
    out: list[float | None] = []
    rows, preds, targets = [], [], []
    for i, (text, gt, w, h) in enumerate(zip(t, gts, ws, hs)):
        if gt is None:
            out.append(None)
            continue
        out.append(0.0)
        pred = parse_bbox_2d(text)
        if pred is None:
            continue
        if coords == "resized":
            if not w or not h:
                raise ValueError("omni.iou with coords='resized' needs the width and height columns")
            h_bar, w_bar = smart_resize(int(h), int(w), 28, min_pixels, max_pixels)
            pred = [pred[0] * w / w_bar, pred[1] * h / h_bar, pred[2] * w / w_bar, pred[3] * h / h_bar]
        rows.append(i)
        preds.append(pred)
        targets.append(list(gt))
    if rows:   # one vectorised IoU for the whole batch
        for i, v in zip(rows, box_iou(np.asarray(preds, dtype=np.float64), np.asarray(targets, dtype=np.float64))):
            out[i] = float(v)
    return out


@reward("omni.total", columns=("bbox", "width", "height"), paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, bbox: Any = None, width: Any = None, height: Any = None,
          coords: str = "original", **_: Any) -> list[float | None]:
    """format + IoU."""
    fmt = format_(prompts, completions)
    acc = iou(prompts, completions, bbox=bbox, width=width, height=height, coords=coords)
    return [None if a is None else a + f for a, f in zip(acc, fmt)]
