"""The move oracle: the engine's score of any move in any position, pooled and cached.

``xiangqi.good`` must judge a model's move even when the corpus row did not score it (the
row holds the MultiPV lines and the move played). The oracle answers ``(FEN, move, nodes) ->
centipawns for the side to move`` with a **restricted search**: ``ucinewgame``, then
``go nodes N searchmoves MOVE`` from the bare FEN, the corpus's budget. A fresh search is a
pure function of the request and the engine binary, so every answer is cached:

* in memory (an LRU of ``memory`` answers), and
* on disk, in ``$R1DATA_CACHE_DIR/xiangqi_moves.sqlite`` (``~/.cache/r1data/...``), keyed by
  the engine's ``id name``, the FEN, the move and the budget: ``r1data eval`` and GRPO's reward
  in ``r1data train`` share it, across runs and processes.

Misses are searched by a pool of engine processes (``engines``, default: the CPU count, at
most 4), one thread each; an engine that dies is restarted and the search retried
(``uci.UciEngine``); a search that still fails answers ``None`` (counted, never cached).

:func:`shared_oracle` is the process's oracle, or ``None`` where no engine is installed: the
reward then says so once and scores from the stored list only (counted as ``fallback``).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from r1data.corpora.xiangqi.analysis import LRU
from r1data.corpora.xiangqi.uci import EngineCrash, EngineUnavailable, NoMove, UciEngine, resolve_engine

log = logging.getLogger(__name__)
ORACLE_FILE = "xiangqi_moves.sqlite"

Query = tuple[str, str, int]        # (FEN, ICCS move, nodes)


def _default_path() -> Path:
    from r1data.annotators.cache import default_cache_dir

    return default_cache_dir() / ORACLE_FILE


class MoveOracle:
    """Scores of (position, move) pairs at a node budget; see the module docstring."""

    def __init__(self, engine: str | None = None, *, engines: int | None = None, hash_mb: int = 4,
                 timeout_s: float = 60.0, memory: int = 200_000, path: str | Path | None = None):
        self.engine_path = resolve_engine(engine)
        probe = UciEngine(self.engine_path, hash_mb=hash_mb, timeout_s=timeout_s)
        probe.probe()       # a one-line EngineUnavailable now, not a failure per search later
        self.engine_name = probe.name or os.path.basename(self.engine_path)
        probe.close()
        self.hash_mb = hash_mb
        self.timeout_s = timeout_s
        self.size = max(1, engines or min(4, os.cpu_count() or 1))
        self.memory = LRU(memory)
        self.path = Path(path) if path else _default_path()
        self.counters: Counter[str] = Counter()
        self._db: sqlite3.Connection | None = None
        self._local = threading.local()
        self._engines: list[UciEngine] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="xiangqi-oracle")

    # -- storage ---------------------------------------------------------------------------
    def _key(self, q: Query) -> str:
        text = f"{self.engine_name}|{self.hash_mb}|{q[0]}|{q[1]}|{q[2]}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _database(self) -> sqlite3.Connection:
        if self._db is None:
            from r1data.sqlitedb import connect_shared

            self._db = connect_shared(self.path, "CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, "
                                                 "score INTEGER NOT NULL)")
        return self._db

    def _stored(self, keys: list[str]) -> dict[str, int]:
        db = self._database()
        found: dict[str, int] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(db.execute(f"SELECT key, score FROM scores WHERE key IN ({marks})", chunk).fetchall())
        return found

    def _store(self, pairs: list[tuple[str, int]]) -> None:
        if not pairs:
            return
        db = self._database()
        db.execute("BEGIN")
        db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?)", pairs)
        db.execute("COMMIT")

    # -- searching -------------------------------------------------------------------------
    def _engine(self) -> UciEngine:
        eng = getattr(self._local, "engine", None)
        if eng is None:   # started in this pool thread: it dies with the thread (PR_SET_PDEATHSIG)
            eng = self._local.engine = UciEngine(self.engine_path, hash_mb=self.hash_mb, timeout_s=self.timeout_s)
            with self._lock:
                self._engines.append(eng)
        return eng

    def _search(self, q: Query) -> int | None:
        fen, move, nodes = q
        try:
            found = self._engine().search(fen, nodes=nodes, multipv=1, searchmoves=[move], fresh=True)
        except (EngineCrash, NoMove) as e:
            log.warning("xiangqi oracle: no score for %s in %s (%s)", move, fen, e)
            return None
        line = found.line(move)
        return line.score if line is not None else None

    def scores(self, queries: Sequence[Query]) -> list[int | None]:
        """The score of each (FEN, move, nodes), centipawns for the side to move (None: failed)."""
        out: dict[Query, int | None] = {}
        for q in queries:
            v = self.memory.get(q)
            if v is not None:
                out[q] = v
        self.counters["memory_hits"] += sum(1 for q in queries if q in out)
        todo = list(dict.fromkeys(q for q in queries if q not in out))
        if todo:
            keys = {self._key(q): q for q in todo}
            from_disk = set()
            for k, v in self._stored(list(keys)).items():
                out[keys[k]] = v
                from_disk.add(keys[k])
                self.memory.put(keys[k], v)
            self.counters["disk_hits"] += sum(1 for q in queries if q in from_disk)
        missing = [q for q in todo if q not in out]
        if missing:
            found = list(self._pool.map(self._search, missing))
            fresh = []
            for q, v in zip(missing, found):
                out[q] = v
                if v is None:
                    self.counters["failed"] += 1
                else:
                    self.memory.put(q, v)
                    fresh.append((self._key(q), v))
            self.counters["searched"] += len(missing)
            self._store(fresh)
        return [out[q] for q in queries]

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for eng in self._engines:
                eng.close()
            self._engines.clear()
        if self._db is not None:
            self._db.close()
            self._db = None


_ORACLES: dict[str, MoveOracle | None] = {}
FALLBACK = Counter()        # moves scored from the stored list only, because no engine was found


def shared_oracle(engine: str | None = None) -> MoveOracle | None:
    """This process's oracle for ``engine`` (default binary); None, said once, without an engine."""
    key = engine or os.environ.get("R1DATA_FAIRY_STOCKFISH") or ""
    if key not in _ORACLES:
        try:
            _ORACLES[key] = MoveOracle(engine)
        except EngineUnavailable as e:
            log.warning("xiangqi.good: %s; moves outside a row's stored MultiPV list are scored from "
                        "that list only (0) and counted as fallback", e.message)
            _ORACLES[key] = None
    return _ORACLES[key]


@atexit.register
def close_oracles() -> None:
    """Stop the oracles' engines; log what they did."""
    for oracle in _ORACLES.values():
        if oracle is not None:
            c = oracle.counters
            if c:
                log.info("xiangqi oracle: %d moves searched, %d from memory, %d from disk, %d failed",
                         c["searched"], c["memory_hits"], c["disk_hits"], c["failed"])
            oracle.close()
    _ORACLES.clear()
