"""LongVILA-R1 (LongVideo-Reason) rewards: accuracy on the option letter, strict format, total.

Source: ``NVlabs/Long-RL`` ``examples/reward_function/r1v.py``: overall = 0.9 accuracy + 0.1
format (``format_weight=0.1``). The ``answer`` column is ``"<answer>X</answer>"``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from r1data.parsing import tag_content
from r1data.rewards._core import column, reward, texts, weighted
from r1data.rewards.format import strict_think_answer
from r1data.rewards.matching import answers_match

PAPER = "LongVILA-R1 (NVlabs/Long-RL), examples/reward_function/r1v.py"
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def ground_truth(answer: str | None) -> str | None:
    """``"<answer>B</answer>"`` -> ``"B"`` (a bare ``"B"`` is accepted too)."""
    if answer is None:
        return None
    inner = tag_content(answer, "answer")
    return (inner if inner is not None else answer).strip() or None


def given_answer(text: str) -> str:
    """r1v.py: the ``<answer>`` content searched with every space and newline removed,
    falling back to the whole response."""
    squeezed = text.replace("\n", "").replace(" ", "")
    m = _ANSWER.search(squeezed)
    return m.group(1).strip() if m else squeezed.strip()


def accuracy_scores(completions: list[str], answer: list[Any]) -> list[float | None]:
    out: list[float | None] = []
    for text, ans in zip(completions, answer):
        truth = ground_truth(ans)
        out.append(None if truth is None else float(answers_match(given_answer(text), truth)))
    return out


@reward("longvideo.accuracy", columns=("answer",), paper=PAPER)
def accuracy(prompts: Any = None, completions: Any = (), *, answer: Any = None, **_: Any) -> list[float | None]:
    """1 when the ``<answer>`` names the reference option letter (``B``, ``(B)``, ``B.``...), else 0."""
    t = texts(completions)
    return accuracy_scores(t, column(answer, len(t), "answer", "longvideo.accuracy"))


@reward("longvideo.format", paper=PAPER)
def format_(prompts: Any = None, completions: Any = (), **_: Any) -> list[float | None]:
    """1 when the completion is exactly ``<think>..</think>`` then ``<answer>..</answer>``."""
    return [strict_think_answer(t) for t in texts(completions)]


@reward("longvideo.total", columns=("answer",), paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, answer: Any = None, format_weight: float = 0.1,
          **_: Any) -> list[float | None]:
    """(1 - format_weight) x accuracy + format_weight x format: 0.9 / 0.1 by default."""
    t = texts(completions)
    acc = accuracy_scores(t, column(answer, len(t), "answer", "longvideo.total"))
    fmt = [strict_think_answer(x) for x in t]
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
