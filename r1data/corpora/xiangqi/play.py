"""``xiangqi_selfplay``: Fairy-Stockfish plays the self-play games, at a mix of strengths.

Each game draws a level for Red and one for Black (weighted), opens with a few uniformly
random legal moves (diversity), then each side searches with its level's node budget and
picks among the MultiPV lines: the best line at temperature 0, otherwise a softmax over the
lines' scores (``temperature`` in centipawns), and with probability ``blunder`` any legal
move. Every choice comes from ``ctx.rng(game_id)``, and every search is a pure function of
its FEN, so a game is the same on any worker and after any resume.

A game ends when the side to move has no legal move (it loses, checkmated or stalemated),
when pyffish declares the game over by repetition or the move rule, when a side stays
behind by ``resign_cp`` for ``resign_plies`` plies (it resigns), or at ``max_plies`` (a draw).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from r1data.corpora.xiangqi.analysis import BOOK_PLIES, HASH_MB, check_engine, count_since, shared_analyzer
from r1data.corpora.xiangqi.board import VARIANT, Board, position_key, to_engine
from r1data.corpora.xiangqi.uci import EngineCrash, NoMove
from r1data.errors import UsageError
from r1data.steps.base import Reject, StepContext, step


class PlayerLevel(BaseModel):
    """One playing strength of the self-play mix."""

    model_config = ConfigDict(extra="forbid")
    name: str
    nodes: int = Field(gt=0, description="node budget of each of this player's searches")
    temperature: float = Field(0.0, ge=0, description="softmax temperature over MultiPV scores, cp")
    blunder: float = Field(0.0, ge=0, le=1, description="probability of a uniformly random legal move")
    weight: float = Field(1.0, gt=0, description="how often this level is drawn for a side")


@step("xiangqi_selfplay")
class SelfPlay:
    """Play the moves of self-play game seeds; recorded games (with ``moves``) pass through.

    Give the strongest level the evaluation's ``nodes`` and the same ``multipv`` as
    ``xiangqi_evaluate``: its searches are then reused by the evaluation from the cache.
    """

    def __init__(self, ctx: StepContext, *, levels: list[PlayerLevel], multipv: int = 4,
                 opening_plies: tuple[int, int] = (0, 6), max_plies: int = 200, resign_cp: int = 1500,
                 resign_plies: int = 6, engine: str | None = None, hash_mb: int = HASH_MB,
                 timeout_s: float = 60.0, cache_size: int = 20_000, book_plies: int = BOOK_PLIES):
        if not levels:
            raise UsageError("levels: give at least one player level")
        if opening_plies[0] < 0 or opening_plies[1] < opening_plies[0]:
            raise UsageError(f"opening_plies: expected [min, max] with 0 <= min <= max, got {list(opening_plies)}")
        self.ctx = ctx
        self.levels = levels
        self.multipv = multipv
        self.opening_plies = opening_plies
        self.max_plies = max_plies
        self.resign_cp = resign_cp
        self.resign_plies = resign_plies
        self.engine_args = dict(engine=engine, hash_mb=hash_mb, timeout_s=timeout_s, cache_size=cache_size,
                                book_plies=book_plies)
        # checks the binary exists (starts nothing yet); a new build shares no game with an earlier one
        shared_analyzer(**self.engine_args).end_games()
        weights = [lv.weight for lv in levels]
        self.level_p = [w / sum(weights) for w in weights]

    @staticmethod
    def preflight(params: dict) -> None:
        """Before the build starts: the engine binary runs and plays xiangqi (one line if not)."""
        check_engine(params.get("engine"))

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        analyzer = shared_analyzer(**self.engine_args)
        analyzer.end_games()     # a batch's games start here: nothing searched before is reused
        before = analyzer.counters()
        for row in rows:
            if row.get("moves") is not None:
                yield row
                continue
            try:
                yield self.play(row)
            except EngineCrash as e:   # the engine failed on one position even after restarts
                yield Reject(row, "engine_crash", str(e))
        count_since(self.ctx.stats, analyzer, before)

    def play(self, row: dict) -> dict:
        """Play one game from ``row["start_fen"]``; fills moves, result, termination, players."""
        analyzer = shared_analyzer(**self.engine_args)
        analyzer.begin_game(row["game_id"])
        rng = self.ctx.rng(row["game_id"])
        red, black = (self.levels[int(rng.choice(len(self.levels), p=self.level_p))] for _ in range(2))
        opening = int(rng.integers(self.opening_plies[0], self.opening_plies[1] + 1))
        start = row["start_fen"]
        board = Board.from_fen(start)
        moves: list[str] = []
        seen: Counter[str] = Counter()
        red_scores: list[int] = []    # Red's view of each searched position, for resignations
        result, termination = "draw", "move_limit"
        for ply in range(self.max_plies):
            fen = board.fen()
            red_moves = board.red_to_move
            level = red if red_moves else black
            found = None
            if ply < opening:
                legal = analyzer.legal_moves([fen])[0]
            else:   # the moves and the search in one engine round
                try:
                    got, found = analyzer.analyse(fen, nodes=level.nodes, multipv=self.multipv, ply=ply,
                                                  with_moves=True)
                    legal = got or []
                except NoMove:
                    legal = []
            if not legal:
                result = "black_win" if red_moves else "red_win"
                termination = "checkmate" if _in_check(fen) else "stalemate"
                break
            key = position_key(fen)
            if seen[key] or board.halfmove >= 100:
                ended = _rule_ending(start, moves, "repetition" if seen[key] else "move_rule")
                if ended is not None:
                    result, termination = ended
                    break
            seen[key] += 1
            u_blunder, u_pick = rng.random(), rng.random()
            if found is None:
                moves.append(legal[int(u_pick * len(legal))])
                board.push(moves[-1])
                continue
            red_scores.append(found.lines[0].score if red_moves else -found.lines[0].score)
            if u_blunder < level.blunder:
                move = legal[int(u_pick * len(legal))]
            elif level.temperature <= 0 or len(found.lines) == 1:
                move = found.best_move
            else:
                move = _softmax_pick([ln.move for ln in found.lines], [ln.score for ln in found.lines],
                                     level.temperature, u_pick)
            moves.append(move)
            board.push(move)
            resigned = self._resignation(red_scores)
            if resigned:
                result, termination = resigned, "resignation"
                break
        self.ctx.stats.count("selfplay_games")
        return {**row, "moves": moves, "notation": "iccs", "result": result, "termination": termination,
                "red_player": red.name, "black_player": black.name}

    def _resignation(self, red_scores: list[int]) -> str | None:
        tail = red_scores[-self.resign_plies:]
        if len(tail) < self.resign_plies:
            return None
        if all(s >= self.resign_cp for s in tail):
            return "red_win"
        if all(s <= -self.resign_cp for s in tail):
            return "black_win"
        return None


def _softmax_pick(moves: list[str], scores: list[int], temperature: float, u: float) -> str:
    top = max(scores)
    weights = [math.exp((s - top) / temperature) for s in scores]
    total = sum(weights)
    acc = 0.0
    for move, w in zip(moves, weights):
        acc += w / total
        if u < acc:
            return move
    return moves[-1]


def _in_check(fen: str) -> bool:
    import pyffish

    return bool(pyffish.gives_check(VARIANT, fen, []))


def _rule_ending(start_fen: str, moves: list[str], why: str) -> tuple[str, str] | None:
    """pyffish's verdict on a repetition or the move rule, from the whole game's history."""
    import pyffish

    history = [to_engine(m) for m in moves]
    for check in (pyffish.is_immediate_game_end, pyffish.is_optional_game_end):
        ended, value = check(VARIANT, start_fen, history)
        if ended:
            red_to_move = len(moves) % 2 == 0 if " w " in start_fen else len(moves) % 2 == 1
            if value == 0:
                return "draw", why
            side_wins = value > 0
            return ("red_win" if side_wins == red_to_move else "black_win"), why
    return None
