"""3D-R1 (Scene-30K) rewards: format, perception (3D box IoU), semantic similarity, total.

Source: ``AIGeeksGroup/3D-R1`` @ 767a5e2 ``models/rl/reward_functions.py``; total = 0.3 format +
0.4 perception + 0.3 semantic (``compute_total_reward``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from r1data.geometry import box3d_iou
from r1data.parsing import normalize_answer, parse_boxes3d, parse_think_answer
from r1data.rewards._core import column, optional_column, reward, texts, weighted
from r1data.rewards.format import graded_think_answer, strict_think_answer

PAPER = "3D-R1 (arXiv 2507.23478), models/rl/reward_functions.py"
# extract_boxes_from_text: anywhere in the completion, digits, dots, commas, minus signs and spaces
_BOX = re.compile(r"box:\s*\[([\d\.,\-\s]+)\]")


def released_boxes(text: str) -> list[list[float]]:
    """Every box 3D-R1's reward reads: ``box: [..]`` anywhere in the text (think included), six
    comma-separated floats (``float()`` of each part; one bad part drops that box)."""
    boxes = []
    for m in _BOX.finditer(text):
        try:
            values = [float(x.strip()) for x in m.group(1).split(",")]
        except ValueError:
            continue
        if len(values) == 6:
            boxes.append(values)
    return boxes


def answer_text(text: str) -> str:
    """The ``<answer>`` content, or the whole text when there is none (3D-R1's fallback)."""
    parsed = parse_think_answer(text)
    return parsed.answer if parsed.answer is not None else text.strip()


@reward("scene30k.format", paper=PAPER)
def format_graded(prompts: Any = None, completions: Any = (), **_: Any) -> list[float | None]:
    """3D-R1's graded format reward: 0.5 both tags + 0.25 think > 20 chars + 0.25 answer > 10 chars."""
    return [graded_think_answer(t) for t in texts(completions)]


@reward("scene30k.format_strict", paper=PAPER)
def format_strict(prompts: Any = None, completions: Any = (), *, strip_whitespace: bool = False,
                  **_: Any) -> list[float | None]:
    """1 when the completion is exactly ``<think>...</think><answer>...</answer>``, else 0."""
    return [strict_think_answer(t, strip_whitespace) for t in texts(completions)]


def perception_scores(completions: list[str], target_box: list[Any],
                      answer_only: bool = False) -> list[float | None]:
    """Mean over the completion's ``box: [x1, y1, z1, x2, y2, z2]`` of the 3D IoU with ``target_box``
    (``answer_only``: boxes inside ``<answer>`` only, any number format ``parse_boxes3d`` reads)."""
    rows, preds, gts = [], [], []
    out: list[float | None] = []
    for i, (text, gt) in enumerate(zip(completions, target_box)):
        if gt is None:
            out.append(None)
            continue
        out.append(0.0)
        for box in (parse_boxes3d(answer_text(text)) if answer_only else released_boxes(text)):
            b = np.asarray(box, dtype=np.float64)
            # 3D-R1 turns the two corners into 8 and takes min/max: the corner order does not matter
            preds.append(np.concatenate([np.minimum(b[:3], b[3:]), np.maximum(b[:3], b[3:])]))
            g = np.asarray(gt, dtype=np.float64).reshape(6)
            gts.append(np.concatenate([np.minimum(g[:3], g[3:]), np.maximum(g[:3], g[3:])]))
            rows.append(i)
    if rows:
        ious = box3d_iou(np.asarray(preds), np.asarray(gts, dtype=np.float64))
        idx = np.asarray(rows)
        sums = np.bincount(idx, weights=ious, minlength=len(out))
        counts = np.bincount(idx, minlength=len(out))
        for i in set(rows):
            out[i] = float(sums[i] / counts[i])
    return out


@reward("scene30k.perception", columns=("target_box",), paper=PAPER)
def perception(prompts: Any = None, completions: Any = (), *, target_box: Any = None,
               answer_only: bool = False, **_: Any) -> list[float | None]:
    """Axis-aligned 3D IoU of each ``box: [x1, y1, z1, x2, y2, z2]`` in the completion (3D-R1's
    pattern, anywhere) with ``target_box``; ``answer_only``: boxes inside ``<answer>`` only.

    Several boxes: the mean of their IoUs; none parsable: 0; rows without a target box: None."""
    t = texts(completions)
    return perception_scores(t, column(target_box, len(t), "target_box", "scene30k.perception"), answer_only)


_ANSWER_SPAN = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def _semantic_text(text: str) -> str:
    """compute_semantic_similarity_reward: the ``<answer>`` content stripped, else the text as it is."""
    m = _ANSWER_SPAN.search(text)
    return m.group(1).strip() if m else text


def semantic_scores(completions: list[str], answer: list[Any], answers: list[Any],
                    model: str | None = None, truncate: bool = False) -> list[float | None]:
    from r1data.rewards.embedding import cosine_pairs

    preds, refs, rows = [], [], []
    out: list[float | None] = [None] * len(completions)
    for i, text in enumerate(completions):
        references = [a for a in (answers[i] or []) if a] or ([answer[i]] if answer[i] else [])
        if not references:
            continue
        predicted = _semantic_text(text)
        for ref in references:
            preds.append(predicted)
            refs.append(_semantic_text(str(ref)))
            rows.append(i)
    if rows:
        sims = cosine_pairs(preds, refs, model, truncate)
        for i, s in zip(rows, sims):
            out[i] = float(s) if out[i] is None else max(out[i], float(s))  # type: ignore[type-var]
    return out


def semantic_encoder(params: dict[str, Any]) -> str:
    """Which encoder scores ``scene30k.semantic`` with these parameters on this machine."""
    from r1data.rewards.embedding import resolve_encoder

    return resolve_encoder(params.get("model")).description


@reward("scene30k.semantic", columns=("answer", "answers"), paper=PAPER, rule_based=False, backend=semantic_encoder)
def semantic(prompts: Any = None, completions: Any = (), *, answer: Any = None, answers: Any = None,
             model: str | None = None, truncate: bool = False, **_: Any) -> list[float | None]:
    """Cosine similarity in [-1, 1] of text embeddings of the predicted answer and the reference
    (the best over ``answers`` when given): CLIP ViT-B/32's text features, as 3D-R1, when their
    weights are on this machine ($R1DATA_CLIP_MODEL or the Hugging Face cache), else
    all-MiniLM-L6-v2. ``model``: "clip", "clip:FOLDER", "minilm" or a sentence-transformers
    folder. With CLIP a text over its 77 tokens scores 0, as 3D-R1's (``truncate``: cut it)."""
    t = texts(completions)
    n = len(t)
    return semantic_scores(t, column(answer, n, "answer", "scene30k.semantic"),
                           optional_column(answers, n, "answers", "scene30k.semantic"), model, truncate)


@reward("scene30k.total", columns=("answer", "answers", "target_box"), paper=PAPER, rule_based=False,
        backend=semantic_encoder)
def total(prompts: Any = None, completions: Any = (), *, answer: Any = None, answers: Any = None,
          target_box: Any = None, w_format: float = 0.3, w_perception: float = 0.4,
          w_semantic: float = 0.3, model: str | None = None, truncate: bool = False,
          **_: Any) -> list[float | None]:
    """0.3 format (graded) + 0.4 perception + 0.3 semantic; perception counts 0 on rows without
    a target box, as in 3D-R1 (so those rows top out at 0.6)."""
    t = texts(completions)
    n = len(t)
    name = "scene30k.total"
    fmt = [graded_think_answer(x) for x in t]
    per = perception_scores(t, optional_column(target_box, n, "target_box", name))
    sem = semantic_scores(t, column(answer, n, "answer", name), optional_column(answers, n, "answers", name),
                          model, truncate)
    return weighted([(w_format, fmt), (w_perception, per), (w_semantic, sem)])


# -- corpus metrics ----------------------------------------------------------------------------

_NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                 "seven": "7", "eight": "8", "nine": "9", "ten": "10"}


def _canon(text: str | None) -> str:
    return " ".join(_NUMBER_WORDS.get(w, w) for w in normalize_answer(text).split())


def metrics(completions: list[str], columns: dict[str, list[Any]]) -> dict[str, float | int | None]:
    """Exact match (normalised, number words as digits) on question rows, overall and per
    ``question_type``; 3D IoU, Acc@0.25 and Acc@0.5 on referring rows (ScanRefer's metrics)."""
    n = len(completions)
    target = columns.get("target_box") or [None] * n
    answer = columns.get("answer") or [None] * n
    answers = columns.get("answers") or [None] * n
    kinds = columns.get("question_type") or [None] * n
    ious = [v for v in perception_scores(completions, target) if v is not None]
    em: list[float] = []
    by_kind: dict[str, list[float]] = {}
    for i, text in enumerate(completions):
        if target[i] is not None:
            continue
        refs = {_canon(a) for a in (answers[i] or []) if a} or {_canon(answer[i])}
        em.append(float(_canon(answer_text(text)) in refs))
        if kinds[i]:
            by_kind.setdefault(kinds[i], []).append(em[-1])
    out: dict[str, float | int | None] = {
        "exact_match": float(np.mean(em)) if em else None,
        "exact_match_rows": len(em),
    }
    for kind in sorted(by_kind):
        out[f"exact_match.{kind}"] = float(np.mean(by_kind[kind]))
    out.update({
        "grounding_iou": float(np.mean(ious)) if ious else None,
        "acc@0.25": float(np.mean(np.asarray(ious) >= 0.25)) if ious else None,
        "acc@0.5": float(np.mean(np.asarray(ious) >= 0.5)) if ious else None,
        "grounding_rows": len(ious),
    })
    return out
