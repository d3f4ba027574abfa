"""SATORI-R1 (VQA-Verify) rewards: format, caption, bbox (union IoU), answer, total.

Source: ``justairr/SATORI-R1`` ``plugin.py`` (ms-swift ORMs ``external_format``,
``external_caption_acc``, ``external_bbox_acc``, ``extern_vqa_acc``); ms-swift sums them with
weight 1 each. Completion: ``<caption>..</caption><bbox>[[x1,y1,x2,y2],...]</bbox><answer>..</answer>``.

The box reward reads the ``<bbox>`` as plugin.py does (``ast.literal_eval``; a flat box is
wrapped; every element a list of four ints or floats) and computes shapely's union IoU,
``area(U_pred & U_gt) / (area(U_pred | U_gt) + 1e-6)`` with each box taken from any two
opposite corners, exactly, in vectorised numpy (tests/test_rewards_faithful.py checks it
against shapely itself; shapely is two to three times slower than the 50 ms budget allows).
"""

from __future__ import annotations

import ast
import functools
import json
import math
import re
from typing import Any

import numpy as np

from r1data.geometry import smart_resize, union_iou_padded
from r1data.parsing import tag_content
from r1data.rewards._core import column, reward, texts, weighted
from r1data.rewards.text_metrics import caption_score

PAPER = "SATORI-R1 (arXiv 2505.19094), plugin.py"
# plugin.py's regex, with re.match and DOTALL | MULTILINE: '$' may also match before a newline
FORMAT = re.compile(r"^\s*<caption>.*?</caption>\s*<bbox>\s*\[\[.*?\]\]\s*</bbox>\s*<answer>.*?</answer>\s*$",
                    re.DOTALL | re.MULTILINE)
# the Qwen2.5-VL input frame SATORI trains in (256*28*28 .. 512*28*28 pixels)
MIN_PIXELS = 200704
MAX_PIXELS = 401408
_BBOX = re.compile(r"<bbox>(.*?)</bbox>", re.DOTALL)
EPS = 1e-6   # plugin.py's union_iou: intersection / (union + 1e-6)


def parse_bbox(text: str) -> list[list[float]] | None:
    """The boxes of the first ``<bbox>..</bbox>`` as plugin.py reads them, or None (score 0).

    ``ast.literal_eval`` of the raw content; a list whose elements are all non-lists is one box;
    then every element must be a list of four ``int``/``float`` (bools pass, as in Python;
    tuples do not). Non-finite numbers are refused here (upstream they give a NaN reward)."""
    m = _BBOX.search(text)
    return None if m is None else _parse_bbox_content(m.group(1))


_EVAL_QUIRKS = re.compile(r"[\n\r\t\x0b\x0c]")   # where literal_eval's line handling departs from JSON's


@functools.lru_cache(maxsize=4096)
def _parse_bbox_content(content: str) -> list[list[float]] | None:
    value: Any = None
    if not _EVAL_QUIRKS.search(content):
        # fast path: JSON of plain numbers in lists reads as literal_eval reads it (4x quicker)
        try:
            value = json.loads(content)
        except (ValueError, RecursionError):
            value = None
        if not _plain_lists(value):
            value = None
    if value is None:
        try:
            value = ast.literal_eval(content)
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            return None
    if isinstance(value, list) and all(not isinstance(x, list) for x in value):
        value = [value]
    if not isinstance(value, list) or any(
            not (isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b))
            for b in value):
        return None
    boxes = [[float(v) for v in b] for b in value]
    return boxes if all(math.isfinite(v) for b in boxes for v in b) else None


def _plain_lists(value: Any) -> bool:
    """Lists nested two deep at most of ints and floats, no bools (JSON's true is not Python's)."""
    if not isinstance(value, list):
        return False
    for item in value:
        if isinstance(item, list):
            if not all(type(v) in (int, float) for v in item):
                return False
        elif type(item) not in (int, float):
            return False
    return True


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


def _ordered(box: Any, sx: float = 1.0, sy: float = 1.0) -> list[float]:
    """One box scaled, its corners ordered (shapely's ``box`` takes any two opposite corners)."""
    x1, y1, x2, y2 = (float(box[0]) * sx, float(box[1]) * sy, float(box[2]) * sx, float(box[3]) * sy)
    return [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]


def bbox_scores(completions: list[str], bboxs: list[Any], width: list[Any], height: list[Any],
                coords: str = "resized", min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS,
                factor: int = 28) -> list[float | None]:
    if coords not in ("resized", "original"):
        raise ValueError(f"coords must be 'resized' or 'original', got {coords!r}")
    out: list[float | None] = [None] * len(completions)
    rows: list[int] = []
    preds: list[list[list[float]]] = []
    gts: list[list[list[float]]] = []
    for i, (text, gt, w, h) in enumerate(zip(completions, bboxs, width, height)):
        if gt is None or len(gt) == 0:
            continue
        out[i] = 0.0
        boxes = parse_bbox(text)
        if not boxes:
            continue
        sx = sy = 1.0
        if coords == "resized":
            h_bar, w_bar = smart_resize(int(h), int(w), factor, min_pixels, max_pixels)
            sx, sy = w / w_bar, h / h_bar
        rows.append(i)
        preds.append([_ordered(b, sx, sy) for b in boxes])
        gts.append([_ordered(b) for b in gt])
    if rows:
        # every row's boxes padded into two arrays: one vectorised exact union IoU for the batch
        n, kp, kg = len(rows), max(map(len, preds)), max(map(len, gts))
        P = np.zeros((n, kp, 4))
        G = np.zeros((n, kg, 4))
        for j, (p, g) in enumerate(zip(preds, gts)):
            P[j, : len(p)] = p
            G[j, : len(g)] = g
        if kp == 1 and kg == 1:   # one box each everywhere: the plain IoU is the union IoU
            p, g = P[:, 0], G[:, 0]
            ix = np.clip(np.minimum(p[:, 2], g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0, None)
            iy = np.clip(np.minimum(p[:, 3], g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0, None)
            inter = ix * iy
            union = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1]) + (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) - inter
            ious = inter / (union + EPS)
        else:
            ious = union_iou_padded(P, G, EPS)
        for i, v in zip(rows, ious):
            out[i] = float(v)
    return out


@reward("satori.bbox", columns=("bboxs", "width", "height"), paper=PAPER)
def bbox(prompts: Any = None, completions: Any = (), *, bboxs: Any = None, width: Any = None,
         height: Any = None, coords: str = "resized", min_pixels: int = MIN_PIXELS,
         max_pixels: int = MAX_PIXELS, **_: Any) -> list[float | None]:
    """Union IoU of the ``<bbox>`` boxes with ``bboxs``: area of the two unions' overlap over the
    area of their union plus 1e-6, a box read from any two opposite corners (shapely's ``box``).
    ``coords="resized"`` (SATORI): predictions are pixels of the Qwen smart_resize frame and are
    scaled to the original image; ``"original"``: already original pixels. Unparsable or missing
    ``<bbox>``: 0; rows without boxes: None."""
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
