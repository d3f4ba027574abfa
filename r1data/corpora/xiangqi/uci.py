"""One persistent Fairy-Stockfish process spoken to over UCI, restarted when it dies.

Every answer is a pure function of the request: each search starts with ``ucinewgame``
(hash and histories cleared), the position is sent as a bare FEN (no move history), the
engine runs one thread with a node limit, and contempt is zero. That is what makes a build
reproducible whichever worker evaluates a position and whatever it searched before, and what
makes caching results by FEN safe.

Moves cross this interface in ICCS (ranks 0-9); the engine's ranks 1-10 stay inside.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from r1data.corpora.xiangqi.board import VARIANT, from_engine, to_engine
from r1data.errors import R1DataError

DEFAULT_ENGINE = "/usr/games/fairy-stockfish"
MATE_CP = 30000          # a mate in n moves scores MATE_CP - n centipawns
PERFT_CHUNK = 64         # positions per pipelined write of `go perft 1`

_INFO = re.compile(r"\bmultipv (\d+) score (cp|mate) (-?\d+)")
_DEPTH = re.compile(r"\bdepth (\d+)")
_PERFT_LINE = re.compile(r"^([a-i](?:10|[1-9])[a-i](?:10|[1-9])): \d+$")


class EngineUnavailable(R1DataError):
    """The engine binary is missing or does not speak xiangqi: the build cannot go on."""


class EngineCrash(RuntimeError):
    """The engine died or hung on one request even after restarts (that record is rejected)."""


class _Died(Exception):
    pass


@dataclass(frozen=True)
class PvLine:
    """One line of a (MultiPV) search, scores from the side to move's point of view."""

    move: str                 # ICCS
    score: int                # centipawns; mates mapped to +-(MATE_CP - n)
    mate: int | None          # moves to mate (negative: being mated), None when not a mate score
    depth: int
    pv: tuple[str, ...]       # ICCS, starting with ``move``


@dataclass(frozen=True)
class SearchResult:
    best_move: str            # ICCS, the engine's ``bestmove``
    lines: tuple[PvLine, ...]  # MultiPV lines, best first
    nodes: int                # the node budget asked for

    def line(self, move: str) -> PvLine | None:
        return next((ln for ln in self.lines if ln.move == move), None)


def resolve_engine(path: str | None) -> str:
    """The engine binary: ``path``, else ``$R1DATA_FAIRY_STOCKFISH``, else the Debian location."""
    candidate = path or os.environ.get("R1DATA_FAIRY_STOCKFISH") or DEFAULT_ENGINE
    found = candidate if os.path.isfile(candidate) else shutil.which(candidate)
    if not found or not os.access(found, os.X_OK):
        raise EngineUnavailable(f"fairy-stockfish not found at {candidate}; install it "
                                "(apt-get install fairy-stockfish) or set the step's engine: PATH")
    return found


class UciEngine:
    """A fairy-stockfish process playing xiangqi, started on first use.

    ``legal_moves`` generates moves with ``go perft 1`` (about ten times faster than a
    pyffish call per position); ``search`` runs a node-limited MultiPV search. A process
    that dies (EOF, broken pipe) or exceeds ``timeout_s`` on one request is killed,
    restarted and the request retried, up to ``max_retries`` times; then
    :class:`EngineCrash` is raised for that request alone.
    """

    def __init__(self, path: str | None = None, *, hash_mb: int = 4, timeout_s: float = 60.0,
                 max_retries: int = 2):
        self.path = resolve_engine(path)
        self.hash_mb = hash_mb
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._buf = b""

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    # -- process -----------------------------------------------------------------------------
    def _start(self) -> None:
        try:
            self.proc = subprocess.Popen([self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, bufsize=0)
        except OSError as e:
            raise EngineUnavailable(f"cannot start {self.path}: {e}") from None
        self._buf = b""
        self._send(["uci"])
        hello = self._read_until("uciok", 1, 10.0)
        if not any("UCI_Variant" in line and f" var {VARIANT}" in line for line in hello):
            self._kill(self.proc)
            self.proc = None
            raise EngineUnavailable(f"{self.path} does not offer UCI_Variant {VARIANT} "
                                    "(is it Fairy-Stockfish?)")
        self._send([f"setoption name UCI_Variant value {VARIANT}", "setoption name Threads value 1",
                    f"setoption name Hash value {self.hash_mb}", "setoption name Contempt value 0",
                    "isready"])
        self._read_until("readyok", 1, 10.0)

    def close(self) -> None:
        """Ask the engine to quit, then make sure it is gone."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.stdin.write(b"quit\n")  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self._kill(proc)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def __del__(self) -> None:  # a worker's engine goes with the worker
        try:
            self.close()
        except Exception:
            pass

    # -- I/O ---------------------------------------------------------------------------------
    def _send(self, lines: Sequence[str]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(("\n".join(lines) + "\n").encode())
        except (BrokenPipeError, OSError) as e:
            raise _Died(f"write failed: {e}") from None

    def _read_until(self, prefix: str, count: int, timeout: float) -> list[str]:
        """Lines up to and including the ``count``-th starting with ``prefix``."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        seen = 0
        while True:
            while b"\n" in self._buf:
                raw, self._buf = self._buf.split(b"\n", 1)
                line = raw.decode(errors="replace").rstrip("\r")
                lines.append(line)
                if line.startswith(prefix):
                    seen += 1
                    if seen == count:
                        return lines
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Died(f"no {prefix!r} within {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise _Died("the engine exited")
            self._buf += chunk

    def _exchange(self, commands: Sequence[str], until: str, count: int = 1,
                  timeout: float | None = None) -> list[str]:
        """Send, read the answer; on death or timeout restart and retry the same request."""
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                if self.proc is None:
                    self._start()
                self._send(commands)
                return self._read_until(until, count, timeout or self.timeout_s)
            except _Died as e:
                last = str(e)
                if self.proc is not None:
                    self._kill(self.proc)
                    self.proc = None
                if attempt < self.max_retries:
                    self.restarts += 1
        raise EngineCrash(f"fairy-stockfish failed {self.max_retries + 1} times on one request ({last})")

    # -- requests ----------------------------------------------------------------------------
    def legal_moves(self, fens: Sequence[str]) -> list[list[str]]:
        """The legal moves (ICCS, sorted) of each FEN, from pipelined ``go perft 1`` requests.

        FENs must be valid (see ``board.check_fen``): the engine trusts what it is sent.
        """
        out: list[list[str]] = []
        for i in range(0, len(fens), PERFT_CHUNK):
            chunk = fens[i:i + PERFT_CHUNK]
            commands = []
            for fen in chunk:
                commands += [f"position fen {fen}", "go perft 1"]
            lines = self._exchange(commands, "Nodes searched", count=len(chunk))
            moves: list[str] = []
            for line in lines:
                m = _PERFT_LINE.match(line)
                if m:
                    moves.append(from_engine(m[1]))
                elif line.startswith("Nodes searched"):
                    n = int(line.split(":")[1])
                    if n != len(moves):
                        raise EngineCrash(f"perft reported {n} moves but listed {len(moves)}")
                    out.append(sorted(moves))
                    moves = []
        return out

    def search(self, fen: str, *, nodes: int, multipv: int = 1,
               searchmoves: Sequence[str] | None = None) -> SearchResult:
        """A node-limited search from a bare FEN (see the module docstring for why bare)."""
        # MultiPV is sent every time: a restarted engine must not fall back to its default
        commands = ["ucinewgame", f"setoption name MultiPV value {multipv}", f"position fen {fen}",
                    f"go nodes {nodes}"]
        if searchmoves:
            commands[-1] += " searchmoves " + " ".join(to_engine(m) for m in searchmoves)
        lines = self._exchange(commands, "bestmove")
        return parse_search(lines, nodes)


def parse_search(lines: Sequence[str], nodes: int) -> SearchResult:
    """The last reported line for each MultiPV index, and the ``bestmove``."""
    latest: dict[int, PvLine] = {}
    best = ""
    for line in lines:
        if line.startswith("bestmove"):
            best = line.split()[1]
            continue
        if not line.startswith("info") or " pv " not in line:
            continue
        m = _INFO.search(line)
        if not m:
            continue
        idx, kind, value = int(m[1]), m[2], int(m[3])
        if kind == "mate":
            mate = value
            score = (MATE_CP - abs(value)) * (1 if value > 0 else -1)
        else:
            mate, score = None, value
        depth_m = _DEPTH.search(line)
        pv = tuple(from_engine(mv) for mv in line.split(" pv ", 1)[1].split())
        latest[idx] = PvLine(pv[0], score, mate, int(depth_m[1]) if depth_m else 0, pv)
    if not best or best == "(none)":
        raise EngineCrash("the engine found no move (a position without legal moves?)")
    ordered = tuple(latest[i] for i in sorted(latest))
    return SearchResult(from_engine(best), ordered, nodes)
