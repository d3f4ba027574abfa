"""``xiangqi.good`` judges every legal move: the real engine scores a move the row did not
(a restricted search at the row's budget), through a pooled oracle cached in memory and on disk;
without an engine the reward says so once and counts the moves it could not judge."""

from __future__ import annotations

import logging
import os
import shutil

import pytest

pytest.importorskip("pyffish")
from r1data.corpora.xiangqi import oracle as oracle_mod  # noqa: E402
from r1data.corpora.xiangqi.board import START_FEN, game_fens  # noqa: E402
from r1data.corpora.xiangqi.rules import legal_moves  # noqa: E402
from r1data.corpora.xiangqi.uci import DEFAULT_ENGINE, UciEngine  # noqa: E402
from r1data.rewards import load as load_reward  # noqa: E402
from r1data.rewards.xiangqi import ORACLE_COUNTS  # noqa: E402

ENGINE = os.environ.get("R1DATA_FAIRY_STOCKFISH") or DEFAULT_ENGINE
if not (os.path.isfile(ENGINE) or shutil.which(ENGINE)):
    pytest.skip("fairy-stockfish is not installed (apt-get install fairy-stockfish)", allow_module_level=True)

NODES = 300
# a middlegame position (Black to move) where some moves lose material and others do not
FEN = game_fens(START_FEN, ["h2e2", "h9g7", "h0g2", "i9h9", "i0h0", "b9c7", "b0c2", "c6c5", "h0h6"])[0][-1]


@pytest.fixture(autouse=True)
def fresh_oracles(tmp_path, monkeypatch):
    """Each test gets its own oracles and an empty cache folder."""
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    oracle_mod.close_oracles()
    yield
    oracle_mod.close_oracles()


def _completion(move: str) -> str:
    return f"<think>t</think><answer>Move: {move}\nSituation: balanced</answer>"


def _row(fen: str, best: str, best_red: int, n: int) -> dict:
    side = "red" if " w " in fen else "black"
    return {"legal_moves": [legal_moves(fen)] * n, "best_move": [best] * n, "best_score": [best_red] * n,
            "scored_moves": [[best]] * n, "scored_values": [[best_red]] * n, "side_to_move": [side] * n,
            "fen": [fen] * n, "nodes": [NODES] * n}


def test_a_move_the_row_did_not_score_is_searched_and_judged_within_the_margin():
    engine = UciEngine(ENGINE)
    try:
        top = engine.search(FEN, nodes=NODES, multipv=1)
        sign = -1 if " b " in FEN else 1
        best_red = sign * top.lines[0].score
        others = [m for m in legal_moves(FEN) if m != top.best_move]
        # what a restricted search of each move says, asked directly of the engine
        direct = {m: sign * engine.search(FEN, nodes=NODES, searchmoves=[m]).lines[0].score for m in others}
    finally:
        engine.close()
    expected = [float(sign * (best_red - direct[m]) <= 100) for m in others]
    assert 0.0 in expected and 1.0 in expected, "the position has good and bad moves"
    good = load_reward("xiangqi.good")
    before = dict(ORACLE_COUNTS)
    got = good(completions=[_completion(m) for m in others], **_row(FEN, top.best_move, best_red, len(others)))
    assert got == expected
    assert ORACLE_COUNTS["by_engine"] - before.get("by_engine", 0) == len(others)
    # the stored list alone (the old behaviour) calls every one of them not good
    assert good(completions=[_completion(m) for m in others], search_unlisted=False,
                **_row(FEN, top.best_move, best_red, len(others))) == [0.0] * len(others)
    # a move the row does score is judged from the row, without the engine
    listed = _row(FEN, top.best_move, best_red, 1)
    listed["scored_moves"], listed["scored_values"] = [[top.best_move, others[0]]], [[best_red, best_red - 50 * sign]]
    assert good(completions=[_completion(others[0])], **listed) == [1.0]


def test_the_oracle_caches_in_memory_and_on_disk_and_shares_the_pool(tmp_path):
    queries = [(FEN, m, NODES) for m in legal_moves(FEN)[:8]]
    first = oracle_mod.MoveOracle(ENGINE, engines=2, path=tmp_path / "moves.sqlite")
    try:
        scores = first.scores(queries + queries[:3])              # repeats inside one batch: searched once
        assert first.counters["searched"] == 8 and len(first._engines) == 2
        assert first.scores(queries) == scores[:8]
        assert first.counters["memory_hits"] == 8 and first.counters["searched"] == 8
    finally:
        first.close()
    again = oracle_mod.MoveOracle(ENGINE, engines=1, path=tmp_path / "moves.sqlite")   # a later run
    try:
        assert again.scores(queries) == scores[:8]
        assert again.counters["disk_hits"] == 8 and again.counters["searched"] == 0
    finally:
        again.close()
    assert scores[8:] == scores[:3]


def test_without_an_engine_the_reward_says_so_once_and_counts_the_fallback(monkeypatch, caplog):
    monkeypatch.setenv("R1DATA_FAIRY_STOCKFISH", "/nonexistent/fairy-stockfish")
    moves = legal_moves(FEN)[:5]
    row = _row(FEN, moves[0], 0, 4)
    good = load_reward("xiangqi.good")
    before = ORACLE_COUNTS["fallback"]
    with caplog.at_level(logging.WARNING):
        first = good(completions=[_completion(m) for m in moves[:4]], **row)
        second = good(completions=[_completion(m) for m in moves[:4]], **row)
    assert first == second == [1.0, 0.0, 0.0, 0.0]          # the best move, then three unjudged
    assert ORACLE_COUNTS["fallback"] - before == 6
    said = [r.getMessage() for r in caplog.records if "fairy-stockfish not found" in r.getMessage()]
    assert len(said) == 1 and "fallback" in said[0]
