"""STAR-R1 (TRANCE / TVR) rewards: partial credit per predicted transformation, format, total.

What is known (a third-party review of arXiv 2505.15804; the code is not released):
R = R_format + R_acc, R_acc = R_pos + R_pun; each predicted ``(index, attribute, value)``
earns 5.0 (all match), 1.5 (index and attribute) or 0.5 (index only); R_pun punishes
"excessive enumeration" (more predictions than ground-truth transformations) and "passive
inaction" (none). The penalty sizes are NOT known; the defaults here are ours: -1 per
prediction beyond the number of transformations, -1 for an empty answer. Predictions are
matched one-to-one to transformations (best total), so repeating a right answer earns once.

Column ``transformations``: TRANCE's JSON list ``[{"obj_idx": 2, "attr": "color", "val": "cyan",
"options": ["cyan"]}, ...]`` (``options``: every equally valid value). The answer lists
``index.attribute.value`` items: ``2.color.cyan, 0.position.[behind, 2]``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from r1data.parsing import normalize_value, parse_think_answer, parse_triplets
from r1data.rewards._core import column, reward, texts
from r1data.rewards.format import strict_think_answer

PAPER = "STAR-R1 (arXiv 2505.15804), formula from a third-party review; penalties unknown"


def parse_transformations(value: Any) -> list[dict] | None:
    """The column as a list of dicts (it may arrive as a JSON string)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return list(value) if isinstance(value, (list, tuple)) else None


def _match_matrix(preds: list[tuple[int, str, str]], truth: list[dict], full: float, attribute: float,
                  index: float) -> np.ndarray:
    scores = np.zeros((len(preds), len(truth)))
    for j, t in enumerate(truth):
        accepted = {normalize_value(v) for v in (t.get("options") or [t.get("val")])}
        accepted.add(normalize_value(t.get("val")))
        for i, (idx, attr, val) in enumerate(preds):
            if idx != int(t.get("obj_idx", -1)):
                continue
            if attr != str(t.get("attr", "")).lower():
                scores[i, j] = index
            else:
                scores[i, j] = full if val in accepted else attribute
    return scores


def _best_assignment(scores: np.ndarray) -> float:
    """Maximum total of a one-to-one matching (DP over subsets of the transformations)."""
    n_pred, n_gt = scores.shape
    if n_pred == 0 or n_gt == 0:
        return 0.0
    if n_gt > 12:   # never in TRANCE (1-4 transformations): greedy keeps it cheap
        total, used_p, used_g = 0.0, set(), set()
        for flat in np.argsort(-scores, axis=None):
            i, j = divmod(int(flat), n_gt)
            if i not in used_p and j not in used_g and scores[i, j] > 0:
                total += scores[i, j]
                used_p.add(i)
                used_g.add(j)
        return total
    best = np.full(1 << n_gt, -np.inf)
    best[0] = 0.0
    for i in range(n_pred):
        new = best.copy()
        for mask in np.flatnonzero(np.isfinite(best)):
            for j in range(n_gt):
                if not mask & (1 << j) and scores[i, j] > 0:
                    cand = best[mask] + scores[i, j]
                    if cand > new[mask | (1 << j)]:
                        new[mask | (1 << j)] = cand
        best = new
    return float(best[np.isfinite(best)].max())


def accuracy_score(text: str, truth: list[dict], full: float = 5.0, attribute: float = 1.5, index: float = 0.5,
                   extra_penalty: float = 1.0, empty_penalty: float = 1.0, one_to_one: bool = True) -> float:
    """R_acc = R_pos + R_pun of one completion."""
    parsed = parse_think_answer(text)
    preds = parse_triplets(parsed.answer if parsed.answer is not None else text)
    scores = _match_matrix(preds, truth, full, attribute, index)
    if one_to_one:
        positive = _best_assignment(scores)
    else:
        positive = float(scores.max(axis=1).sum()) if scores.size else 0.0
    penalty = extra_penalty * max(0, len(preds) - len(truth))
    if not preds and truth:
        penalty += empty_penalty
    return positive - penalty


@reward("star.accuracy", columns=("transformations",), paper=PAPER)
def accuracy(prompts: Any = None, completions: Any = (), *, transformations: Any = None, full: float = 5.0,
             attribute: float = 1.5, index: float = 0.5, extra_penalty: float = 1.0, empty_penalty: float = 1.0,
             one_to_one: bool = True, **_: Any) -> list[float | None]:
    """Sum over predicted ``index.attribute.value`` items of 5.0 / 1.5 / 0.5 (full / index and
    attribute / index only), minus ``extra_penalty`` per item beyond the number of
    transformations and ``empty_penalty`` for no item at all."""
    t = texts(completions)
    truths = column(transformations, len(t), "transformations", "star.accuracy")
    out: list[float | None] = []
    for text, raw in zip(t, truths):
        truth = parse_transformations(raw)
        out.append(None if truth is None else accuracy_score(text, truth, full, attribute, index,
                                                             extra_penalty, empty_penalty, one_to_one))
    return out


@reward("star.format", paper=PAPER)
def format_(prompts: Any = None, completions: Any = (), *, strip_whitespace: bool = False,
            **_: Any) -> list[float | None]:
    """1 when the completion is exactly ``<think>..</think><answer>..</answer>`` (``re.fullmatch``;
    ``strip_whitespace``: surrounding whitespace allowed)."""
    return [strict_think_answer(t, strip_whitespace) for t in texts(completions)]


@reward("star.total", columns=("transformations",), paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, transformations: Any = None, full: float = 5.0,
          attribute: float = 1.5, index: float = 0.5, extra_penalty: float = 1.0, empty_penalty: float = 1.0,
          one_to_one: bool = True, strip_whitespace: bool = False, **_: Any) -> list[float | None]:
    """R_format + R_acc (the parameters as for star.accuracy and star.format)."""
    acc = accuracy(prompts, completions, transformations=transformations, full=full, attribute=attribute,
                   index=index, extra_penalty=extra_penalty, empty_penalty=empty_penalty, one_to_one=one_to_one)
    fmt = format_(prompts, completions, strip_whitespace=strip_whitespace)
    return [None if a is None else a + f for a, f in zip(acc, fmt)]


def exact_match(text: str, truth: list[dict]) -> bool:
    """Every transformation named with an accepted value, nothing else (any order)."""
    parsed = parse_think_answer(text)
    preds = parse_triplets(parsed.answer if parsed.answer is not None else text)
    if len(preds) != len(truth) or not truth:
        return False
    scores = _match_matrix(preds, truth, 1.0, 0.0, 0.0)
    return _best_assignment(scores) == len(truth)


@reward("star.exact", columns=("transformations",), paper="ours: the answer as a set, right or wrong")
def exact(prompts: Any = None, completions: Any = (), *, transformations: Any = None,
          **_: Any) -> list[float | None]:
    """1 when the answer names exactly the transformations (each with an accepted value, in any
    order, nothing more), else 0: a right-or-wrong score for pass rates (``r1data rollout``)."""
    t = texts(completions)
    truths = column(transformations, len(t), "transformations", "star.exact")
    out: list[float | None] = []
    for text, raw in zip(t, truths):
        truth = parse_transformations(raw)
        out.append(None if truth is None else float(exact_match(text, truth)))
    return out


# -- TVR's evaluation numbers -------------------------------------------------------------------

def _predicted(text: str, n_objects: int) -> list[dict] | None:
    """The answer's items as TRANCE transformation records; None when one cannot be read as one
    (an unknown attribute or value, an object that does not exist)."""
    from r1data.corpora.trance.world import TransformationError, check_transformation

    parsed = parse_think_answer(text)
    out = []
    for idx, attr, val in parse_triplets(parsed.answer if parsed.answer is not None else text):
        value: Any = val
        if attr == "position":
            words = val.split()
            if len(words) != 2 or not words[1].isdigit():
                return None
            value = [words[0], int(words[1])]
        try:
            check_transformation({"obj_idx": idx, "attr": attr, "val": value}, n_objects)
        except TransformationError:
            return None
        out.append({"obj_idx": idx, "attr": attr, "val": value})
    return out


def _states(value: Any) -> list[dict]:
    if isinstance(value, str):
        value = json.loads(value)
    return [{k: o[k] for k in ("shape", "size", "color", "material", "position")} for o in value or []]


def metrics(completions: list[str], columns: dict[str, list[Any]]) -> dict[str, Any]:
    """TVR's evaluation (``src/criterion/components/evaluator.py`` of hughplay/TVR) on the answers.

    Every row: the predicted transformations are applied to ``objects`` in order and the result
    compared with ``final_objects``: ``loose_acc`` (no attribute differs; positions out of view
    compare equal), ``acc`` (loose and no overlap nor move off the grid on the way, TVR's
    ``correct``), ``avg_dist`` (attributes that differ), ``avg_norm_dist`` (over the number of
    transformations) and ``avg_step_diff`` (predicted minus true count); an answer that cannot be
    read (an unknown value, a missing object) counts as wrong with the distance of doing nothing.
    Basic rows (one transformation) also get TVR's ``acc_obj``, ``acc_attr``, ``acc_pair`` of the
    first predicted item. ``acc`` and ``loose_acc`` per setting and per final view, and ``exact``
    (star.exact's rate). Which of these are STAR-R1's "11 metrics" was not established."""
    from r1data.corpora.trance.world import TransformationError, replay, same_state

    truths = columns.get("transformations") or []
    inits, finals = columns.get("objects") or [], columns.get("final_objects") or []
    settings = columns.get("setting") or [None] * len(completions)
    views = columns.get("final_view") or [None] * len(completions)
    groups: dict[str, list[float]] = {}
    sums = {"acc": 0.0, "loose_acc": 0.0, "dist": 0.0, "norm_dist": 0.0, "step_diff": 0.0, "exact": 0.0}
    basic = {"acc": [], "acc_obj": [], "acc_attr": [], "acc_pair": []}
    n = 0
    for text, raw, init, fin, setting, view in zip(completions, truths, inits, finals, settings, views):
        truth = parse_transformations(raw)
        if truth is None or init is None or fin is None:
            continue
        start, target = _states(init), _states(fin)
        pred = _predicted(text, len(start))
        errors = False
        try:
            state, problems = replay(start, pred or [])
            errors = any(p.startswith(("overlap", "out_of_grid")) for p in problems)
        except TransformationError:
            state, pred = start, None
        dist = len(same_state(state, target))
        loose = pred is not None and dist == 0
        correct = loose and not errors
        n += 1
        sums["acc"] += correct
        sums["loose_acc"] += loose
        sums["dist"] += dist
        sums["norm_dist"] += dist / max(len(truth), 1)
        sums["step_diff"] += len(pred or []) - len(truth)
        sums["exact"] += exact_match(text, truth)
        for key in (f"{setting}/acc" if setting else None, f"{view}/acc" if view else None):
            if key:
                groups.setdefault(key, []).append(float(correct))
        if len(truth) == 1:
            t, p = truth[0], (pred or [None])[0]
            obj = p is not None and p["obj_idx"] == t["obj_idx"]
            accepted = {normalize_value(v) for v in (t.get("options") or [t["val"]])}
            pair = p is not None and p["attr"] == t["attr"] and normalize_value(p["val"]) in accepted
            basic["acc"].append(float(obj and pair))
            basic["acc_obj"].append(float(obj))
            basic["acc_attr"].append(float(p is not None and p["attr"] == t["attr"]))
            basic["acc_pair"].append(float(pair))
    if not n:
        return {}
    out: dict[str, Any] = {"acc": sums["acc"] / n, "loose_acc": sums["loose_acc"] / n, "avg_dist": sums["dist"] / n,
                           "avg_norm_dist": sums["norm_dist"] / n, "avg_step_diff": sums["step_diff"] / n,
                           "exact": sums["exact"] / n}
    if basic["acc"]:
        out.update({f"basic/{k}": float(np.mean(v)) for k, v in basic.items()})
    for key, values in sorted(groups.items()):
        out.setdefault(key, float(np.mean(values)))
    return out
