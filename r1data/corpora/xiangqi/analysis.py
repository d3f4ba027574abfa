"""The engine pool: one :class:`Analyzer` (engine process + caches) per worker process.

Each worker process of a build runs the xiangqi steps in order over its batches; the
self-play, positions and evaluation steps ask :func:`shared_analyzer` for the same engine, so a
process holds one fairy-stockfish and one set of caches, and a position searched while playing
a game is not searched again when it is evaluated.

Where results may be reused (see ``uci`` for fresh and session searches):

* **The game's own searches** (``begin_game``): positions of one game are searched in one
  engine session, in a fixed order, and cached for that game: the evaluation reuses every
  self-play search made at its budget, and a position repeated within the game is searched
  once. A game's results depend only on the game, so they are the same on any worker.
  These caches live for **one batch** (``end_games``: the self-play step calls it before a
  batch, the evaluation after it, and both when a build makes them): a cached result stands
  for the engine state its search left, and that state exists only in the batch's own
  session. Kept longer, a second build in the same process (a notebook, a test run), or a
  recorded game whose id a game of another batch reuses, would be answered from another
  session: rows that depend on what the process did before (and so on the worker).
* **The opening book** (``ply < book_plies``): positions that open many games (the start
  position, the first few plies) are searched fresh, a pure function of the FEN, and cached
  across games in a bounded LRU (``cache_size``; 0 turns it off and changes no result); a book
  lookup, hit or miss, ends the engine session, so the session that follows starts the same
  way either way.

Caches are bounded (``cache_size`` entries, the last ``GAMES_KEPT`` games), so memory stays
flat however large the build.
"""

from __future__ import annotations

import atexit
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from r1data.corpora.xiangqi.uci import SearchResult, UciEngine, resolve_engine

GAMES_KEPT = 16       # per-game caches kept within a batch (several games played, then evaluated)
HASH_MB = 4           # the engine's hash table (4 MB measured at least as fast as 1-16 MB here)
BOOK_PLIES = 4        # positions before this ply open many games: searched fresh, cached across games


class LRU:
    def __init__(self, size: int):
        self.size = max(0, size)
        self.items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        if self.size == 0:
            return
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


class Analyzer:
    """Legal moves and searches for xiangqi FENs, cached per game and in an opening book.

    Results are reproducible: a cache hit returns exactly what the search would have returned
    in the same place of the same game.
    """

    def __init__(self, engine: str | None = None, *, hash_mb: int = HASH_MB, timeout_s: float = 60.0,
                 cache_size: int = 20_000, book_plies: int = BOOK_PLIES):
        self.engine = UciEngine(engine, hash_mb=hash_mb, timeout_s=timeout_s)
        self.book = LRU(cache_size)
        self.moves = LRU(cache_size)
        self.book_plies = book_plies
        self.games: OrderedDict[str, dict] = OrderedDict()
        self.game: str | None = None
        self.session: dict = {}
        self.hits = 0            # answered from the game's own searches
        self.book_hits = 0       # answered from the opening book
        self.misses = 0          # searched
        self.nodes = 0           # nodes the engine reports for those searches

    # -- games -----------------------------------------------------------------------------
    def begin_game(self, game_id: str) -> None:
        """Searches from here on belong to ``game_id`` (a no-op when it is the current game)."""
        if game_id == self.game:
            return
        self.game = game_id
        self.engine.new_session()
        self.session = self.games.setdefault(game_id, {})
        self.games.move_to_end(game_id)
        while len(self.games) > GAMES_KEPT:
            self.games.popitem(last=False)

    def end_games(self) -> None:
        """Forget every game's searches; the next search starts a new engine session.

        Called at the edges of a batch (see the module docstring): what a batch's games
        searched is then never an answer, nor the engine state, for anything after it.
        The opening book and the legal moves stay: they are pure functions of the position.
        """
        self.games.clear()
        self.session = {}
        self.game = None
        self.engine.new_session()

    # -- requests ---------------------------------------------------------------------------
    def legal_moves(self, fens: Sequence[str]) -> list[list[str]]:
        """Legal ICCS moves of each (valid) FEN; one pipelined engine round for the misses."""
        found = [self.moves.get(f) for f in fens]
        todo = list(dict.fromkeys(f for f, m in zip(fens, found) if m is None))
        fresh: dict[str, list[str]] = {}
        if todo:
            for fen, moves in zip(todo, self.engine.legal_moves(todo)):
                self.moves.put(fen, moves)
                fresh[fen] = moves
        return [m if m is not None else fresh[f] for f, m in zip(fens, found)]

    def search(self, fen: str, *, nodes: int, multipv: int = 1, searchmoves: Sequence[str] = (),
               ply: int | None = None) -> SearchResult:
        """A search of ``fen`` in the current game (``ply`` decides whether it is a book position)."""
        return self.analyse(fen, nodes=nodes, multipv=multipv, searchmoves=searchmoves, ply=ply)[1]

    def analyse(self, fen: str, *, nodes: int, multipv: int = 1, searchmoves: Sequence[str] = (),
                ply: int | None = None, with_moves: bool = False) -> tuple[list[str] | None, SearchResult]:
        """``(legal moves, search)``; with ``with_moves`` the moves come in the same engine round.

        Raises ``uci.NoMove`` when the side to move has no move.
        """
        key = (fen, nodes, multipv, tuple(searchmoves))
        book = ply is not None and ply < self.book_plies
        if book:
            self.engine.new_session()     # hit or miss, the game's session starts again after it
            cached = self.book.get(key)
        else:
            cached = self.session.get(key)
        moves = self.moves.get(fen) if with_moves else None
        if cached is not None:
            if book:
                self.book_hits += 1
            else:
                self.hits += 1
            if with_moves and moves is None:
                moves = self.legal_moves([fen])[0]
            return moves, cached
        ask_moves = with_moves and moves is None
        got, result = self.engine.analyse(fen, nodes=nodes, multipv=multipv, searchmoves=list(searchmoves) or None,
                                          fresh=book, with_moves=ask_moves)
        if ask_moves:
            assert got is not None
            self.moves.put(fen, got)
            moves = got
        self.misses += 1
        self.nodes += result.searched
        if book:
            self.book.put(key, result)
        else:   # always: the game's own searches are part of how its results come about
            self.session[key] = result
        return moves, result

    @property
    def restarts(self) -> int:
        return self.engine.restarts

    def counters(self) -> dict[str, float]:
        """Running totals, for steps to report differences as build counters."""
        return {"engine_searches": self.misses, "engine_cache_hits": self.hits,
                "engine_book_hits": self.book_hits, "engine_nodes": self.nodes,
                "engine_restarts": self.engine.restarts, "engine_replayed_searches": self.engine.replayed,
                "engine_busy_s": self.engine.busy_s}

    def close(self) -> None:
        self.engine.close()


def count_since(stats: Any, analyzer: Analyzer, before: dict[str, float]) -> None:
    """Add what ``analyzer`` did since ``before`` (its ``counters()`` then) to a step's stats."""
    for key, value in analyzer.counters().items():
        if value != before.get(key, 0):
            stats.count(key, value - before.get(key, 0))


_SHARED: dict[tuple, Analyzer] = {}


def shared_analyzer(engine: str | None = None, *, hash_mb: int = HASH_MB, timeout_s: float = 60.0,
                    cache_size: int = 20_000, book_plies: int = BOOK_PLIES) -> Analyzer:
    """This process's analyzer for an engine configuration (created, not started, on first call)."""
    key = (resolve_engine(engine), hash_mb, timeout_s, book_plies)
    analyzer = _SHARED.get(key)
    if analyzer is None:
        analyzer = _SHARED[key] = Analyzer(key[0], hash_mb=hash_mb, timeout_s=timeout_s,
                                           cache_size=cache_size, book_plies=book_plies)
    else:
        analyzer.book.size = analyzer.moves.size = max(analyzer.book.size, cache_size)
    return analyzer


def check_engine(engine: str | None = None) -> None:
    """Start the engine once in this process and check it plays xiangqi (one-line error if not).

    The answer is remembered per binary, so each process starts the probe once.
    """
    path = resolve_engine(engine)
    if path in _CHECKED:
        return
    probe = UciEngine(path)
    try:
        probe.probe()
    finally:
        probe.close()
    _CHECKED.add(path)


_CHECKED: set[str] = set()


@atexit.register
def close_all() -> None:
    """Quit every engine this process started."""
    for analyzer in _SHARED.values():
        analyzer.close()
    _SHARED.clear()
