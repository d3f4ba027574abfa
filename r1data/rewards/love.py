"""LOVE-R1 rewards: zoom-in validity (format) and accuracy, per generation step.

Source: ``HumanMLLM/LOVE-R1`` ``src/r1-v/src/open_r1/trainer/grpo_trainer.py``
(``_generate_and_score_completions``). A completion either zooms,
``I need to zoom in on the video.\\n\\n ... \\boxed{[s, e]}`` (integer seconds), or answers,
``I get the answer.\\n\\n ... \\boxed{X}``. A zoom is valid when both ends are integers,
0 <= s, e <= D + 1, 1 <= e - s <= min(D / 2, 60), and its IoU with every interval already
zoomed is at most 0.7. Format = 1 unless parsing or validation fails; accuracy is 0
whenever format is 0.

* multiple choice (no ``tgt``): an answer scores 1 when the first character of the boxed
  text is the GT letter (case-insensitive). A zoom's accuracy is the accuracy of the answer
  given after zooming, which needs the second turn: this single-turn reward returns None for it.
* grounding (``tgt`` given): the step is a forced zoom; accuracy 1 when the interval
  overlaps any ``tgt`` interval (1-D IoU > 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from r1data.geometry import interval_iou
from r1data.parsing import parse_boxed, tag_content
from r1data.rewards._core import column, optional_column, reward, texts

PAPER = "LOVE-R1 (HumanMLLM/LOVE-R1), open_r1/trainer/grpo_trainer.py"
_INTERVAL = re.compile(r"^\[\s*([-+]?\d+(?:\.\d+)?)\s*,\s*([-+]?\d+(?:\.\d+)?)\s*\]$")


@dataclass(frozen=True)
class Step:
    kind: str                          # "zoom", "answer" or "invalid"
    interval: tuple[int, int] | None = None
    letter: str | None = None


def parse_step(text: str, duration: float, zoomed: list | None, max_iou: float = 0.7,
               max_span: float = 60.0) -> Step:
    """Read one generation step and check a zoom request against the rules."""
    boxed = parse_boxed(text)
    if boxed is None:
        return Step("invalid")
    m = _INTERVAL.match(boxed)
    if m:
        s_txt, e_txt = m.group(1), m.group(2)
        if "." in s_txt + e_txt:
            return Step("invalid")          # seconds must be integers
        s, e = int(s_txt), int(e_txt)
        d = float(duration)
        if not (0 <= s <= d + 1 and 0 <= e <= d + 1 and 1 <= e - s <= min(d / 2, max_span)):
            return Step("invalid")
        if any(interval_iou((s, e), z) > max_iou for z in (zoomed or [])):
            return Step("invalid")
        return Step("zoom", (s, e))
    if boxed.startswith("["):
        return Step("invalid")
    return Step("answer", letter=boxed[:1].upper() if boxed else None)


def _truth_letter(answer: Any) -> str | None:
    if answer is None:
        return None
    inner = tag_content(str(answer), "answer")
    text = (inner if inner is not None else str(answer)).strip()
    return text[:1].upper() or None


def score(text: str, duration: Any, zoomed: Any, answer: Any, tgt: Any, max_iou: float = 0.7,
          max_span: float = 60.0) -> tuple[float, float | None]:
    """(format, accuracy) of one step; accuracy None for a zoom on a multiple-choice row."""
    step = parse_step(text, float(duration), list(zoomed or []), max_iou, max_span)
    if tgt:   # grounding sample: the step must zoom onto a clue interval
        if step.kind != "zoom":
            return 0.0, 0.0
        hit = any(interval_iou(step.interval, t) > 0 for t in tgt)  # type: ignore[arg-type]
        return 1.0, float(hit)
    if step.kind == "invalid":
        return 0.0, 0.0
    if step.kind == "zoom":
        return 1.0, None
    truth = _truth_letter(answer)
    return 1.0, float(truth is not None and step.letter == truth)


_COLUMNS = ("duration", "zoomin_intervals", "answer", "tgt")


def _rows(completions: Any, duration: Any, zoomin_intervals: Any, answer: Any, tgt: Any, name: str,
          max_iou: float, max_span: float) -> list[tuple[float, float | None] | None]:
    t = texts(completions)
    n = len(t)
    dur = column(duration, n, "duration", name)
    zoomed = optional_column(zoomin_intervals, n, "zoomin_intervals", name)
    ans = optional_column(answer, n, "answer", name)
    tg = optional_column(tgt, n, "tgt", name)
    return [None if dur[i] is None else score(t[i], dur[i], zoomed[i], ans[i], tg[i], max_iou, max_span)
            for i in range(n)]


@reward("love.format", columns=_COLUMNS, paper=PAPER)
def format_(prompts: Any = None, completions: Any = (), *, duration: Any = None, zoomin_intervals: Any = None,
            answer: Any = None, tgt: Any = None, max_iou: float = 0.7, max_span: float = 60.0,
            **_: Any) -> list[float | None]:
    """1 for a readable answer or a valid zoom request (integer seconds inside [0, D + 1], length
    1..min(D/2, 60), IoU <= 0.7 with earlier zooms); grounding rows must zoom."""
    rows = _rows(completions, duration, zoomin_intervals, answer, tgt, "love.format", max_iou, max_span)
    return [None if r is None else r[0] for r in rows]


@reward("love.accuracy", columns=_COLUMNS, paper=PAPER)
def accuracy(prompts: Any = None, completions: Any = (), *, duration: Any = None, zoomin_intervals: Any = None,
             answer: Any = None, tgt: Any = None, max_iou: float = 0.7, max_span: float = 60.0,
             **_: Any) -> list[float | None]:
    """Answer: the boxed letter is the GT letter; grounding: the zoom overlaps a ``tgt`` interval;
    a zoom on a multiple-choice row: None (scored by the answer after zooming)."""
    rows = _rows(completions, duration, zoomin_intervals, answer, tgt, "love.accuracy", max_iou, max_span)
    return [None if r is None else r[1] for r in rows]


@reward("love.total", columns=_COLUMNS, paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, duration: Any = None, zoomin_intervals: Any = None,
          answer: Any = None, tgt: Any = None, max_iou: float = 0.7, max_span: float = 60.0,
          **_: Any) -> list[float | None]:
    """format + accuracy; None where accuracy waits for the answer after a zoom."""
    rows = _rows(completions, duration, zoomin_intervals, answer, tgt, "love.total", max_iou, max_span)
    return [None if r is None or r[1] is None else r[0] + r[1] for r in rows]
