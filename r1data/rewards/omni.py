"""Omni-R1 rewards (RefAVS grounding step): format and box IoU of ``{"bbox_2d": [...]}``.

Source: ``aim-uofa/Omni-R1`` @ 1de42f8 ``src/omni_r1/reward.py``: format =
``re.fullmatch(r"<think>.*?</think>\\s*<answer>.*?</answer>")``; accuracy = IoU of the parsed
``bbox_2d`` with the GT box (Omni-R1 scales the GT into the resized frame; here the
prediction is scaled to the original pixels instead, which gives the same IoU).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from r1data.errors import UsageError
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



# -- the video family: Omni-R1's keyframe timing terms (load_datasets/revos.py time_reward_multi_time) ----

VOS_PAPER = "Omni-R1 (aim-uofa/Omni-R1 @ 1de42f8), load_datasets/revos.py time_reward_multi_time, reward.py vos_reward"
MATCH, ELEMENT, CONSISTENT, MASK_RATIO, LENGTH, OVERLAP, GAP = 0.2, 0.2, 0.2, 1.0, 0.2, 0.5, 0.4
FPS, MOMENTS = 2, 4
_TIME = re.compile(r"(\d+):(\d+)\.(\d+)")
_OBJECT = re.compile(r"({[\s\S]*?})")
_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)


def _seconds(text: str) -> float:
    minutes, seconds, hundredths = (int(v) for v in _TIME.match(text).groups())  # type: ignore[union-attr]
    return minutes * 60 + seconds + hundredths * 10 / 1000


def timing_terms(text: str, mask_area: list[list[int]]) -> dict[str, float]:
    """``cumulated``, ``frame`` and ``overlap`` of one completion against the sampled frames' mask areas
    (``mask_area[f][o]``: object o's pixels in sampled frame f), as time_reward_multi_time computes them.

    Each ``{...}`` of the answer: +0.2; with a start, an end (``mm:ss.ff``) and a description: +0.2; with
    ``start <= end <= frames / 2``: +0.2 and its frames (2 a second) count: + the fraction of them
    with a mask; the sum over the number of objects written. ``overlap``: -0.2 per frame past the first
    of each moment, -0.5 per frame two moments share. ``frame``: 0.4 per distinct frame up to 4."""
    m = _ANSWER.search(text)
    answer = m.group(1).strip() if m else ""
    found = _OBJECT.findall(answer)
    if not found:
        return {"cumulated": 0.0, "frame": 0.0, "overlap": 0.0}
    n_frames = len(mask_area)
    cumulated = MATCH * len(found)
    pieces = []
    for raw in found:
        try:
            obj = json.loads(raw)
            start, end, desc = obj.get("start_time"), obj.get("end_time"), obj.get("description")
            if not (isinstance(start, str) and isinstance(end, str) and _TIME.match(start) and _TIME.match(end)
                    and desc is not None):
                continue
            cumulated += ELEMENT
            s, e = _seconds(start), _seconds(end)
            if s > e or e > n_frames / FPS:
                continue
            cumulated += CONSISTENT
            pieces.append((s, e))
        except (ValueError, AttributeError, TypeError):
            continue
    if not pieces:
        return {"cumulated": cumulated / len(found), "frame": 0.0, "overlap": 0.0}
    areas = np.asarray(mask_area, dtype=np.float64).T          # objects x frames
    spans = [np.arange(min(int(s * FPS), n_frames - 1), min(int(e * FPS), n_frames - 1) + 1) for s, e in pieces]
    ratios, lengths = [], []
    for span in spans:
        chosen = areas[:, span]
        ratios.append(MASK_RATIO * (np.count_nonzero(chosen > 0) / (len(span) * chosen.shape[0]) if len(span) else 0))
        lengths.append(min(0.0, (1 - len(span)) * LENGTH))
    every = np.concatenate(spans)
    distinct = np.unique(every)
    cumulated = (cumulated + sum(ratios)) / len(found)
    overlap = sum(lengths) - (len(every) - len(distinct)) * OVERLAP
    gap = MOMENTS - len(distinct)
    frame = len(distinct) * GAP if gap >= 0 else (MOMENTS + gap - 1) * GAP
    return {"cumulated": float(cumulated), "frame": float(frame), "overlap": float(overlap)}


@reward("omni.vos", columns=("problem_type", "frame_mask_area"), paper=VOS_PAPER)
def vos(prompts: Any = None, completions: Any = (), *, problem_type: Any = None, frame_mask_area: Any = None,
        alpha_k: float = 1.0, alpha_g: float = 0.0, **_: Any) -> list[float | None]:
    """The video family's keyframe reward as released: cumulated + alpha_k (frame + overlap), for
    rows with ``problem_type`` video-segmentation (None for the others). The grounding terms (avg IoU,
    mask ratio, object-count penalty) enter the released reward only with SAM2's mask IoU
    (``alpha_g > 0``), which r1data does not run: a non-zero ``alpha_g`` is an error."""
    if alpha_g:
        raise UsageError("omni.vos: alpha_g > 0 needs SAM2 masks of the grounded boxes (Omni-R1's sam_iou), "
                         "which r1data does not run; keep alpha_g 0 (the timing terms alone, as upstream then)")
    t = texts(completions)
    n = len(t)
    kinds = column(problem_type, n, "problem_type", "omni.vos")
    areas = column(frame_mask_area, n, "frame_mask_area", "omni.vos")
    out: list[float | None] = []
    for text, kind, area in zip(t, kinds, areas):
        if kind != "video-segmentation" or not area:
            out.append(None)
            continue
        terms = timing_terms(text, area)
        out.append(terms["cumulated"] + alpha_k * (terms["frame"] + terms["overlap"]))
    return out


def metrics(completions: list[str], columns: dict[str, list[Any]]) -> dict[str, Any]:
    """``r1data eval``'s numbers for omni: the format rate, and per family how many answers are
    non-empty and (video family) the mean number of moments written and of distinct frames chosen."""
    n = len(completions)
    kinds = columns.get("problem_type") or [None] * n
    areas = columns.get("frame_mask_area") or [None] * n
    out: dict[str, Any] = {"format_rate": (sum(strict_think_answer(t) for t in completions) / n) if n else None}
    for kind in ("refavs", "video-segmentation"):
        rows = [i for i in range(n) if kinds[i] == kind]
        if not rows:
            continue
        answered = [i for i in rows if (m := _ANSWER.search(completions[i])) and m.group(1).strip()]
        out[f"{kind}.rows"] = len(rows)
        out[f"{kind}.answered"] = len(answered) / len(rows)
        if kind == "video-segmentation":
            terms = [timing_terms(completions[i], areas[i]) for i in rows if areas[i]]
            out[f"{kind}.frame_term"] = float(np.mean([x["frame"] for x in terms])) if terms else None
            out[f"{kind}.timing"] = float(np.mean([x["cumulated"] for x in terms])) if terms else None
    return out
