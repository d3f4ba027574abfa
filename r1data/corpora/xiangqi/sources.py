"""Where xiangqi games come from: self-play seeds (default) or game records.

A source item is one *game*: ``game_id``, ``start_fen`` and, for recorded games, ``moves``
and ``result``. Self-play items carry no moves yet; the ``xiangqi_selfplay`` step plays them
in the workers, so the engine work spreads over ``--workers``. ``xiangqi_positions`` then
turns every game into one row per move played.

Game records (``--source games --source-dir DIR``; ``DIR`` may also be one file), files read
in name order, each game one item:

* ``*.jsonl`` / ``*.jsonl.gz``: one game per line::

    {"id": "wxf-0001", "moves": ["h2e2", "h9g7", "h0g2"], "result": "1-0"}
    {"id": "end-7", "fen": "3k5/9/...", "moves": ["C2=5", "H8+7"], "notation": "wxf",
     "result": "0-1", "red": "Xu Yinchuan", "black": "Lü Qin", "event": "...", "date": "1999.12.09"}

  ``moves`` are ICCS (``h2e2`` or ``H2-E2``), WXF (``C2=5``) or Chinese (``炮二平五``),
  detected per game unless ``notation`` says; ``fen`` defaults to the start position;
  ``result`` is ``1-0``/``0-1``/``1/2-1/2``/``*`` or ``red``/``black``/``draw``;
* ``*.pgn``: Chinese-chess PGN, any number of games (``records.read_pgn``);
* ``*.xqf``: XQStudio files, one game each (``records.read_xqf``).

A line or game that cannot be read (not UTF-8 or GB18030, not a JSON object, no moves, a bad
FEN or result, a damaged XQF) is rejected with the reason, the file and the line; an illegal
move is found later, by ``xiangqi_positions``, which keeps the positions before it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from r1data.corpora.xiangqi.board import START_FEN, FenError, check_fen, looks_like_wxf, normalize_iccs
from r1data.corpora.xiangqi.records import Game, decode_text, normalize_result, read_pgn, read_xqf
from r1data.errors import UsageError
from r1data.steps.base import RecordError, Reject, Source, StepContext, source

SUFFIXES = (".jsonl", ".jsonl.gz", ".pgn", ".xqf")
INFO = ("event", "site", "date", "round")      # game facts that reach the rows besides the players


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
    """Games from JSONL, PGN and XQF files (``dir``: a folder of them, or one file)."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str | None = None, file: str | None = None,
                 notation: Literal["auto", "iccs", "wxf", "chinese"] = "auto"):
        target = file or dir
        if not target:
            raise UsageError("source xiangqi_games: pass --source-dir DIR (a folder of .jsonl, .pgn or .xqf "
                             "game records, or one such file) or set file: in the spec")
        path = Path(target).expanduser()
        if path.is_dir():
            self.files = sorted(p for p in path.iterdir()
                                if p.is_file() and p.name.lower().endswith(SUFFIXES))
            if not self.files:
                raise UsageError(f"source xiangqi_games: {path} holds no .jsonl, .pgn or .xqf files")
        elif path.is_file():
            self.files = [path]
        else:
            raise UsageError(f"source xiangqi_games: {path} does not exist")
        self.notation = notation

    def _items(self) -> Iterator[dict | Reject]:
        for path in self.files:
            name = path.name.lower()
            if name.endswith(".pgn"):
                yield from self._pgn(path)
            elif name.endswith(".xqf"):
                yield self._xqf(path)
            else:
                yield from self._jsonl(path)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for i, item in enumerate(self._items()):
            if i >= start:
                yield item

    # -- the formats --------------------------------------------------------------------------
    def _jsonl(self, path: Path) -> Iterator[dict | Reject]:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                where = f"{path.name}:{lineno}"
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    yield Reject({"game_id": where, "source": "games", "line": raw[:2000].decode("utf-8", "replace")},
                                 "bad_encoding", f"{where}: not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})")
                    continue
                yield self.parse(line, where)

    def _pgn(self, path: Path) -> Iterator[dict | Reject]:
        try:
            text = decode_text(path.read_bytes(), path.name)
        except RecordError as e:
            yield Reject({"game_id": path.name, "source": "games"}, e.reason, e.detail)
            return
        for game in read_pgn(text, path.name):
            if isinstance(game, RecordError):
                yield Reject({"game_id": game.detail.split(": ")[0], "source": "games"}, game.reason, game.detail)
            else:
                yield self._game(game)

    def _xqf(self, path: Path) -> dict | Reject:
        try:
            return self._game(read_xqf(path.read_bytes(), path.name))
        except RecordError as e:
            return Reject({"game_id": path.name, "source": "games"}, e.reason, e.detail)

    def _game(self, game: Game) -> dict | Reject:
        """A record's game as a source item (its FEN checked)."""
        stub = {"game_id": game.game_id, "source": "games"}
        try:
            start_fen = check_fen(game.start_fen)
        except FenError as e:
            return Reject({**stub, "fen": game.start_fen}, "bad_fen", f"{game.where}: {e}")
        notation = game.notation if self.notation == "auto" else self.notation
        return {"game_id": game.game_id, "source": "games", "start_fen": start_fen, "moves": game.moves,
                "notation": notation, "result": game.result, "termination": "",
                "red_player": game.info.get("red", ""), "black_player": game.info.get("black", ""),
                **{k: game.info.get(k, "") for k in INFO}}

    def parse(self, line: str, where: str) -> dict | Reject:
        """One JSONL line -> a game item, or a Reject saying why not."""
        stub = {"game_id": where, "source": "games", "line": line[:2000]}
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            return Reject(stub, "bad_json", f"{where}: {e}")
        if not isinstance(data, dict):
            return Reject(stub, "bad_json", f"{where}: expected a JSON object per line, got {type(data).__name__}")
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
                "wxf" if all(looks_like_wxf(m) for m in moves) else "chinese"
        if notation not in ("iccs", "wxf", "chinese"):
            return Reject(stub, "bad_notation", f"{where}: notation {notation!r}, expected iccs, wxf or chinese")
        return {"game_id": game_id, "source": "games", "start_fen": start_fen, "moves": moves,
                "notation": notation, "result": result, "termination": str(data.get("termination") or ""),
                "red_player": str(data.get("red") or ""), "black_player": str(data.get("black") or ""),
                **{k: str(data.get(k) or "") for k in INFO}}
