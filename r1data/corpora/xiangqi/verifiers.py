"""The corpus's verifiers: moves re-checked by pyffish, labels recomputed, the reference rewarded.

* ``xiangqi_moves_legal``: ``rules.legal_moves`` (r1data's own move generator, sharing no code
  with the engine binary that produced the moves; tests hold it equal to pyffish's) lists the
  legal moves of the FEN; the stored list must equal it and the played, best and scored moves
  must be in it.
* ``xiangqi_labels_consistent``: ``best``, ``good``, ``situation`` and ``situation3`` recomputed
  from the stored scores, and the scored lists parallel.
* ``xiangqi_reference_rewarded``: the row's own answer field scores the full ``xiangqi.total``
  reward (legal + good + best + situation + format = 5) against the row's columns, so the
  rows and the rewards agree on the format and the labels.
"""

from __future__ import annotations

from r1data.corpora.xiangqi import rules
from r1data.rewards.xiangqi import situation_of, three_class, total
from r1data.steps.checks import verifier


@verifier("xiangqi_moves_legal")
def xiangqi_moves_legal(row: dict) -> bool | tuple[bool, str]:
    """Every stored move is legal in ``fen`` by r1data's own rules, and ``legal_moves`` is complete."""
    fen = row["fen"]
    legal = set(rules.legal_moves(fen))
    stored = set(row.get("legal_moves") or [])
    if stored != legal:
        missing, extra = sorted(legal - stored), sorted(stored - legal)
        return False, f"legal_moves differ from the rules': missing {missing[:5]}, not legal {extra[:5]}"
    for name in ("move", "best_move"):
        if row.get(name) is not None and row[name] not in legal:
            return False, f"{name} {row[name]} is not legal"
    bad = [m for m in row.get("scored_moves") or [] if m not in legal]
    if bad:
        return False, f"scored moves not legal: {bad}"
    return True


@verifier("xiangqi_labels_consistent")
def xiangqi_labels_consistent(row: dict, good_margin: int = 100, slight_cp: int = 100,
                              clear_cp: int = 800) -> bool | tuple[bool, str]:
    """The labels follow from the stored scores (same thresholds as ``xiangqi_evaluate``)."""
    moves, values = row["scored_moves"], row["scored_values"]
    if len(moves) != len(values) or len(set(moves)) != len(moves):
        return False, "scored_moves and scored_values are not parallel lists of distinct moves"
    if not moves or moves[0] != row["best_move"] or values[0] != row["best_score"]:
        return False, "the first scored move is not the best move with the best score"
    if row["move"] not in moves or values[moves.index(row["move"])] != row["move_score"]:
        return False, "the played move's score is not among the scored moves"
    sign = 1 if row["side_to_move"] == "red" else -1
    expected = {
        "best": row["move"] == row["best_move"],
        "good": max(0, sign * (row["best_score"] - row["move_score"])) <= good_margin,
        "situation": situation_of(row["best_score"], slight_cp, clear_cp),
    }
    expected["situation3"] = three_class(expected["situation"])
    wrong = [f"{k}={row.get(k)!r} (expected {v!r})" for k, v in expected.items() if row.get(k) != v]
    return (False, ", ".join(wrong)) if wrong else True


@verifier("xiangqi_reference_rewarded")
def xiangqi_reference_rewarded(row: dict, field: str = "analysis") -> bool | tuple[bool, str]:
    """``field`` earns the full combined reward (5) on its own row."""
    cols = {c: [row.get(c)] for c in ("legal_moves", "best_move", "best_score", "scored_moves",
                                       "scored_values", "side_to_move", "situation")}
    score = total(completions=[row.get(field) or ""], search_unlisted=False, **cols)[0]
    return (True, "") if score == 5.0 else (False, f"{field} scores {score} of 5 on xiangqi.total")
