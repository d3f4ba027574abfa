"""``xiangqi_evaluate``: Fairy-Stockfish's verdict on each position and on the move played.

Per position one node-limited MultiPV search (``nodes``, ``multipv``) gives the best move,
its score and the scores of the top moves; a played move outside those lines gets its own
search restricted to it (``searchmoves``). Scores are stored in centipawns **from Red's
side** (the engine reports the mover's side), mates as ``+-(30000 - n)``.

Labels, after the paper's section 3.1 (a third-party reading):

* ``best``: the move played is the engine's best move;
* ``good``: the mover loses at most ``good_margin`` centipawns against the best move
  (``|V(played) - V(best)|`` with a played move the search happens to rate above the best
  counted as no loss, the way the ``xiangqi.good`` reward reads the same columns);
* ``situation``: ``balanced`` when ``|V| <= slight_cp``, else ``red|black_slight`` up to
  ``clear_cp`` and ``red|black_clear`` beyond (5 classes); ``situation3`` merges slight and clear.

A game's positions are searched in one engine session, in order (see ``analysis``): a position
the self-play step searched at the same budget costs nothing here, and the first plies, shared
by many games, come from the worker's opening book.
"""

from __future__ import annotations

from collections.abc import Iterator

from r1data.corpora.xiangqi.analysis import BOOK_PLIES, HASH_MB, Analyzer, check_engine, count_since, shared_analyzer
from r1data.corpora.xiangqi.uci import EngineCrash, NoMove
from r1data.errors import UsageError
from r1data.rewards.xiangqi import situation_of, three_class
from r1data.steps.base import Reject, StepContext, step


@step("xiangqi_evaluate")
class Evaluate:
    """Engine labels for each position row: best move and score, scored moves, good/best, situation."""

    def __init__(self, ctx: StepContext, *, nodes: int = 10_000, multipv: int = 4, good_margin: int = 100,
                 slight_cp: int = 100, clear_cp: int = 800, engine: str | None = None, hash_mb: int = HASH_MB,
                 timeout_s: float = 60.0, cache_size: int = 20_000, book_plies: int = BOOK_PLIES):
        if nodes < 1 or multipv < 1:
            raise UsageError(f"nodes and multipv must be positive, got nodes={nodes} multipv={multipv}")
        if not 0 <= slight_cp <= clear_cp:
            raise UsageError(f"expected 0 <= slight_cp <= clear_cp, got {slight_cp} and {clear_cp}")
        self.ctx = ctx
        self.nodes = nodes
        self.multipv = multipv
        self.good_margin = good_margin
        self.slight_cp = slight_cp
        self.clear_cp = clear_cp
        self.engine_args = dict(engine=engine, hash_mb=hash_mb, timeout_s=timeout_s, cache_size=cache_size,
                                book_plies=book_plies)
        shared_analyzer(**self.engine_args).end_games()   # a new build shares no game with an earlier one

    @staticmethod
    def preflight(params: dict) -> None:
        """Before the build starts: the engine binary runs and plays xiangqi (one line if not)."""
        check_engine(params.get("engine"))

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        analyzer = shared_analyzer(**self.engine_args)
        before = analyzer.counters()
        try:
            for row in rows:
                try:
                    yield self.label(row, analyzer)
                except EngineCrash as e:   # this position (and the game's later searches, if its
                    # engine session is lost); the engine is restarted for the next
                    yield Reject(row, "engine_crash", f"{e}; position {row.get('fen')}")
                except NoMove:
                    yield Reject(row, "no_legal_move", f"the engine finds no move in {row.get('fen')}")
        finally:
            analyzer.end_games()    # the batch's games end here (see analysis: one batch)
        count_since(self.ctx.stats, analyzer, before)

    def label(self, row: dict, analyzer: Analyzer) -> dict:
        """Fill the engine columns of one position row (see the module docstring)."""
        fen, move, ply = row["fen"], row["move"], row.get("ply")
        red = row["side_to_move"] == "red"
        sign = 1 if red else -1
        analyzer.begin_game(row.get("game_id") or fen)
        found = analyzer.search(fen, nodes=self.nodes, multipv=self.multipv, ply=ply)
        lines = list(found.lines)
        scored_moves = [ln.move for ln in lines]
        scored_values = [sign * ln.score for ln in lines]
        if move not in scored_moves:
            own = analyzer.search(fen, nodes=self.nodes, multipv=1, searchmoves=(move,), ply=ply)
            scored_moves.append(move)
            scored_values.append(sign * own.lines[0].score)
        best_line = lines[0]
        best_score = scored_values[0]
        move_score = scored_values[scored_moves.index(move)]
        loss = max(0, sign * (best_score - move_score))
        situation = situation_of(best_score, self.slight_cp, self.clear_cp)
        row.update({
            "best_move": best_line.move,
            "best_score": best_score,
            "best_mate": best_line.mate,
            "move_score": move_score,
            "scored_moves": scored_moves,
            "scored_values": scored_values,
            "pv": list(best_line.pv),
            "depth": best_line.depth,
            "nodes": self.nodes,
            "legal": move in row["legal_moves"],
            "best": move == best_line.move,
            "good": loss <= self.good_margin,
            "situation": situation,
            "situation3": three_class(situation),
        })
        return row
