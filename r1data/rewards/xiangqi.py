"""Xiangqi-R1 rewards: legal, good and best move, situation (5 and 3 classes), format, total.

No official code was available. The formulas are a third-party reading of the paper
(``chowfi/FineTune-LLM-OnlineRL``, citing paper sections 3.1, 3.4 and 4.2), not confirmed:
R = r_legal + r_good + r_best + R_situation + R_format, 0/1 indicators; a move is good when
its value is within sigma_good = 100 centipawns of the best move's (r_good = 1 for the best
move itself); situations split |V| at 100 and 800 centipawns. Any legal move is judged: one the
row does not score is searched by Fairy-Stockfish (``corpora/xiangqi/oracle.py``).

Completion: ``<think>..</think><answer>Move: h2e2\\nSituation: red_slight</answer>``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
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


def _good(sign: float, best_score: float, value: float, margin: float) -> float:
    # both values are Red-positive; the mover loses sign * (best - value) by not playing best
    return float(sign * (float(best_score) - float(value)) <= margin)


def move_scores(text: str, legal_moves: Any, best_move: Any, best_score: Any, scored_moves: Any,
                scored_values: Any, side_to_move: Any, margin: float) -> tuple[float, float, float]:
    """(r_legal, r_good, r_best) of one completion from the row's stored scores alone (a legal
    move outside the stored list has r_good 0; :func:`_move_rows` asks the engine instead)."""
    return _judge(parse_iccs_move(answer_part(text)), legal_moves, best_move, best_score, scored_moves,
                  scored_values, side_to_move, margin)[0]


def _judge(move: str | None, legal_moves: Any, best_move: Any, best_score: Any, scored_moves: Any,
           scored_values: Any, side_to_move: Any, margin: float) -> tuple[tuple[float, float, float], bool]:
    """The stored-score verdict, and whether the move is legal but unscored by the row."""
    if move is None or not legal_moves or move not in legal_moves:
        return (0.0, 0.0, 0.0), False
    if best_move and move == best_move:
        return (1.0, 1.0, 1.0), False
    if best_score is None:
        return (1.0, 0.0, 0.0), False
    if scored_moves is not None and move in scored_moves:
        value = scored_values[list(scored_moves).index(move)]
        return (1.0, _good(_sign(side_to_move), best_score, value, margin), 0.0), False
    return (1.0, 0.0, 0.0), True


def _sign(side_to_move: Any) -> float:
    return 1.0 if str(side_to_move).lower() != "black" else -1.0


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
_ORACLE_COLUMNS = ("fen", "nodes")
DEFAULT_NODES = 8000     # the corpus's evaluation budget, where a row does not say
ORACLE_COUNTS: Counter[str] = Counter()      # this process: moves judged by the engine, or not
_SAID: set[str] = set()


def _move_rows(completions: Any, kw: dict[str, Any], name: str, margin: float,
               search_unlisted: bool = False, nodes: int | None = None) -> list[tuple[float, float, float] | None]:
    """(r_legal, r_good, r_best) per completion; ``None`` for a row without ``legal_moves``.

    With ``search_unlisted``, a legal move the row's stored lists do not score is scored by
    the engine (``oracle.MoveOracle``: a restricted search at the row's ``nodes`` from its
    ``fen``) and compared with the stored best score within ``margin``. Without an engine, or
    without the ``fen`` column, such a move keeps r_good 0 (counted in ``ORACLE_COUNTS``).
    """
    t = texts(completions)
    n = len(t)
    legal = column(kw.get("legal_moves"), n, "legal_moves", name)
    best = optional_column(kw.get("best_move"), n, "best_move", name)
    best_score = optional_column(kw.get("best_score"), n, "best_score", name)
    moves = optional_column(kw.get("scored_moves"), n, "scored_moves", name)
    values = optional_column(kw.get("scored_values"), n, "scored_values", name)
    side = optional_column(kw.get("side_to_move"), n, "side_to_move", name)
    out: list[tuple[float, float, float] | None] = []
    pending: list[tuple[int, str]] = []          # legal moves the row did not score
    for i in range(n):
        if legal[i] is None:
            out.append(None)
            continue
        move = parse_iccs_move(answer_part(t[i]))
        verdict, unlisted = _judge(move, legal[i], best[i], best_score[i], moves[i], values[i], side[i], margin)
        out.append(verdict)
        if unlisted and move is not None:
            pending.append((i, move))
    if not search_unlisted or not pending:
        return out
    fens = optional_column(kw.get("fen"), n, "fen", name)
    budgets = optional_column(kw.get("nodes"), n, "nodes", name)
    oracle = None
    if any(fens[i] is None for i, _ in pending):
        _say_once("fen", f"{name}: the rows have no 'fen' column; moves outside the stored MultiPV "
                         "list score from that list only (0) and are counted as fallback")
    else:
        from r1data.corpora.xiangqi.oracle import shared_oracle

        oracle = shared_oracle()
    if oracle is None:
        ORACLE_COUNTS["fallback"] += len(pending)
        return out
    queries = [(fens[i], m, int(nodes or budgets[i] or DEFAULT_NODES)) for i, m in pending]
    for (i, _), score in zip(pending, oracle.scores(queries)):
        if score is None:           # the engine failed on this one (logged by the oracle)
            ORACLE_COUNTS["failed"] += 1
            continue
        sign = _sign(side[i])
        ORACLE_COUNTS["by_engine"] += 1
        out[i] = (1.0, _good(sign, best_score[i], sign * score, margin), 0.0)
    return out


def _say_once(key: str, message: str) -> None:
    if key not in _SAID:
        _SAID.add(key)
        logging.getLogger(__name__).warning(message)


@reward("xiangqi.legal", columns=("legal_moves",), paper=PAPER)
def legal(prompts: Any = None, completions: Any = (), *, legal_moves: Any = None, **_: Any) -> list[float | None]:
    """1 when the answer's move (ICCS, e.g. ``h2e2``) is one of ``legal_moves``."""
    rows = _move_rows(completions, {"legal_moves": legal_moves}, "xiangqi.legal", 100.0)
    return [None if r is None else r[0] for r in rows]


@reward("xiangqi.good", columns=_MOVE_COLUMNS + _ORACLE_COLUMNS, paper=PAPER)
def good(prompts: Any = None, completions: Any = (), *, legal_moves: Any = None, best_move: Any = None,
         best_score: Any = None, scored_moves: Any = None, scored_values: Any = None,
         side_to_move: Any = None, fen: Any = None, nodes: Any = None, margin: float = 100.0,
         search_unlisted: bool = True, budget: int | None = None, **_: Any) -> list[float | None]:
    """1 when the move is legal and loses at most ``margin`` centipawns against the best move,
    from the mover's side (1 for the best move). A legal move the row did not score is searched
    by the engine (restricted search at the row's ``nodes``, or ``budget``; pooled and cached);
    ``search_unlisted=False`` or no engine: such a move scores 0."""
    kw = dict(legal_moves=legal_moves, best_move=best_move, best_score=best_score, scored_moves=scored_moves,
              scored_values=scored_values, side_to_move=side_to_move, fen=fen, nodes=nodes)
    return [None if r is None else r[1]
            for r in _move_rows(completions, kw, "xiangqi.good", margin, search_unlisted, budget)]


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


@reward("xiangqi.total", columns=_MOVE_COLUMNS + _ORACLE_COLUMNS + ("situation",), paper=PAPER)
def total(prompts: Any = None, completions: Any = (), *, legal_moves: Any = None, best_move: Any = None,
          best_score: Any = None, scored_moves: Any = None, scored_values: Any = None,
          side_to_move: Any = None, fen: Any = None, nodes: Any = None, situation: Any = None,
          margin: float = 100.0, zero_if_bad_format: bool = False, search_unlisted: bool = True,
          budget: int | None = None, **_: Any) -> list[float | None]:
    """r_legal + r_good + r_best + R_situation + R_format, in [0, 5] (r_good as ``xiangqi.good``).
    ``zero_if_bad_format``: the third-party rule that a malformed answer scores 0 overall (off by
    default: unconfirmed)."""
    kw = dict(legal_moves=legal_moves, best_move=best_move, best_score=best_score, scored_moves=scored_moves,
              scored_values=scored_values, side_to_move=side_to_move, fen=fen, nodes=nodes)
    t = texts(completions)
    moves = _move_rows(completions, kw, "xiangqi.total", margin, search_unlisted, budget)
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
    every row; a situation counts only when the move is legal. good@1 judges every legal move
    (the engine scores the ones the row does not); ``good_moves_by_engine`` and
    ``good_moves_fallback`` count the moves judged that way and those left at 0 without an engine."""
    n = len(completions)
    kw = {c: columns.get(c) for c in _MOVE_COLUMNS + _ORACLE_COLUMNS}
    if kw["legal_moves"] is None:
        return {}
    before = Counter(ORACLE_COUNTS)
    moves = _move_rows(completions, kw, "xiangqi.metrics", 100.0, search_unlisted=True)
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
        "good_moves_by_engine": ORACLE_COUNTS["by_engine"] - before["by_engine"],
        "good_moves_fallback": ORACLE_COUNTS["fallback"] - before["fallback"],
    }
