r"""LOVE-R1 rewards: zoom-in validity (format) and accuracy, per generation step.

Source: ``HumanMLLM/LOVE-R1`` @ aa1facb ``src/r1-v/src/open_r1/trainer/grpo_trainer.py``
(``_generate_and_score_completions``), read case by case:

* multiple choice (``tgt`` is None). A completion that starts with exactly
  ``"I need to zoom in on the video.\n\n"`` zooms: the text of the FIRST ``\boxed{`` up to the
  next ``}`` must be ``[s, e]`` (no space inside the braces' ends), each element an ``int()``
  after stripping, sorted (``[40, 20]`` is the zoom 20..40); valid when 0 <= s, e <= D + 1,
  1 <= e - s <= min(D / 2, 60) and its 1-D IoU with every interval already zoomed is at most
  0.7. Its accuracy is that of the answer given after zooming, a second turn: None here.
  A completion that starts with exactly ``"I get the answer.\n\n"`` answers: accuracy 1 when
  the first character after the first ``\boxed{`` equals the ground truth (the ``solution``
  between ``<answer>`` and ``</answer>``), case-insensitive; no ``\boxed{``: format 0.
  Any other completion keeps format 1 and scores accuracy 0.
* grounding (``tgt`` given): the prompt ends with the zoom prefix, so the completion is read as
  a zoom directly; accuracy 1 when the interval overlaps any ``tgt`` interval (1-D IoU > 0).

Format is 1 unless the zoom or the answer cannot be read or fails a rule; accuracy is 0 whenever
format is 0. ``require_prefix=False`` is the lenient reading: a completion without either prefix
is read as a zoom when its first box holds ``[...]``, else as an answer.

The registered rewards score one step. :func:`decoupled` scores a whole rollout of the released
trainer's two steps (the second after the clip is appended: :func:`step2_intervals`), as
``r1data train``'s decoupled GRPO does (``r1data/train/zoom.py``); :func:`metrics` is ``r1data eval``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from r1data.rewards._core import column, optional_column, reward, texts

PAPER = "LOVE-R1 (HumanMLLM/LOVE-R1 @ aa1facb), open_r1/trainer/grpo_trainer.py"
ZOOM_PREFIX = "I need to zoom in on the video.\n\n"
ANSWER_PREFIX = "I get the answer.\n\n"


@dataclass(frozen=True)
class Step:
    kind: str                          # "zoom", "answer", "other" (no prefix) or "invalid"
    interval: tuple[int, int] | None = None
    letter: str | None = None          # the answer's first boxed character
    values: tuple[int, ...] = ()       # every number of the zoom, sorted (upstream keeps them all)


def iou_1d(a: Any, b: Any) -> float:
    """grpo_trainer.iou_1d: 0 unless the intervals overlap; intersection over summed lengths
    minus it. Unpacks two ends each (a zoom read with three numbers fails here, as upstream)."""
    (s1, e1), (s2, e2) = a, b
    lo, hi = max(s1, s2), min(e1, e2)
    if lo >= hi:
        return 0.0
    union = (e1 - s1) + (e2 - s2) - (hi - lo)
    return (hi - lo) / union if union != 0 else 0.0


def _first_boxed(text: str) -> str | None:
    """``text.split("\\boxed{")[1].split("}")[0]``: no brace balancing, no strip."""
    parts = text.split("\\boxed{", 1)
    return parts[1].split("}", 1)[0] if len(parts) == 2 else None


def parse_zoom(text: str, duration: float, zoomed: list | None, max_iou: float = 0.7,
               max_span: float = 60.0) -> Step:
    """The zoom request of a step, checked against the rules; ``Step("invalid")`` otherwise."""
    boxed = _first_boxed(text)
    if boxed is None or not boxed.startswith("[") or not boxed.endswith("]"):
        return Step("invalid")
    try:
        values = sorted(int(v.strip()) for v in boxed[1:-1].split(","))
        s, e = values[0], values[1]
        d = float(duration)
        if s < 0 or e < 0 or s > d + 1 or e > d + 1 or e - s > min(d / 2, max_span) or e - s < 1:
            return Step("invalid")
        # the earlier zooms as the trainer keeps them: rounded to integers
        earlier = [[int(round(z[0])), int(round(z[1]))] for z in (zoomed or [])]
        if any(iou_1d(values, z) > max_iou for z in earlier):
            return Step("invalid")
    except (ValueError, IndexError, TypeError):
        return Step("invalid")
    return Step("zoom", (s, e), values=tuple(values))


def parse_step(text: str, duration: float, zoomed: list | None, max_iou: float = 0.7,
               max_span: float = 60.0, require_prefix: bool = True) -> Step:
    """Read one multiple-choice generation step (see the module docstring)."""
    if text.startswith(ZOOM_PREFIX):
        return parse_zoom(text, duration, zoomed, max_iou, max_span)
    if text.startswith(ANSWER_PREFIX):
        boxed = text.split("\\boxed{", 1)
        if len(boxed) < 2 or not boxed[1]:
            return Step("invalid")
        return Step("answer", letter=boxed[1][0])
    if require_prefix:
        return Step("other")
    boxed = _first_boxed(text)
    if boxed is None:
        return Step("invalid")
    if boxed.startswith("["):
        return parse_zoom(text, duration, zoomed, max_iou, max_span)
    return Step("answer", letter=boxed[:1] or None)


def ground_truth(answer: Any) -> str | None:
    """The trainer's ``solution[len('<answer>'):][:-len('</answer>')]`` (a bare string is taken whole)."""
    if answer is None:
        return None
    text = str(answer)
    if text.startswith("<answer>") and text.endswith("</answer>"):
        text = text[len("<answer>"):-len("</answer>")]
    return text


def score(text: str, duration: Any, zoomed: Any, answer: Any, tgt: Any, max_iou: float = 0.7,
          max_span: float = 60.0, require_prefix: bool = True) -> tuple[float, float | None]:
    """(format, accuracy) of one step; accuracy None for a zoom on a multiple-choice row."""
    if tgt is not None:   # grounding sample: the step is a zoom (the prefix is in the prompt)
        step = parse_zoom(text, float(duration), list(zoomed or []), max_iou, max_span)
        if step.kind != "zoom":
            return 0.0, 0.0
        try:
            hit = any(iou_1d(step.values, t) > 0 for t in tgt)
        except (ValueError, TypeError):   # a zoom with three numbers: upstream's unpacking fails
            return 0.0, 0.0
        return 1.0, float(hit)
    step = parse_step(text, float(duration), list(zoomed or []), max_iou, max_span, require_prefix)
    if step.kind == "invalid":
        return 0.0, 0.0
    if step.kind == "zoom":
        return 1.0, None
    if step.kind == "other":
        return 1.0, 0.0
    truth = ground_truth(answer)
    return 1.0, float(truth is not None and step.letter is not None and step.letter.lower() == truth.lower())


def step2_intervals(step1: str, duration: float, zoomin_intervals: Any, tgt: Any, max_iou: float = 0.7,
                    max_span: float = 60.0) -> list[list[int]]:
    """The zoomed intervals the second generation is shown (the trainer's ``answer_zoomin_intervals``).

    A grounding row: the row's own ``zoomin_intervals`` (its first step saw none). A multiple-choice
    row: the row's intervals plus the step-1 zoom when it is valid; none at all when step 1 began a
    zoom it did not write validly; the row's intervals when step 1 did not zoom. Rounded, sorted."""
    from r1data.corpora.love.protocol import normalize_intervals

    existing = normalize_intervals(zoomin_intervals)
    if tgt is not None or not step1.startswith(ZOOM_PREFIX):
        return existing
    zoom = parse_zoom(step1, float(duration), existing, max_iou, max_span)
    if zoom.kind != "zoom":
        return []
    return normalize_intervals(existing + [list(zoom.interval)])


@dataclass(frozen=True)
class Decoupled:
    """LOVE-R1's per-step rewards of one rollout (two single-step generations).

    ``first``/``second``: (format, accuracy) of the step-1 and step-2 generations. ``masked``: the
    rollout is left out of training and of its group's mean and std (a multiple-choice row whose
    second step zoomed again). ``zoomed``: step 1 of a multiple-choice row asked to zoom in."""

    first: tuple[float, float]
    second: tuple[float, float]
    masked: bool = False
    zoomed: bool = False


def decoupled(step1: str, step2: str, duration: Any, zoomin_intervals: Any, answer: Any, tgt: Any,
              max_iou: float = 0.7, max_span: float = 60.0) -> Decoupled:
    """The two steps' rewards as the released trainer assigns them (case by case, the module docstring).

    Multiple choice: step 1's format fails on an invalid zoom or an answer without ``\\boxed{``; its
    accuracy is its letter, or, when it zoomed, the accuracy of step 2, the answer after the clip
    (step 2 is read without a prefix rule: any ``\\boxed{`` letter counts; a second zoom masks the
    rollout). Grounding (``tgt`` given): each step is a zoom scored by its overlap with ``tgt``;
    step 1 against no earlier zoom, step 2 against the row's ``zoomin_intervals``. Accuracy is 0
    wherever format is 0 and everywhere in a masked rollout."""
    d = float(duration)
    truth = ground_truth(answer)
    if tgt is not None:
        f1, a1 = score(step1, d, [], answer, tgt, max_iou, max_span)
        shown = step2_intervals(step1, d, zoomin_intervals, tgt, max_iou, max_span)
        f2, a2 = score(step2, d, shown, answer, tgt, max_iou, max_span)
        return Decoupled((f1, a1 if f1 else 0.0), (f2, a2 if f2 else 0.0))
    existing = [list(iv) for iv in (zoomin_intervals or [])]
    f1, a1 = 1.0, 0.0
    zoomed = step1.startswith(ZOOM_PREFIX)
    if zoomed and parse_zoom(step1, d, existing, max_iou, max_span).kind != "zoom":
        f1 = 0.0
    if step1.startswith(ANSWER_PREFIX):
        parts = step1.split("\\boxed{", 1)
        if len(parts) < 2 or not parts[1]:
            f1 = 0.0
        else:
            a1 = float(truth is not None and parts[1][0].lower() == truth.lower())
    masked = False
    a2 = 0.0
    if step2.startswith(ZOOM_PREFIX):
        masked = True
    elif "\\boxed{" in step2:
        rest = step2.split("\\boxed{", 1)[1]
        a2 = float(bool(rest) and truth is not None and rest[0].lower() == truth.lower())
    if zoomed:
        a1 = a2
    if masked:
        a1 = a2 = 0.0
    if not f1:
        a1 = 0.0
    return Decoupled((f1, a1), (1.0, a2), masked, zoomed)


_COLUMNS = ("duration", "zoomin_intervals", "answer", "tgt")


def _rows(completions: Any, duration: Any, zoomin_intervals: Any, answer: Any, tgt: Any, name: str,
          max_iou: float, max_span: float, require_prefix: bool) -> list[tuple[float, float | None] | None]:
    t = texts(completions)
    n = len(t)
    dur = column(duration, n, "duration", name)
    zoomed = optional_column(zoomin_intervals, n, "zoomin_intervals", name)
    ans = optional_column(answer, n, "answer", name)
    tg = optional_column(tgt, n, "tgt", name)
    return [None if dur[i] is None else score(t[i], dur[i], zoomed[i], ans[i], tg[i], max_iou, max_span, require_prefix)
            for i in range(n)]


@reward("love.format", columns=_COLUMNS, paper=PAPER)
def format_(prompts: Any = None, completions: Any = (), *, duration: Any = None, zoomin_intervals: Any = None,
            answer: Any = None, tgt: Any = None, max_iou: float = 0.7, max_span: float = 60.0,
            require_prefix: bool = True, **_: Any) -> list[float | None]:
    """1 for a readable answer or a valid zoom request (integer seconds inside [0, D + 1], length
    1..min(D/2, 60), IoU <= 0.7 with earlier zooms); grounding rows must zoom."""
    rows = _rows(completions, duration, zoomin_intervals, answer, tgt, "love.format", max_iou, max_span,
                 require_prefix)
    return [None if r is None else r[0] for r in rows]


@reward("love.accuracy", columns=_COLUMNS, paper=PAPER)
def accuracy(prompts: Any = None, completions: Any = (), *, duration: Any = None, zoomin_intervals: Any = None,
             answer: Any = None, tgt: Any = None, max_iou: float = 0.7, max_span: float = 60.0,
             require_prefix: bool = True, **_: Any) -> list[float | None]:
    """Answer: the boxed letter is the GT letter; grounding: the zoom overlaps a ``tgt`` interval;
    a zoom on a multiple-choice row: None (scored by the answer after zooming)."""
    rows = _rows(completions, duration, zoomin_intervals, answer, tgt, "love.accuracy", max_iou, max_span,
                 require_prefix)
    return [None if r is None else r[1] for r in rows]


@reward("love.total", columns=_COLUMNS, paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, duration: Any = None, zoomin_intervals: Any = None,
          answer: Any = None, tgt: Any = None, max_iou: float = 0.7, max_span: float = 60.0,
          require_prefix: bool = True, **_: Any) -> list[float | None]:
    """format + accuracy; None where accuracy waits for the answer after a zoom."""
    rows = _rows(completions, duration, zoomin_intervals, answer, tgt, "love.total", max_iou, max_span,
                 require_prefix)
    return [None if r is None or r[1] is None else r[0] + r[1] for r in rows]


def metrics(completions: list[str], columns: dict[str, list[Any]]) -> dict[str, float | int | None]:
    """``r1data eval``'s numbers for the love corpus: accuracy of the multiple-choice rows (the boxed
    letter of an answer step), the hit rate of the grounding rows (a valid zoom overlapping a clue),
    each question kind's accuracy, and how often the completion is a zoom request or an answer."""
    n = len(completions)
    get = lambda name: columns.get(name) or [None] * n  # noqa: E731
    durations, zoomed, answers, tgts, kinds = get("duration"), get("zoomin_intervals"), get("answer"), get("tgt"), \
        get("question_kind")
    mcq, hits, per_kind = [], [], {}
    for i, text in enumerate(completions):
        if durations[i] is None:
            continue
        f, a = score(text, durations[i], zoomed[i], answers[i], tgts[i])
        value = 0.0 if a is None else a
        (hits if tgts[i] is not None else mcq).append(value)
        if kinds[i]:
            per_kind.setdefault(kinds[i], []).append(value)
    out: dict[str, float | int | None] = {
        "accuracy": sum(mcq) / len(mcq) if mcq else None, "rows.multiple_choice": len(mcq),
        "grounding_hit_rate": sum(hits) / len(hits) if hits else None, "rows.grounding": len(hits),
        "zoom_rate": sum(t.startswith(ZOOM_PREFIX) for t in completions) / n if n else None,
        "answer_rate": sum(t.startswith(ANSWER_PREFIX) for t in completions) / n if n else None,
    }
    for kind, values in sorted(per_kind.items()):
        out[f"accuracy.{kind}"] = sum(values) / len(values)
    return out
