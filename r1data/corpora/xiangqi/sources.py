"""Where xiangqi games come from: self-play seeds (default) or JSONL game records.

A source item is one *game*: ``game_id``, ``start_fen`` and, for recorded games, ``moves``
and ``result``. Self-play items carry no moves yet; the ``xiangqi_selfplay`` step plays them
in the workers, so the engine work spreads over ``--workers``. ``xiangqi_positions`` then
turns every game into one row per move played.

JSONL game records (``--source games --source-dir DIR``; ``DIR`` may also be one file): one
game per line, ``*.jsonl`` files read in name order::

    {"id": "wxf-0001", "moves": ["h2e2", "h9g7", "h0g2"], "result": "1-0"}
    {"id": "end-7", "fen": "3k5/9/...", "moves": ["C2=5", "H8+7"], "notation": "wxf",
     "result": "0-1", "red": "Xu Yinchuan", "black": "Lü Qin"}

``moves`` are ICCS (``h2e2`` or ``H2-E2``) or WXF (``C2=5``), detected per game unless
``notation`` says; ``fen`` defaults to the start position; ``result`` is ``1-0``/``0-1``/
``1/2-1/2``/``*`` or ``red``/``black``/``draw``. A line that is not JSON, has no moves or
a bad FEN is rejected with the reason; an illegal move is found later, by ``xiangqi_positions``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from r1data.corpora.xiangqi.board import START_FEN, FenError, check_fen, looks_like_wxf, normalize_iccs
from r1data.errors import UsageError
from r1data.steps.base import Reject, Source, StepContext, source

RESULTS = {
    "1-0": "red_win", "red": "red_win", "red_win": "red_win", "w": "red_win", "r": "red_win",
    "0-1": "black_win", "black": "black_win", "black_win": "black_win", "b": "black_win",
    "1/2-1/2": "draw", "½-½": "draw", "draw": "draw", "=": "draw",
    "*": "unknown", "": "unknown", "unknown": "unknown",
}


def normalize_result(value: object) -> str | None:
    """A game result as ``red_win``, ``black_win``, ``draw`` or ``unknown``; None if unreadable."""
    if value is None:
        return "unknown"
    return RESULTS.get(str(value).strip().lower())


@source("xiangqi_selfplay")
class SelfPlayGames(Source):
    """Endless self-play game seeds (``games``: a fixed number); game ``i`` is ``sp-{i}``.

    The games themselves are played by the ``xiangqi_selfplay`` step from the seed and the id,
    so the same build plays the same games on any number of workers.
    """

    def __init__(self, ctx: StepContext, *, games: int | None = None, start_fen: str = START_FEN):
        self.games = games
        try:
            self.start_fen = check_fen(start_fen)
        except FenError as e:
            raise UsageError(f"xiangqi_selfplay start_fen {start_fen!r}: {e}") from None

    def __len__(self) -> int:
        if self.games is None:
            raise TypeError("endless")
        return self.games

    def read(self, start: int = 0) -> Iterator[dict]:
        i = start
        while self.games is None or i < self.games:
            yield {"game_id": f"sp-{i:09d}", "source": "selfplay", "start_fen": self.start_fen,
                   "moves": None, "result": None}
            i += 1


@source("xiangqi_games")
class RecordedGames(Source):
    """Games from JSONL files (``dir``: a folder of ``*.jsonl[.gz]`` or one file)."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str | None = None, file: str | None = None,
                 notation: Literal["auto", "iccs", "wxf"] = "auto"):
        target = file or dir
        if not target:
            raise UsageError("source xiangqi_games: pass --source-dir DIR (a folder of .jsonl games "
                             "or one .jsonl file) or set file: in the spec")
        path = Path(target).expanduser()
        if path.is_dir():
            self.files = sorted(p for p in path.iterdir()
                                if p.is_file() and (p.name.endswith(".jsonl") or p.name.endswith(".jsonl.gz")))
            if not self.files:
                raise UsageError(f"source xiangqi_games: {path} holds no .jsonl files")
        elif path.is_file():
            self.files = [path]
        else:
            raise UsageError(f"source xiangqi_games: {path} does not exist")
        self.notation = notation

    def _lines(self) -> Iterator[tuple[Path, int, str]]:
        for path in self.files:
            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    if line.strip():
                        yield path, lineno, line

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for i, (path, lineno, line) in enumerate(self._lines()):
            if i >= start:
                yield self.parse(line, f"{path.name}:{lineno}")

    def parse(self, line: str, where: str) -> dict | Reject:
        """One JSONL line -> a game item, or a Reject saying why not."""
        stub = {"game_id": where, "source": "games", "line": line[:2000]}
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            return Reject(stub, "bad_json", f"{where}: {e}")
        if not isinstance(data, dict):
            return Reject(stub, "bad_json", f"{where}: expected a JSON object per line")
        game_id = str(data.get("id") or data.get("game_id") or where)
        stub["game_id"] = game_id
        moves = data.get("moves")
        if isinstance(moves, str):
            moves = moves.split()
        if not isinstance(moves, list) or not moves or not all(isinstance(m, str) for m in moves):
            return Reject(stub, "no_moves", f"{where}: 'moves' must be a non-empty list of move strings")
        try:
            start_fen = check_fen(str(data.get("fen") or data.get("start_fen") or START_FEN))
        except FenError as e:
            return Reject({**stub, "fen": data.get("fen")}, "bad_fen", f"{where}: {e}")
        result = normalize_result(data.get("result"))
        if result is None:
            return Reject(stub, "bad_result", f"{where}: result {data.get('result')!r}, expected "
                          "1-0, 0-1, 1/2-1/2, * or red/black/draw")
        notation = str(data.get("notation") or self.notation).lower()
        if notation == "auto":
            notation = "iccs" if all(normalize_iccs(m) for m in moves) else \
                "wxf" if all(looks_like_wxf(m) for m in moves) else "iccs"
        if notation not in ("iccs", "wxf"):
            return Reject(stub, "bad_notation", f"{where}: notation {notation!r}, expected iccs or wxf")
        return {"game_id": game_id, "source": "games", "start_fen": start_fen, "moves": moves,
                "notation": notation, "result": result, "termination": str(data.get("termination") or ""),
                "red_player": str(data.get("red") or ""), "black_player": str(data.get("black") or "")}
