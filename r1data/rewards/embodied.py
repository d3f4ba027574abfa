"""Embodied-R1 (Embodied-Points-200K) rewards, per data type.

Source: ``pickxiguapi/Embodied-R1`` ``verl/utils/reward_score/embodiedr1.py``
(``embodiedr1_compute_score``). The ``answer`` column is the released string
``"<type>TYPE</type>PAYLOAD"``; the completion is
``<think>..</think><answer><point>[[x, y], ...]</point></answer>`` (QA types: a text answer).

=================  ============================================================================
type               overall
=================  ============================================================================
general_qa,        0.1 think_fmt + 0.9 acc (mathruler grade_answer)
spatial_qa
point_ref          0.1 think_fmt + 0.1 point_fmt + 0.8 point_l1(pred, gt points)
fsd_free_point     0.1 think_fmt + 0.1 point_fmt + 0.6 frac(pred in bbox) + 0.2 point_l1(pred, free_points)
fsd_visual_trace   0.1 think_fmt + 0.1 point_fmt + 0.1 [n == 8] + 0.3 d(DFD, 10, 100) + 0.4 d(RMSE, 5, 50)
point_rec,         0.1 think_fmt + 0.1 point_fmt + 0.8 frac(pred in polygon)
grounding_rec
=================  ============================================================================
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from r1data.geometry import discrete_frechet_batch, points_in_box, points_in_polygon, polyline_rmse
from r1data.parsing import parse_points
from r1data.rewards._core import column, optional_column, reward, texts
from r1data.rewards.format import strict_think_answer
from r1data.rewards.matching import answers_match, grade_answer

PAPER = "Embodied-R1 (arXiv 2508.13998), verl/utils/reward_score/embodiedr1.py"
QA_TYPES = ("general_qa", "spatial_qa")
POINT_TYPES = ("point_ref", "fsd_free_point", "fsd_visual_trace", "point_rec", "grounding_rec")
DATA_TYPES = QA_TYPES + POINT_TYPES
_TYPE = re.compile(r"<type>(.*?)</type>", re.DOTALL)
_POINT_TAG = re.compile(r"<point>.*?</point>", re.DOTALL)
_ANSWER_NO_DOTALL = re.compile(r"<answer>(.*?)</answer>")   # embodiedr1.accuracy_reward: no DOTALL


@dataclass(frozen=True)
class Target:
    """A parsed ``answer`` column: the type and its payload (a JSON value, or text for QA)."""

    type: str
    payload: Any


def parse_target(answer: str | None, data_type: str | None = None) -> Target | None:
    """``"<type>point_ref</type>[[x, y], ...]"`` -> Target; the ``data_type`` column wins when the
    string has no ``<type>`` tag. None when the payload cannot be read."""
    if not answer:
        return None
    m = _TYPE.search(answer)
    kind = m.group(1).strip() if m else (data_type or "")
    rest = answer[m.end():].strip() if m else answer.strip()
    if kind in QA_TYPES:
        return Target(kind, rest)
    try:
        return Target(kind, json.loads(rest))
    except ValueError:
        return None


def distance_reward(d: float, lo: float, hi: float) -> float:
    """1 at or below ``lo``, 0 at or above ``hi``, linear in between (``distance_to_reward``)."""
    if d <= lo:
        return 1.0
    if d >= hi:
        return 0.0
    return 1.0 - (d - lo) / (hi - lo)


def point_l1(pred: np.ndarray, gt: Any, lo: float = 10.0, hi: float = 50.0) -> float:
    """Mean over predicted points of the Euclidean distance to the nearest GT point, mapped by
    ``distance_reward(., lo, hi)`` (``robopoint_point_l1_reward``; "l1" is the source's name)."""
    gt_arr = np.asarray(gt, dtype=np.float64).reshape(-1, 2)
    if len(pred) == 0 or len(gt_arr) == 0:
        return 0.0
    dist = np.sqrt(((pred[:, None, :] - gt_arr[None, :, :]) ** 2).sum(-1)).min(axis=1)
    return distance_reward(float(dist.mean()), lo, hi)


def qa_answer(text: str) -> str:
    m = _ANSWER_NO_DOTALL.search(text)
    return m.group(1).strip() if m else text.strip()


@dataclass
class Scores:
    """Every component of one row (0 where it does not apply to the type)."""

    think_fmt: float = 0.0
    point_fmt: float = 0.0
    accuracy: float = 0.0          # QA
    point_distance: float = 0.0    # point_ref, fsd_free_point
    in_region: float = 0.0         # fsd_free_point (bbox), point_rec / grounding_rec (polygon)
    trace_length: float = 0.0      # fsd_visual_trace: exactly 8 points
    trace_frechet: float = 0.0
    trace_rmse: float = 0.0
    overall: float = 0.0


def score_rows(completions: list[str], answers: list[Any], data_types: list[Any],
               trace_points: int = 8, lenient_qa: bool = False,
               strip_whitespace: bool = False) -> list[tuple[str, Scores] | None]:
    """Score every row; None for rows whose target cannot be read or whose type is unknown.

    QA accuracy is ``mathruler``'s ``grade_answer`` (``lenient_qa``: option letters compared as
    letters, so ``A.`` or ``(A) left`` match ``(A)``)."""
    match = answers_match if lenient_qa else grade_answer
    out: list[tuple[str, Scores] | None] = []
    traces: list[tuple[int, np.ndarray, np.ndarray]] = []
    targets: dict[tuple[str, str], Any] = {}   # a GRPO group shares its row: read each target once
    for i, (text, ans, dtype) in enumerate(zip(completions, answers, data_types)):
        key = (ans, dtype) if isinstance(ans, str) and (dtype is None or isinstance(dtype, str)) else None
        if key is None:
            target = parse_target(ans, dtype)
        elif key in targets:
            target = targets[key]
        else:
            target = targets[key] = parse_target(ans, dtype)
        if target is None or target.type not in DATA_TYPES:
            out.append(None)
            continue
        s = Scores(think_fmt=strict_think_answer(text, strip_whitespace))
        out.append((target.type, s))
        if target.type in QA_TYPES:
            s.accuracy = float(match(qa_answer(text), str(target.payload).strip()))
            s.overall = 0.1 * s.think_fmt + 0.9 * s.accuracy
            continue
        s.point_fmt = 1.0 if _POINT_TAG.search(text) else 0.0
        pred = parse_points(text) if s.point_fmt else None
        gt = target.payload
        if pred is not None:
            if target.type == "point_ref":
                s.point_distance = point_l1(pred, gt)
            elif target.type == "fsd_free_point" and isinstance(gt, dict):
                if len(pred):
                    s.in_region = float(points_in_box(pred, gt["bbox"]).mean())
                s.point_distance = point_l1(pred, gt.get("free_points", []))
            elif target.type in ("point_rec", "grounding_rec") and isinstance(gt, dict):
                polygon = gt.get("segmentation") or []
                if len(pred) and len(polygon) >= 3:
                    s.in_region = float(points_in_polygon(pred, polygon).mean())
            elif target.type == "fsd_visual_trace" and isinstance(gt, dict):
                trace = np.asarray(gt.get("trajectory") or [], dtype=np.float64).reshape(-1, 2)
                # the paper's anti-hacking rule: the trace terms count only with exactly 8 points
                if len(pred) == trace_points and len(trace):
                    s.trace_length = 1.0
                    traces.append((i, pred, trace))
        if target.type == "fsd_visual_trace":
            continue   # overall after the batched Frechet distances below
        weights = {"point_ref": (0.8, 0.0), "fsd_free_point": (0.2, 0.6)}.get(target.type, (0.0, 0.8))
        s.overall = 0.1 * s.think_fmt + 0.1 * s.point_fmt + weights[0] * s.point_distance + weights[1] * s.in_region
    _score_traces(out, traces)
    for row in out:
        if row is not None and row[0] == "fsd_visual_trace":
            s = row[1]
            s.overall = (0.1 * s.think_fmt + 0.1 * s.point_fmt + 0.1 * s.trace_length
                         + 0.3 * s.trace_frechet + 0.4 * s.trace_rmse)
    return out


def _score_traces(out: list, traces: list[tuple[int, np.ndarray, np.ndarray]]) -> None:
    by_shape: dict[tuple[int, int], list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for item in traces:
        by_shape.setdefault((len(item[1]), len(item[2])), []).append(item)
    for group in by_shape.values():
        dfd = discrete_frechet_batch(np.stack([g[1] for g in group]), np.stack([g[2] for g in group]))
        for (i, pred, trace), d in zip(group, dfd):
            s = out[i][1]
            s.trace_frechet = distance_reward(float(d), 10.0, 100.0)
            s.trace_rmse = distance_reward(polyline_rmse(pred, trace), 5.0, 50.0)


def _component(completions: Any, answer: Any, data_type: Any, name: str, field: str,
               types: tuple[str, ...], lenient_qa: bool = False, strip_whitespace: bool = False) -> list[float | None]:
    t = texts(completions)
    n = len(t)
    rows = score_rows(t, column(answer, n, "answer", name), optional_column(data_type, n, "data_type", name),
                      lenient_qa=lenient_qa, strip_whitespace=strip_whitespace)
    return [None if r is None or r[0] not in types else getattr(r[1], field) for r in rows]


_COLUMNS = ("answer", "data_type")


@reward("embodied.total", columns=_COLUMNS, paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, answer: Any = None, data_type: Any = None,
          lenient_qa: bool = False, strip_whitespace: bool = False, **_: Any) -> list[float | None]:
    """Embodied-R1's per-type overall score (table in the module docstring), in [0, 1].

    ``lenient_qa``: QA answers naming the option letter count (off: ``grade_answer``);
    ``strip_whitespace``: the think format forgives surrounding whitespace (off: ``re.fullmatch``)."""
    return _component(completions, answer, data_type, "embodied.total", "overall", DATA_TYPES,
                      lenient_qa, strip_whitespace)


@reward("embodied.think_format", columns=_COLUMNS, paper=PAPER)
def think_format(prompts: Any = None, completions: Any = (), *, answer: Any = None, data_type: Any = None,
                 strip_whitespace: bool = False, **_: Any) -> list[float | None]:
    """1 when the completion is exactly ``<think>..</think><answer>..</answer>``."""
    return _component(completions, answer, data_type, "embodied.think_format", "think_fmt", DATA_TYPES,
                      strip_whitespace=strip_whitespace)


@reward("embodied.point_format", columns=_COLUMNS, paper=PAPER)
def point_format(prompts: Any = None, completions: Any = (), *, answer: Any = None, data_type: Any = None,
                 **_: Any) -> list[float | None]:
    """1 when a ``<point>..</point>`` occurs anywhere; pointing types only."""
    return _component(completions, answer, data_type, "embodied.point_format", "point_fmt", POINT_TYPES)


@reward("embodied.qa_accuracy", columns=_COLUMNS, paper=PAPER)
def qa_accuracy(prompts: Any = None, completions: Any = (), *, answer: Any = None, data_type: Any = None,
                lenient_qa: bool = False, **_: Any) -> list[float | None]:
    """``mathruler``'s ``grade_answer`` of the ``<answer>`` against the reference (general_qa,
    spatial_qa); ``lenient_qa``: any answer naming the reference option letter."""
    return _component(completions, answer, data_type, "embodied.qa_accuracy", "accuracy", QA_TYPES,
                      lenient_qa=lenient_qa)


@reward("embodied.point_distance", columns=_COLUMNS, paper=PAPER)
def point_distance(prompts: Any = None, completions: Any = (), *, answer: Any = None, data_type: Any = None,
                   **_: Any) -> list[float | None]:
    """Mean nearest-GT-point distance mapped 10 px -> 1, 50 px -> 0 (point_ref, fsd_free_point)."""
    return _component(completions, answer, data_type, "embodied.point_distance", "point_distance",
                      ("point_ref", "fsd_free_point"))


@reward("embodied.points_in_region", columns=_COLUMNS, paper=PAPER)
def points_in_region(prompts: Any = None, completions: Any = (), *, answer: Any = None, data_type: Any = None,
                     **_: Any) -> list[float | None]:
    """Fraction of predicted points inside the GT polygon (point_rec, grounding_rec) or bbox
    (fsd_free_point, edges inclusive)."""
    return _component(completions, answer, data_type, "embodied.points_in_region", "in_region",
                      ("fsd_free_point", "point_rec", "grounding_rec"))


@reward("embodied.trace", columns=_COLUMNS, paper=PAPER)
def trace(prompts: Any = None, completions: Any = (), *, answer: Any = None, data_type: Any = None,
          **_: Any) -> list[float | None]:
    """Visual-trace similarity in [0, 1]: (0.1 [8 points] + 0.3 d(DFD, 10, 100) + 0.4 d(RMSE, 5, 50)) / 0.8."""
    t = texts(completions)
    n = len(t)
    name = "embodied.trace"
    rows = score_rows(t, column(answer, n, "answer", name), optional_column(data_type, n, "data_type", name))
    return [None if r is None or r[0] != "fsd_visual_trace"
            else (0.1 * r[1].trace_length + 0.3 * r[1].trace_frechet + 0.4 * r[1].trace_rmse) / 0.8
            for r in rows]


def metrics(completions: list[str], columns: dict[str, list[Any]]) -> dict[str, float | int | None]:
    """Mean overall score per data type, QA accuracy, and the point success rates
    (all points in the region; point distance under 10 px)."""
    n = len(completions)
    rows = score_rows(completions, columns.get("answer") or [None] * n, columns.get("data_type") or [None] * n)
    out: dict[str, float | int | None] = {}
    by_type: dict[str, list[Scores]] = {}
    for r in rows:
        if r is not None:
            by_type.setdefault(r[0], []).append(r[1])
    for kind in DATA_TYPES:
        scores = by_type.get(kind)
        if not scores:
            continue
        out[f"{kind}.overall"] = float(np.mean([s.overall for s in scores]))
        out[f"{kind}.rows"] = len(scores)
        if kind in QA_TYPES:
            out[f"{kind}.accuracy"] = float(np.mean([s.accuracy for s in scores]))
        if kind in ("fsd_free_point", "point_rec", "grounding_rec"):
            out[f"{kind}.all_points_in_region"] = float(np.mean([s.in_region == 1.0 for s in scores]))
    out["unscored_rows"] = sum(r is None for r in rows)
    return out
