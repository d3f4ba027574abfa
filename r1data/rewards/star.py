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
def total(prompts: Any = None, completions: Any = (), *, transformations: Any = None, extra_penalty: float = 1.0,
          empty_penalty: float = 1.0, **_: Any) -> list[float | None]:
    """R_format + R_acc."""
    acc = accuracy(prompts, completions, transformations=transformations, extra_penalty=extra_penalty,
                   empty_penalty=empty_penalty)
    fmt = format_(prompts, completions)
    return [None if a is None else a + f for a, f in zip(acc, fmt)]
