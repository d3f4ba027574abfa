"""``xiangqi_positions``: one row per move played, each move checked legal by the engine.

A game item (``game_id``, ``start_fen``, ``moves`` in ICCS, WXF or Chinese notation, ``result``)
becomes one row per ply: the FEN before the move, the side to move, the move played (ICCS and
WXF), every legal move there, the game's result, players, event, site, date and round. ``training`` marks the rows the paper trains on:
moves of the winning side, and both sides' moves in drawn games.

Legality comes from Fairy-Stockfish's own move generator (``go perft 1`` on the worker's
engine, pipelined for a whole ICCS game). A move that is not legal ends the game there: the
positions before it are kept and the rest of the game is rejected with ``illegal_move`` and
the ply, move and FEN in the detail.
"""

from __future__ import annotations

from collections.abc import Iterator

from r1data.corpora.xiangqi.analysis import BOOK_PLIES, HASH_MB, Analyzer, check_engine, shared_analyzer
from r1data.corpora.xiangqi.board import Board, game_fens, normalize_iccs, position_key, side_name, to_wxf
from r1data.corpora.xiangqi.rules import read_move
from r1data.corpora.xiangqi.sources import INFO
from r1data.steps.base import Reject, StepContext, step


def is_training_move(result: str, side: str) -> bool:
    """The paper's training rows: the winner's moves and every move of a drawn game."""
    return result == "draw" or result == f"{side}_win"


@step("xiangqi_positions", expands=True)
class Positions:
    """Expand each game into its positions; reject a game from its first illegal move on.

    ``max_plies`` caps the rows taken from one game (the first plies), ``skip_plies`` drops
    the first plies of every game (the opening, shared by many games).
    """

    def __init__(self, ctx: StepContext, *, skip_plies: int = 0, max_plies: int | None = None,
                 engine: str | None = None, hash_mb: int = HASH_MB, timeout_s: float = 60.0,
                 cache_size: int = 20_000, book_plies: int = BOOK_PLIES):
        self.ctx = ctx
        self.skip_plies = skip_plies
        self.max_plies = max_plies
        self.engine_args = dict(engine=engine, hash_mb=hash_mb, timeout_s=timeout_s, cache_size=cache_size,
                                book_plies=book_plies)
        shared_analyzer(**self.engine_args)   # checks the binary; the process starts on first use

    @staticmethod
    def preflight(params: dict) -> None:
        """Before the build starts: the engine binary runs and plays xiangqi (one line if not)."""
        check_engine(params.get("engine"))

    def __call__(self, games: list[dict]) -> Iterator[dict | Reject]:
        analyzer = shared_analyzer(**self.engine_args)
        for game in games:
            yield from self.expand(game, analyzer)

    def expand(self, game: dict, analyzer: Analyzer) -> Iterator[dict | Reject]:
        """The rows of one game, then a Reject for the rest of it if a move is illegal."""
        start = game["start_fen"]
        raw = list(game.get("moves") or [])
        if game.get("notation") in ("wxf", "chinese"):
            moves, legal, bad = _replay_notation(start, raw, analyzer)
        else:
            moves, legal, bad = _replay_iccs(start, raw, analyzer)
        fens, _, _ = game_fens(start, moves)
        try:
            wxf = to_wxf(start, moves)
        except ValueError as e:   # pyffish disagrees with the engine's move generator: say so
            yield Reject(_stub(game), "illegal_move", f"pyffish rejects the line: {e}")
            return
        result = game.get("result") or "unknown"
        kept = 0
        for ply, move in enumerate(moves):
            if ply < self.skip_plies:
                continue
            if self.max_plies is not None and kept >= self.max_plies:
                break
            side = side_name(fens[ply])
            kept += 1
            yield {
                "id": f"{game['game_id']}-{ply:03d}",
                "game_id": game["game_id"],
                "source": game.get("source", ""),
                "ply": ply,
                "fen": fens[ply],
                "fen_position": position_key(fens[ply]),   # dedup key: the clocks do not count
                "side_to_move": side,
                "move": move,
                "move_wxf": wxf[ply],
                "legal_moves": legal[ply],
                "result": result,
                "termination": game.get("termination") or "",
                "red_player": game.get("red_player") or "",
                "black_player": game.get("black_player") or "",
                **{k: game.get(k) or "" for k in INFO},
                "training": is_training_move(result, side),
            }
        self.ctx.stats.count("xiangqi_games")
        if bad is not None:
            ply, text, fen, why = bad
            self.ctx.stats.count("xiangqi_games_cut_at_illegal_move")
            yield Reject({**_stub(game), "ply": ply, "move": text, "fen": fen}, "illegal_move",
                         f"game {game['game_id']} ply {ply}: {text!r} {why} in {fen}; "
                         f"the game is rejected from this move on ({len(raw) - ply} moves)")


def _stub(game: dict) -> dict:
    return {"id": game["game_id"], "game_id": game["game_id"], "source": game.get("source", ""),
            "start_fen": game["start_fen"]}


Bad = tuple[int, str, str, str]   # ply, the move as written, FEN, why


def _replay_iccs(start: str, raw: list[str], analyzer: Analyzer) -> tuple[list[str], list[list[str]], Bad | None]:
    """Moves up to the first illegal one, the legal moves before each, and what went wrong."""
    moves = []
    for text in raw:
        move = normalize_iccs(text)
        if move is None:
            break
        moves.append(move)
    fens, stop, why = game_fens(start, moves)
    # every position the moves reach, legal moves in one pipelined engine round
    legal_all = analyzer.legal_moves(fens[:len(moves) if stop is None else stop + 1])
    for ply, move in enumerate(moves):
        if move not in set(legal_all[ply]):
            return moves[:ply], legal_all[:ply], (ply, raw[ply], fens[ply], "is not a legal move")
    if len(moves) < len(raw):
        ply = len(moves)
        return moves, legal_all[:ply], (ply, raw[ply], fens[ply], "is not an ICCS move (like h2e2)")
    return moves, legal_all[:len(moves)], None


def _replay_notation(start: str, raw: list[str], analyzer: Analyzer) -> tuple[list[str], list[list[str]], Bad | None]:
    """WXF or Chinese moves read one position at a time against that position's legal moves."""
    board = Board.from_fen(start)
    moves: list[str] = []
    legal_all: list[list[str]] = []
    for ply, text in enumerate(raw):
        fen = board.fen()
        legal = analyzer.legal_moves([fen])[0]
        move = normalize_iccs(text) or read_move(fen, text, legal)
        if move is None or move not in set(legal):
            return moves, legal_all, (ply, text, fen, "names no legal move (or more than one)")
        moves.append(move)
        legal_all.append(legal)
        board.push(move)
    return moves, legal_all, None
