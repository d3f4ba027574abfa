"""SATORI-R1 (VQA-Verify) rewards: format, caption, bbox (union IoU), answer, total.

Source: ``justairr/SATORI-R1`` ``plugin.py`` (ms-swift ORMs ``external_format``,
``external_caption_acc``, ``external_bbox_acc``, ``extern_vqa_acc``); ms-swift sums them with
weight 1 each. Completion: ``<caption>..</caption><bbox>[[x1,y1,x2,y2],...]</bbox><answer>..</answer>``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from r1data.geometry import box_iou, boxes_union_iou_batch, smart_resize
from r1data.parsing import parse_boxes2d, tag_content
from r1data.rewards._core import column, reward, texts, weighted
from r1data.rewards.text_metrics import caption_score

PAPER = "SATORI-R1 (arXiv 2505.19094), plugin.py"
# plugin.py's regex, with re.match and DOTALL | MULTILINE: '$' may also match before a newline
FORMAT = re.compile(r"^\s*<caption>.*?</caption>\s*<bbox>\s*\[\[.*?\]\]\s*</bbox>\s*<answer>.*?</answer>\s*$",
                    re.DOTALL | re.MULTILINE)
# the Qwen2.5-VL input frame SATORI trains in (256*28*28 .. 512*28*28 pixels)
MIN_PIXELS = 200704
MAX_PIXELS = 401408


@reward("satori.format", paper=PAPER)
def format_(prompts: Any = None, completions: Any = (), **_: Any) -> list[float | None]:
    """1 when the completion matches SATORI's ``<caption>..</caption><bbox>[[..]]</bbox><answer>..</answer>`` regex."""
    return [1.0 if FORMAT.match(t) else 0.0 for t in texts(completions)]


@reward("satori.caption", columns=("image_caption",), paper=PAPER)
def caption(prompts: Any = None, completions: Any = (), *, image_caption: Any = None,
            **_: Any) -> list[float | None]:
    """(BLEU-4 smoothed + ROUGE-L F) / 2 of the ``<caption>`` against ``image_caption``;
    0 without a caption tag, None where the row has no reference caption."""
    t = texts(completions)
    refs = column(image_caption, len(t), "image_caption", "satori.caption")
    cache: dict[tuple[str, str], float] = {}
    out: list[float | None] = []
    for text, ref in zip(t, refs):
        if not ref:
            out.append(None)
            continue
        pred = tag_content(text, "caption")
        if pred is None:
            out.append(0.0)
            continue
        key = (ref, pred)
        if key not in cache:
            cache[key] = caption_score(ref, pred)
        out.append(cache[key])
    return out


def bbox_scores(completions: list[str], bboxs: list[Any], width: list[Any], height: list[Any],
                coords: str = "resized", min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS,
                factor: int = 28) -> list[float | None]:
    if coords not in ("resized", "original"):
        raise ValueError(f"coords must be 'resized' or 'original', got {coords!r}")
    out: list[float | None] = [None] * len(completions)
    single_rows, single_pred, single_gt = [], [], []
    multi_rows: list[int] = []
    multi_pred: list[np.ndarray] = []
    multi_gt: list[np.ndarray] = []
    for i, (text, gt, w, h) in enumerate(zip(completions, bboxs, width, height)):
        if gt is None or len(gt) == 0:
            continue
        boxes = parse_boxes2d(tag_content(text, "bbox"))
        if not boxes:
            out[i] = 0.0
            continue
        pred = np.asarray(boxes, dtype=np.float64)
        if coords == "resized":
            h_bar, w_bar = smart_resize(int(h), int(w), factor, min_pixels, max_pixels)
            pred = pred * np.array([w / w_bar, h / h_bar, w / w_bar, h / h_bar])
        gt_arr = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
        if len(pred) == 1 and len(gt_arr) == 1:
            single_rows.append(i)   # one box each: plain IoU, done for all such rows at once
            single_pred.append(pred[0])
            single_gt.append(gt_arr[0])
        else:
            multi_rows.append(i)    # several boxes: exact union IoU, also for all rows at once
            multi_pred.append(pred)
            multi_gt.append(gt_arr)
    if multi_rows:
        for i, v in zip(multi_rows, boxes_union_iou_batch(multi_pred, multi_gt)):
            out[i] = float(v)
    if single_rows:
        p = np.asarray(single_pred)
        g = np.asarray(single_gt)
        valid = (p[:, 2] > p[:, 0]) & (p[:, 3] > p[:, 1]) & (g[:, 2] > g[:, 0]) & (g[:, 3] > g[:, 1])
        ious = np.where(valid, box_iou(p, g), 0.0)
        for i, v in zip(single_rows, ious):
            out[i] = float(v)
    return out


@reward("satori.bbox", columns=("bboxs", "width", "height"), paper=PAPER)
def bbox(prompts: Any = None, completions: Any = (), *, bboxs: Any = None, width: Any = None,
         height: Any = None, coords: str = "resized", min_pixels: int = MIN_PIXELS,
         max_pixels: int = MAX_PIXELS, **_: Any) -> list[float | None]:
    """Union IoU of the ``<bbox>`` boxes with ``bboxs`` (area of the two unions' overlap over
    the area of their union). ``coords="resized"`` (SATORI): predictions are pixels of the
    Qwen smart_resize frame and are scaled to the original image; ``"original"``: already
    original pixels. Unparsable or missing ``<bbox>``: 0; rows without boxes: None."""
    t = texts(completions)
    n = len(t)
    name = "satori.bbox"
    return bbox_scores(t, column(bboxs, n, "bboxs", name), column(width, n, "width", name),
                       column(height, n, "height", name), coords, min_pixels, max_pixels)


def answer_scores(completions: list[str], possible_answers: list[Any]) -> list[float | None]:
    out: list[float | None] = []
    for text, accepted in zip(completions, possible_answers):
        if not accepted:
            out.append(None)
            continue
        given = tag_content(text, "answer")
        out.append(1.0 if given is not None and given in set(accepted) else 0.0)
    return out


@reward("satori.answer", columns=("possible_answers",), paper=PAPER)
def answer(prompts: Any = None, completions: Any = (), *, possible_answers: Any = None,
           **_: Any) -> list[float | None]:
    """1 when the stripped ``<answer>`` is exactly one of ``possible_answers`` (case-sensitive)."""
    t = texts(completions)
    return answer_scores(t, column(possible_answers, len(t), "possible_answers", "satori.answer"))


@reward("satori.total", columns=("image_caption", "bboxs", "width", "height", "possible_answers"), paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, image_caption: Any = None, bboxs: Any = None,
          width: Any = None, height: Any = None, possible_answers: Any = None, w_format: float = 1.0,
          w_caption: float = 1.0, w_bbox: float = 1.0, w_answer: float = 1.0, coords: str = "resized",
          **_: Any) -> list[float | None]:
    """format + caption + bbox + answer (ms-swift's default weights 1, range [0, 4])."""
    kw = dict(prompts=prompts, completions=completions)
    return weighted([
        (w_format, format_(**kw)),
        (w_caption, caption(**kw, image_caption=image_caption)),
        (w_bbox, bbox(**kw, bboxs=bboxs, width=width, height=height, coords=coords)),
        (w_answer, answer(**kw, possible_answers=possible_answers)),
    ])


def metrics(completions: list[str], columns: dict[str, list[Any]]) -> dict[str, float | int | None]:
    """Answer accuracy, mean union IoU (resized frame), mean caption score and format rate."""
    n = len(completions)
    acc = [v for v in answer_scores(completions, columns.get("possible_answers") or [None] * n) if v is not None]
    ious = [v for v in bbox_scores(completions, columns.get("bboxs") or [None] * n,
                                   columns.get("width") or [0] * n, columns.get("height") or [0] * n)
            if v is not None]
    fmt = format_(completions=completions)
    return {
        "accuracy": float(np.mean(acc)) if acc else None,
        "bbox_union_iou": float(np.mean(ious)) if ious else None,
        "bbox_iou@0.5": float(np.mean(np.asarray(ious) >= 0.5)) if ious else None,
        "format_rate": float(np.mean(fmt)) if fmt else None,
    }
