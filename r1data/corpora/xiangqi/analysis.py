"""The engine pool: one :class:`Analyzer` (engine process + evaluation cache) per worker.

Each worker process of a build runs the xiangqi steps in order over its batches; the
self-play step and the evaluation step ask :func:`shared_analyzer` for the same engine, so a
process holds one fairy-stockfish and one cache, and a position searched while playing a game
is not searched again when it is evaluated. The cache is bounded (least recently used
entries go first), so memory stays flat however large the build.
"""

from __future__ import annotations

import atexit
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from r1data.corpora.xiangqi.uci import SearchResult, UciEngine, resolve_engine


class _LRU:
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
    """Legal moves and searches for xiangqi FENs, cached by (FEN, budget, MultiPV, moves).

    Results are pure functions of the request (see ``uci``), so a cache hit returns exactly
    what a fresh search would.
    """

    def __init__(self, engine: str | None = None, *, hash_mb: int = 4, timeout_s: float = 60.0,
                 cache_size: int = 20_000):
        self.engine = UciEngine(engine, hash_mb=hash_mb, timeout_s=timeout_s)
        self.searches = _LRU(cache_size)
        self.moves = _LRU(cache_size)
        self.hits = 0
        self.misses = 0

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

    def search(self, fen: str, *, nodes: int, multipv: int = 1,
               searchmoves: Sequence[str] = ()) -> SearchResult:
        key = (fen, nodes, multipv, tuple(searchmoves))
        cached = self.searches.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        result = self.engine.search(fen, nodes=nodes, multipv=multipv, searchmoves=list(searchmoves) or None)
        self.searches.put(key, result)
        return result

    @property
    def restarts(self) -> int:
        return self.engine.restarts

    def close(self) -> None:
        self.engine.close()


_SHARED: dict[tuple, Analyzer] = {}


def shared_analyzer(engine: str | None = None, *, hash_mb: int = 4, timeout_s: float = 60.0,
                    cache_size: int = 20_000) -> Analyzer:
    """This process's analyzer for an engine configuration (created, not started, on first call)."""
    key = (resolve_engine(engine), hash_mb, timeout_s)
    analyzer = _SHARED.get(key)
    if analyzer is None:
        analyzer = _SHARED[key] = Analyzer(key[0], hash_mb=hash_mb, timeout_s=timeout_s,
                                           cache_size=cache_size)
    else:
        analyzer.searches.size = analyzer.moves.size = max(analyzer.searches.size, cache_size)
    return analyzer


@atexit.register
def close_all() -> None:
    """Quit every engine this process started."""
    for analyzer in _SHARED.values():
        analyzer.close()
    _SHARED.clear()
