"""LongVILA-R1 (LongVideo-Reason) rewards: accuracy on the option letter, strict format, total.

Source: ``NVlabs/Long-RL`` ``examples/reward_function/r1v.py``: overall = 0.9 accuracy + 0.1
format (``format_weight=0.1``). The ``answer`` column is ``"<answer>X</answer>"``; its span is the
ground truth (``verl/utils/dataset.py``). Accuracy is ``mathruler``'s ``grade_answer`` of the
completion's ``<answer>`` span (read with every space and newline removed) against it: an exact
comparison after normalisation, so ``B.`` or ``B. The man runs`` do not match ``B``
(``lenient=True`` compares option letters as letters).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from r1data.rewards._core import column, reward, texts, weighted
from r1data.rewards.format import strict_think_answer
from r1data.rewards.matching import answers_match, grade_answer

PAPER = "LongVILA-R1 (NVlabs/Long-RL), examples/reward_function/r1v.py"
_ANSWER = re.compile(r"<answer>(.*?)</answer>")   # r1v.py and dataset.py: no DOTALL


def ground_truth(answer: str | None) -> str | None:
    """``"<answer>B</answer>"`` -> ``"B"`` (dataset.py's span, stripped as r1v.py strips it); a
    bare ``"B"`` is taken whole. None when there is nothing to compare with."""
    if answer is None:
        return None
    answer = str(answer)
    if "<answer>" in answer:
        m = _ANSWER.search(answer)
        if m is None:
            return None
        answer = m.group(1)
    return answer.strip() or None


def given_answer(text: str) -> str:
    """r1v.py: the ``<answer>`` content searched with every space and newline removed, else
    the whole response as it is (stripped, spaces kept)."""
    m = _ANSWER.search(text.replace("\n", "").replace(" ", ""))
    return m.group(1).strip() if m else text.strip()


def accuracy_scores(completions: list[str], answer: list[Any], lenient: bool = False) -> list[float | None]:
    match = answers_match if lenient else grade_answer
    out: list[float | None] = []
    for text, ans in zip(completions, answer):
        truth = ground_truth(ans)
        out.append(None if truth is None else float(match(given_answer(text), truth)))
    return out


@reward("longvideo.accuracy", columns=("answer",), paper=PAPER)
def accuracy(prompts: Any = None, completions: Any = (), *, answer: Any = None, lenient: bool = False,
             **_: Any) -> list[float | None]:
    """1 when ``mathruler``'s ``grade_answer`` accepts the ``<answer>`` span for the reference
    (``B``, ``b``, ``(B)`` for ``B``; not ``B.``); ``lenient``: any answer naming the option letter."""
    t = texts(completions)
    return accuracy_scores(t, column(answer, len(t), "answer", "longvideo.accuracy"), lenient)


@reward("longvideo.format", paper=PAPER)
def format_(prompts: Any = None, completions: Any = (), *, strip_whitespace: bool = False,
            **_: Any) -> list[float | None]:
    """1 when the completion is exactly ``<think>..</think>`` then ``<answer>..</answer>``."""
    return [strict_think_answer(t, strip_whitespace) for t in texts(completions)]


@reward("longvideo.total", columns=("answer",), paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, answer: Any = None, format_weight: float = 0.1,
          lenient: bool = False, strip_whitespace: bool = False, **_: Any) -> list[float | None]:
    """(1 - format_weight) x accuracy + format_weight x format: 0.9 / 0.1 by default."""
    t = texts(completions)
    acc = accuracy_scores(t, column(answer, len(t), "answer", "longvideo.total"), lenient)
    fmt = [strict_think_answer(x, strip_whitespace) for x in t]
    return weighted([(1 - format_weight, acc), (format_weight, fmt)], none_as_zero=False)


def metrics(completions: list[str], columns: dict[str, list[Any]]) -> dict[str, float | int | None]:
    """Accuracy overall and per ``problem_type``, and the format rate."""
    n = len(completions)
    acc = accuracy_scores(completions, columns.get("answer") or [None] * n)
    kinds = columns.get("problem_type") or [None] * n
    out: dict[str, float | int | None] = {}
    scored = [a for a in acc if a is not None]
    out["accuracy"] = float(np.mean(scored)) if scored else None
    for kind in sorted({k for k in kinds if k}):
        vals = [a for a, k in zip(acc, kinds) if k == kind and a is not None]
        if vals:
            out[f"accuracy.{kind}"] = float(np.mean(vals))
    out["format_rate"] = float(np.mean([strict_think_answer(t) for t in completions])) if completions else None
    return out
