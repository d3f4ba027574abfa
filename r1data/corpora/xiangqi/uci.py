"""One persistent Fairy-Stockfish process spoken to over UCI, restarted when it dies.

Searches are node-limited, single-threaded, with contempt zero, from a bare FEN (no move
history), so an answer depends only on the request and on the engine's state: its hash table
and history heuristics, filled by earlier searches. Two kinds of search keep that state under
control:

* a **fresh** search starts with ``ucinewgame`` (hash and histories cleared): its result is a
  pure function of the FEN and the budget, safe to cache and share across games and workers;
* a **session** search continues the state of the searches since the last ``ucinewgame``
  (one game's positions, in order): cheaper (no clearing, a warm hash: about a quarter fewer
  milliseconds per search at 8,000 nodes) and still reproducible, because a session is always
  the same sequence of requests whatever the worker. :meth:`UciEngine.new_session` starts one.

A process that dies or hangs is restarted, the current session's searches are replayed (so the
engine is back in the state it had) and the request is retried; see :meth:`UciEngine._exchange`.
A timeout therefore never changes an answer: either the retried search runs from the same state
and gives the same answer, or the request fails (:class:`EngineCrash`, a reject). A session whose
search failed for good cannot be replayed to the state it would have had, so its later searches
fail too, until the next session starts (never an answer from another state).
Engines die with the process that started them (``PR_SET_PDEATHSIG``), and quit on stdin EOF.

Moves cross this interface in ICCS (ranks 0-9); the engine's ranks 1-10 stay inside.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from r1data.corpora.xiangqi.board import VARIANT, from_engine, to_engine
from r1data.errors import R1DataError

DEFAULT_ENGINE = "/usr/games/fairy-stockfish"
MATE_CP = 30000          # a mate in n moves scores MATE_CP - n centipawns
PERFT_CHUNK = 64         # positions per pipelined write of `go perft 1`

_INFO = re.compile(r"\bmultipv (\d+) score (cp|mate) (-?\d+)")
_DEPTH = re.compile(r"\bdepth (\d+)")
_NODES = re.compile(r"\bnodes (\d+)")
_PERFT_LINE = re.compile(r"^([a-i](?:10|[1-9])[a-i](?:10|[1-9])): \d+$")


class EngineUnavailable(R1DataError):
    """The engine binary is missing or does not speak xiangqi: the build cannot go on."""


class EngineCrash(RuntimeError):
    """The engine died or hung on one request even after restarts (that record is rejected)."""


class NoMove(RuntimeError):
    """The engine found no move: the side to move has none (mated or stalemated)."""


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
    searched: int = 0         # nodes the engine reports it searched (about ``nodes``)

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


def _load_prctl() -> Any:
    """libc's ``prctl``, resolved here in the parent: a forked child must not import or load.

    (``r1data.procs.child_popen_kwargs`` looks libc up inside the forked child, where
    ``find_library`` runs ``ldconfig``; the move oracle starts engines from pool threads, where
    running Python in a forked child can deadlock. Here the child makes one foreign call.)"""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """``preexec_fn``: the kernel kills the engine when the thread that started it ends."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _child_kwargs() -> dict[str, Any]:
    """Popen arguments that make the engine die with the process that starts it (Linux)."""
    return {"preexec_fn": _die_with_parent} if _PRCTL is not None else {}


class UciEngine:
    """A fairy-stockfish process playing xiangqi, started on first use.

    ``legal_moves`` generates moves with ``go perft 1`` (about ten times faster than a pyffish
    call per position); ``search`` runs a node-limited MultiPV search, optionally with the
    position's legal moves in the same round trip. A process that dies (EOF, broken pipe) or
    exceeds ``timeout_s`` on one request is killed, restarted, its session replayed and the
    request retried, up to ``max_retries`` times; then :class:`EngineCrash` is raised for that
    request, and for the session's later searches (see the module docstring).
    """

    def __init__(self, path: str | None = None, *, hash_mb: int = 4, timeout_s: float = 60.0,
                 max_retries: int = 2):
        self.path = resolve_engine(path)
        self.hash_mb = hash_mb
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.replayed = 0                 # searches replayed after restarts
        self.busy_s = 0.0                 # wall time spent waiting for search answers
        self.name = ""                    # the engine's ``id name`` (known once started)
        self._buf = b""
        self._session: list[list[str]] = []   # search commands since the last ucinewgame
        self._fresh_next = True           # the next session search starts with ucinewgame
        self._in_session: subprocess.Popen | None = None   # the process whose state is the session's
        self._lost = ""                   # why the session's state is lost ("" while it is not)
        self._verified = False            # this binary passed the handshake once

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    # -- process -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the process (if not running) and check that it plays xiangqi."""
        if self.proc is not None and self.proc.poll() is None:
            return
        try:
            self.proc = subprocess.Popen([self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, bufsize=0, **_child_kwargs())
        except OSError as e:
            raise EngineUnavailable(f"cannot start {self.path}: {e}") from None
        self._buf = b""
        wait = max(10.0, self.timeout_s)
        try:
            self._send(["uci"])
            hello = self._read_until("uciok", 1, wait)
            self.name = next((ln[len("id name "):].strip() for ln in hello if ln.startswith("id name ")), "")
            if not any("UCI_Variant" in ln and re.search(rf" var {VARIANT}(\s|$)", ln) for ln in hello):
                self._kill(self.proc)
                self.proc = None
                raise EngineUnavailable(f"{self.path} does not offer UCI_Variant {VARIANT} (a Fairy-Stockfish "
                                        "build with large-board variants is needed, e.g. Debian's fairy-stockfish)")
            self._send([f"setoption name UCI_Variant value {VARIANT}", "setoption name Threads value 1",
                        f"setoption name Hash value {self.hash_mb}", "setoption name Contempt value 0",
                        "isready"])
            self._read_until("readyok", 1, wait)
        except _Died as e:
            self._kill(self.proc)
            self.proc = None
            if self._verified:   # it answered before: a slow restart (a loaded machine), retried
                raise
            raise EngineUnavailable(f"{self.path} does not answer the UCI handshake ({e}); "
                                    "is it Fairy-Stockfish?") from None
        self._verified = True

    def close(self) -> None:
        """Ask the engine to quit, then make sure it is gone."""
        proc, self.proc = self.proc, None
        self._session = []
        self._fresh_next = True
        self._lost = ""
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
        needle = prefix.encode()
        while True:
            if needle in self._buf and b"\n" in self._buf:   # split only when an answer may be complete
                raw_lines = self._buf.split(b"\n")
                self._buf = raw_lines.pop()
                for i, raw in enumerate(raw_lines):
                    line = raw.decode(errors="replace").rstrip("\r")
                    lines.append(line)
                    if line.startswith(prefix):
                        seen += 1
                        if seen == count:
                            rest = raw_lines[i + 1:]
                            if rest:
                                self._buf = b"\n".join(rest) + b"\n" + self._buf
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
                  timeout: float | None = None, replay: bool = False) -> list[str]:
        """Send, read the answer; on death or timeout restart, replay the session and retry.

        ``replay``: the request continues the current session, so an engine that is not the one
        the session ran in (restarted by this request or by any earlier one, legal moves
        included) first replays the session's searches (answers discarded) to get back the
        state they left.
        """
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                if self.proc is None:
                    self.start()
                if replay and self._in_session is not self.proc:
                    self._replay()
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

    def _replay(self) -> None:
        """Bring this process to the session's state: ``ucinewgame``, then its searches again."""
        if self._session:    # a new process is in the state ``ucinewgame`` leaves
            commands = ["ucinewgame"] + [c for block in self._session for c in block]
            self._send(commands)
            self._read_until("bestmove", len(self._session), self.timeout_s * (1 + len(self._session)))
            self.replayed += len(self._session)
        self._in_session = self.proc

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
            out.extend(_parse_perft(lines, len(chunk)))
        return out

    def new_session(self) -> None:
        """The next search starts a new session (``ucinewgame`` first): a new game's state."""
        self._fresh_next = True

    def search(self, fen: str, *, nodes: int, multipv: int = 1, searchmoves: Sequence[str] | None = None,
               fresh: bool = True) -> SearchResult:
        """A node-limited search from a bare FEN.

        ``fresh``: clear the engine first (a pure function of the request; see the module
        docstring); otherwise continue the session. The answer of :meth:`analyse` without the
        moves.
        """
        return self.analyse(fen, nodes=nodes, multipv=multipv, searchmoves=searchmoves, fresh=fresh)[1]

    def analyse(self, fen: str, *, nodes: int, multipv: int = 1, searchmoves: Sequence[str] | None = None,
                fresh: bool = True, with_moves: bool = False) -> tuple[list[str] | None, SearchResult]:
        """``(legal moves or None, search)`` in one round trip (``with_moves``: ``go perft 1`` first).

        Raises :class:`NoMove` when the side to move has no move (the legal moves are then ``[]``
        and nothing is added to the session).
        """
        go = f"go nodes {nodes}"
        if searchmoves:
            go += " searchmoves " + " ".join(to_engine(m) for m in searchmoves)
        # MultiPV is sent every time: a restarted engine must not fall back to its default
        block = [f"setoption name MultiPV value {multipv}", f"position fen {fen}", go]
        start_new = fresh or self._fresh_next
        commands = ([f"position fen {fen}", "go perft 1"] if with_moves else []) + \
            (["ucinewgame"] if start_new else []) + block
        if start_new:
            self._session = []
            self._lost = ""
            self._in_session = None
        elif self._lost:     # answering from another state would change the rows: refuse
            raise EngineCrash(f"this game's engine session was lost ({self._lost}); its later "
                              "searches cannot be reproduced")
        t0 = time.perf_counter()
        try:
            lines = self._exchange(commands, "bestmove", replay=not start_new)
        except EngineCrash as e:
            self._fresh_next = fresh     # as after a success: a fresh search ends the session;
            if not fresh:                # a session's later searches would run from another state
                self._lost = str(e)
            raise
        finally:
            self.busy_s += time.perf_counter() - t0
        self._in_session = self.proc       # it has run the session, this search included
        self._session.append(block)
        self._fresh_next = fresh
        moves = _parse_perft(lines, 1)[0] if with_moves else None
        try:
            return moves, parse_search(lines, nodes)
        except NoMove:
            self._session.pop()
            raise

    def probe(self) -> None:
        """Start the engine now (a one-line :class:`EngineUnavailable` if it cannot play xiangqi)."""
        self.start()


def _parse_perft(lines: Sequence[str], count: int) -> list[list[str]]:
    out: list[list[str]] = []
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
            if len(out) == count:
                break
    if len(out) != count:
        raise EngineCrash(f"perft answered {len(out)} positions of {count}")
    return out


def parse_search(lines: Sequence[str], nodes: int) -> SearchResult:
    """The last reported line for each MultiPV index, and the ``bestmove``.

    Reads backwards from ``bestmove``: only the final lines are parsed (a search prints a line
    per MultiPV index at every depth, and Python time here is time the engine stands idle).
    """
    best = ""
    latest: dict[int, PvLine] = {}
    searched = 0
    for line in reversed(lines):
        if line.startswith("bestmove"):
            if best:         # an earlier search's answer in the same read (perft+search): stop
                break
            best = line.split()[1]
            continue
        if not best or not line.startswith("info") or " pv " not in line:
            continue
        m = _INFO.search(line)
        if not m:
            continue
        idx = int(m[1])
        if not searched:
            n = _NODES.search(line)
            searched = int(n[1]) if n else 0
        if idx in latest:
            continue
        kind, value = m[2], int(m[3])
        if kind == "mate":
            mate: int | None = value
            score = (MATE_CP - abs(value)) * (1 if value > 0 else -1)
        else:
            mate, score = None, value
        depth_m = _DEPTH.search(line)
        pv = tuple(from_engine(mv) for mv in line.split(" pv ", 1)[1].split())
        latest[idx] = PvLine(pv[0], score, mate, int(depth_m[1]) if depth_m else 0, pv)
        if idx == 1:         # the final block is printed 1..k: reading backwards, 1 completes it
            break
    if not best or best == "(none)":
        raise NoMove("the engine found no move (the side to move has none)")
    ordered = tuple(latest[i] for i in sorted(latest))
    if not ordered:
        raise EngineCrash(f"the engine answered bestmove {best} without a scored line")
    return SearchResult(from_engine(best), ordered, nodes, searched)
