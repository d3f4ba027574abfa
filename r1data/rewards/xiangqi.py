"""Xiangqi-R1 rewards: legal, good and best move, situation (5 and 3 classes), format, total.

No official code was available. The formulas are a third-party reading of the paper
(``chowfi/FineTune-LLM-OnlineRL``, citing paper sections 3.1, 3.4 and 4.2), not confirmed:
R = r_legal + r_good + r_best + R_situation + R_format, 0/1 indicators; a move is good when
its value is within sigma_good = 100 centipawns of the best move's (r_good = 1 for the best
move itself); situations split |V| at 100 and 800 centipawns.

Completion: ``<think>..</think><answer>Move: h2e2\\nSituation: red_slight</answer>``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from r1data.parsing import parse_iccs_move, parse_situation, parse_think_answer
from r1data.rewards._core import column, optional_column, reward, texts

PAPER = "Xiangqi-R1 (arXiv 2507.12215), third-party reading (chowfi/FineTune-LLM-OnlineRL)"
_THREE = {"red_clear": "red", "red_slight": "red", "balanced": "balanced", "black_slight": "black",
          "black_clear": "black"}
_MOVE_LINE = re.compile(r"move\s*[:：]\s*[a-i][0-9][a-i][0-9](?![a-z0-9])", re.I)
_SITUATION_LINE = re.compile(r"situation\s*[:：]", re.I)


def situation_of(score: float, slight: float = 100.0, clear: float = 800.0) -> str:
    """The 5-class label of a Red-positive centipawn value (|V| <= 100 balanced, > 800 clear)."""
    if abs(score) <= slight:
        return "balanced"
    side = "red" if score > 0 else "black"
    return f"{side}_{'clear' if abs(score) > clear else 'slight'}"


def three_class(label: str | None) -> str | None:
    return _THREE.get(label) if label else None


def answer_part(text: str) -> str:
    parsed = parse_think_answer(text)
    return parsed.answer if parsed.answer is not None else text


def move_scores(text: str, legal_moves: Any, best_move: Any, best_score: Any, scored_moves: Any,
                scored_values: Any, side_to_move: Any, margin: float) -> tuple[float, float, float]:
    """(r_legal, r_good, r_best) of one completion."""
    move = parse_iccs_move(answer_part(text))
    if move is None or not legal_moves or move not in set(legal_moves):
        return 0.0, 0.0, 0.0
    if best_move and move == best_move:
        return 1.0, 1.0, 1.0
    good = 0.0
    values = dict(zip(scored_moves or [], scored_values or []))
    if move in values and best_score is not None:
        sign = 1.0 if str(side_to_move).lower() != "black" else -1.0
        # both values are Red-positive; the mover loses sign * (best - value) by not playing best
        good = float(sign * (float(best_score) - float(values[move])) <= margin)
    return 1.0, good, 0.0


def format_score(text: str) -> float:
    """Strict ``<think>..</think><answer>..</answer>`` whose answer has a ``Move:`` line with an
    ICCS move and a ``Situation:`` line with a readable label."""
    parsed = parse_think_answer(text)
    if not parsed.strict or not parsed.think or not parsed.answer:
        return 0.0
    ans = parsed.answer
    ok = _MOVE_LINE.search(ans) and _SITUATION_LINE.search(ans) and parse_situation(ans) is not None
    return 1.0 if ok else 0.0


_MOVE_COLUMNS = ("legal_moves", "best_move", "best_score", "scored_moves", "scored_values", "side_to_move")


def _move_rows(completions: Any, kw: dict[str, Any], name: str, margin: float) -> list[tuple[float, float, float] | None]:
    t = texts(completions)
    n = len(t)
    legal = column(kw.get("legal_moves"), n, "legal_moves", name)
    best = optional_column(kw.get("best_move"), n, "best_move", name)
    best_score = optional_column(kw.get("best_score"), n, "best_score", name)
    moves = optional_column(kw.get("scored_moves"), n, "scored_moves", name)
    values = optional_column(kw.get("scored_values"), n, "scored_values", name)
    side = optional_column(kw.get("side_to_move"), n, "side_to_move", name)
    return [None if legal[i] is None else
            move_scores(t[i], legal[i], best[i], best_score[i], moves[i], values[i], side[i], margin)
            for i in range(n)]


@reward("xiangqi.legal", columns=("legal_moves",), paper=PAPER)
def legal(prompts: Any = None, completions: Any = (), *, legal_moves: Any = None, **_: Any) -> list[float | None]:
    """1 when the answer's move (ICCS, e.g. ``h2e2``) is one of ``legal_moves``."""
    rows = _move_rows(completions, {"legal_moves": legal_moves}, "xiangqi.legal", 100.0)
    return [None if r is None else r[0] for r in rows]


@reward("xiangqi.good", columns=_MOVE_COLUMNS, paper=PAPER)
def good(prompts: Any = None, completions: Any = (), *, legal_moves: Any = None, best_move: Any = None,
         best_score: Any = None, scored_moves: Any = None, scored_values: Any = None,
         side_to_move: Any = None, margin: float = 100.0, **_: Any) -> list[float | None]:
    """1 when the move is legal and loses at most ``margin`` centipawns against the best move,
    from the mover's side (1 for the best move; 0 for a move the engine did not score)."""
    kw = dict(legal_moves=legal_moves, best_move=best_move, best_score=best_score, scored_moves=scored_moves,
              scored_values=scored_values, side_to_move=side_to_move)
    return [None if r is None else r[1] for r in _move_rows(completions, kw, "xiangqi.good", margin)]


@reward("xiangqi.best", columns=("legal_moves", "best_move"), paper=PAPER)
def best(prompts: Any = None, completions: Any = (), *, legal_moves: Any = None, best_move: Any = None,
         **_: Any) -> list[float | None]:
    """1 when the move is the engine's ``best_move``."""
    kw = dict(legal_moves=legal_moves, best_move=best_move)
    return [None if r is None else r[2] for r in _move_rows(completions, kw, "xiangqi.best", 100.0)]


def situation_scores(completions: list[str], labels: list[Any], classes: int = 5) -> list[float | None]:
    out: list[float | None] = []
    for text, label in zip(completions, labels):
        if not label:
            out.append(None)
            continue
        pred = parse_situation(answer_part(text))
        if classes == 3:
            out.append(float(pred is not None and three_class(pred) == three_class(label)))
        else:
            out.append(float(pred == label))
    return out


@reward("xiangqi.situation", columns=("situation",), paper=PAPER)
def situation(prompts: Any = None, completions: Any = (), *, situation: Any = None, classes: int = 5,
              **_: Any) -> list[float | None]:
    """1 when the answer's situation matches ``situation`` (5 classes; ``classes=3`` merges
    slight and clear). Labels read case-insensitively: ``red_slight``, ``Red slight advantage``."""
    if classes not in (3, 5):
        raise ValueError(f"classes must be 3 or 5, got {classes}")
    t = texts(completions)
    return situation_scores(t, column(situation, len(t), "situation", "xiangqi.situation"), classes)


@reward("xiangqi.situation3", columns=("situation",), paper=PAPER)
def situation3(prompts: Any = None, completions: Any = (), *, situation: Any = None, **_: Any) -> list[float | None]:
    """The 3-class situation match: Red better, balanced, Black better."""
    t = texts(completions)
    return situation_scores(t, column(situation, len(t), "situation", "xiangqi.situation3"), 3)


@reward("xiangqi.format", paper=PAPER)
def format_(prompts: Any = None, completions: Any = (), **_: Any) -> list[float | None]:
    """1 for a strict ``<think>..</think><answer>Move: ..\\nSituation: ..</answer>``."""
    return [format_score(t) for t in texts(completions)]


@reward("xiangqi.total", columns=_MOVE_COLUMNS + ("situation",), paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, legal_moves: Any = None, best_move: Any = None,
          best_score: Any = None, scored_moves: Any = None, scored_values: Any = None,
          side_to_move: Any = None, situation: Any = None, margin: float = 100.0,
          zero_if_bad_format: bool = False, **_: Any) -> list[float | None]:
    """r_legal + r_good + r_best + R_situation + R_format, in [0, 5]. ``zero_if_bad_format``:
    the third-party rule that a malformed answer scores 0 overall (off by default: unconfirmed)."""
    kw = dict(legal_moves=legal_moves, best_move=best_move, best_score=best_score, scored_moves=scored_moves,
              scored_values=scored_values, side_to_move=side_to_move)
    t = texts(completions)
    moves = _move_rows(completions, kw, "xiangqi.total", margin)
    sit = situation_scores(t, optional_column(situation, len(t), "situation", "xiangqi.total"))
    out: list[float | None] = []
    for text, m, s in zip(t, moves, sit):
        if m is None:
            out.append(None)
            continue
        fmt = format_score(text)
        out.append(0.0 if zero_if_bad_format and not fmt else sum(m) + (s or 0.0) + fmt)
    return out


def metrics(completions: list[str], columns: dict[str, list[Any]]) -> dict[str, float | int | None]:
    """legal@1, good@1, best@1, 3-class@1 and 5-class@1 (the paper's section 4.2): means over
    every row; a situation counts only when the move is legal."""
    n = len(completions)
    kw = {c: columns.get(c) for c in _MOVE_COLUMNS}
    if kw["legal_moves"] is None:
        return {}
    moves = _move_rows(completions, kw, "xiangqi.metrics", 100.0)
    labels = columns.get("situation") or [None] * n
    five = situation_scores(completions, labels, 5)
    three = situation_scores(completions, labels, 3)
    rows = [i for i in range(n) if moves[i] is not None]
    if not rows:
        return {}

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    return {
        "legal@1": mean([moves[i][0] for i in rows]),
        "good@1": mean([moves[i][1] for i in rows]),
        "best@1": mean([moves[i][2] for i in rows]),
        "3-class@1": mean([moves[i][0] * (three[i] or 0.0) for i in rows]),
        "5-class@1": mean([moves[i][0] * (five[i] or 0.0) for i in rows]),
        "format_rate": mean([format_score(completions[i]) for i in rows]),
    }

