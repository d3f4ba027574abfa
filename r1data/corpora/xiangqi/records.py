"""Game records as players exchange them: Chinese-chess PGN and XQF (XQStudio) files.

Each game becomes a :class:`Game` (start FEN, moves as written, the notation they are in,
result, players, event, site, date, round); ``xiangqi_positions`` reads the moves against the
legal moves of each position. What each format is, and where the facts come from
(docs/xiangqi.md, "Game records", says which were checked and how):

**PGN** (the xqbase / ElephantEye convention, chess PGN's syntax with Chinese-chess tags):
``[Game "Chinese Chess"]``, ``[Event]``, ``[Site]``, ``[Date "YYYY.MM.DD"]``, ``[Round]``,
``[Red]``, ``[Black]``, ``[RedTeam]``, ``[BlackTeam]``, ``[Result "1-0|0-1|1/2-1/2|*"]``,
``[ECCO]``, ``[Opening]``, ``[Variation]``, ``[FEN]`` for another start position and
``[Format "ICCS|WXF|Chinese"]`` for the moves (Chinese when absent, as ElephantEye writes its
files). Move numbers (``1.``, glued ``1.炮二平五``, ``1. ...`` before a Black first move),
``{comments}``, ``; comments``, ``(variations)`` at any depth, ``$n`` NAGs and text after the
result (site footers) are skipped; the result token may close the move text. Files are UTF-8
or GB18030 (GBK, GB2312), as Chinese software writes them; several games per file.

**XQF** (XQStudio's binary format, "XQF 1.0" description by its author, and ElephantEye's
``xqf2pgn.cpp`` for the encrypted versions 11 and later): a 1,024-byte header (``XQ``, the
version, keys; 32 piece squares; result; set-up type; length-prefixed GBK strings: title,
event, date, site, Red, Black, ...), then the move tree from 0x400 in pre-order, 4 bytes per
node (from + 24, to + 32, flags, reserved; square = file * 10 + rank) and a comment. The main
line is the first run of nodes, each with a "next" flag; variations follow it and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from r1data.corpora.xiangqi.board import START_FEN, normalize_iccs
from r1data.steps.base import RecordError

RESULTS = {
    "1-0": "red_win", "red": "red_win", "red_win": "red_win", "w": "red_win", "r": "red_win",
    "0-1": "black_win", "black": "black_win", "black_win": "black_win", "b": "black_win",
    "1/2-1/2": "draw", "½-½": "draw", "draw": "draw", "=": "draw",
    "红胜": "red_win", "红方胜": "red_win", "红先胜": "red_win", "黑胜": "black_win", "黑方胜": "black_win",
    "红先负": "black_win", "和": "draw", "和棋": "draw", "和局": "draw", "红先和": "draw",
    "*": "unknown", "": "unknown", "unknown": "unknown", "未知": "unknown",
}


def normalize_result(value: object) -> str | None:
    """A game result as ``red_win``, ``black_win``, ``draw`` or ``unknown``; None if unreadable."""
    if value is None:
        return "unknown"
    return RESULTS.get(str(value).strip().lower())


@dataclass
class Game:
    """One game as its record states it (moves still in the record's notation)."""

    game_id: str
    moves: list[str]
    notation: str = "auto"                 # iccs, wxf, chinese or auto (decided per game)
    start_fen: str = START_FEN
    result: str = "unknown"
    info: dict[str, str] = field(default_factory=dict)   # red, black, event, site, date, round
    where: str = ""                        # file:line, for rejects


def decode_text(data: bytes, where: str) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        first = e
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        line = data.count(b"\n", 0, first.start) + 1
        raise RecordError("bad_encoding", f"{where}:{line}: neither UTF-8 nor GB18030 "
                                          f"(byte {data[first.start]:#04x} at offset {first.start})") from None


# -- PGN ------------------------------------------------------------------------------------------

_PGN_TOKEN = re.compile(r"""
    (?P<tag>\[\s*(?P<name>[^\s\]"]+)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*\])
  | (?P<comment>\{[^}]*\}?)
  | (?P<line_comment>;[^\n]*)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<nag>\$\d+)
  | (?P<result>(?:1-0|0-1|1/2-1/2|½-½|\*)(?=\s|$|[\[{(;]))
  | (?P<number>\d+\s*\.(?!\d)(?:\s*(?:\.{2,}|…+))?)
  | (?P<dots>\.{2,}|…+)
  | (?P<space>\s+)
  | (?P<word>[^\s\[\]{}();]+)
""", re.VERBOSE)
_TAG_KEYS = {"red": "red", "black": "black", "event": "event", "site": "site", "date": "date",
             "round": "round", "redteam": "red_team", "blackteam": "black_team", "opening": "opening",
             "ecco": "ecco", "variation": "variation"}
_FORMATS = {"iccs": "iccs", "wxf": "wxf", "chinese": "chinese", "cn": "chinese", "": "auto"}


def read_pgn(text: str, name: str) -> Iterator[Game | RecordError]:
    """The games of one PGN file's text, in order (a bad game is a RecordError, never a crash)."""
    tags: dict[str, str] = {}
    moves: list[str] = []
    result_token: str | None = None
    depth = 0
    start_line = 1
    line = 1
    closed = False          # the result token was read: the rest until the next tag is not moves
    count = 0

    def finish() -> Game | RecordError | None:
        nonlocal count
        if not tags and not moves:
            return None
        count += 1
        return _pgn_game(tags, moves, result_token, f"{name}#{count}", f"{name}:{start_line}")

    for m in _PGN_TOKEN.finditer(text):
        kind = "tag" if m.group("tag") else m.lastgroup
        token = m.group(0)
        if kind == "tag" and depth == 0:
            if moves or closed:              # a tag after move text opens the next game
                game = finish()
                if game is not None:
                    yield game
                tags, moves, result_token, closed = {}, [], None, False
            if not tags:
                start_line = line
            tags[m.group("name").lower()] = re.sub(r"\\(.)", r"\1", m.group("value")).strip()
        elif kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
        elif depth == 0 and not closed:
            if kind == "result":
                result_token, closed = token, True
            elif kind == "word":
                if not tags and not moves:
                    start_line = line
                moves.append(token)
        line += token.count("\n")
    game = finish()
    if game is not None:
        yield game


def _pgn_game(tags: dict[str, str], moves: list[str], result_token: str | None, game_id: str,
              where: str) -> Game | RecordError:
    fmt = tags.get("format", "").strip().lower()
    if fmt not in _FORMATS:
        return RecordError("bad_notation", f"{where}: [Format \"{tags['format']}\"], expected ICCS, WXF or Chinese")
    if not moves:
        return RecordError("no_moves", f"{where}: the game has no moves")
    result = normalize_result(tags.get("result") or result_token or "*")
    if result is None:
        return RecordError("bad_result", f"{where}: [Result \"{tags.get('result')}\"], expected 1-0, 0-1, "
                                         "1/2-1/2 or *")
    info = {key: tags[tag] for tag, key in _TAG_KEYS.items() if tags.get(tag)}
    notation = _FORMATS[fmt]
    if notation == "auto":
        notation = "iccs" if all(normalize_iccs(mv) for mv in moves) else \
            "wxf" if all(mv.isascii() for mv in moves) else "chinese"
    return Game(game_id, moves, notation, tags.get("fen") or START_FEN, result, info, where)


# -- XQF ------------------------------------------------------------------------------------------

_MASK = b"[(C) Copyright Mr. Dong Shiwei.]"        # the key-stream mask of XQF 11 and later
_XQF_RESULTS = {0: "unknown", 1: "red_win", 2: "black_win", 3: "draw"}
# the 32 piece slots: Red's chariot, horse, elephant, advisor, general, advisor, elephant, horse,
# chariot, two cannons, five soldiers; then Black's in the same order
_XQF_PIECES = "RNBAKABNRCCPPPPP"


def _xqf_string(header: bytes, offset: int, size: int) -> str:
    n = min(header[offset], size - 1)
    return header[offset + 1:offset + 1 + n].decode("gb18030", errors="replace").strip("\x00").strip()


def read_xqf(data: bytes, name: str) -> Game:
    """The main line of one XQF file; raises RecordError (``bad_xqf``) when it is not one."""
    if len(data) < 0x400 or data[:2] != b"XQ":
        raise RecordError("bad_xqf", f"{name}: not an XQF file (no 'XQ' header of 1,024 bytes)")
    version = data[2]
    head = data[:0x400]
    if version < 11:
        piece_off = src_off = dst_off = comment_off = 0
        stream = [0] * 32
    else:   # keys from the header (ElephantEye's xqf2pgn.cpp)
        k12, k13, k14, k15 = head[12], head[13], head[14], head[15]
        piece_off = ((k13 * k13 * 54 + 221) * k13) & 0xFF
        src_off = ((k14 * k14 * 54 + 221) * piece_off) & 0xFF
        dst_off = ((k15 * k15 * 54 + 221) * src_off) & 0xFF
        comment_off = (k12 * 256 + k13) % 32000 + 767
        keys = [head[8 + i] | (head[12 + i] & head[3]) for i in range(4)]
        stream = [keys[i % 4] & _MASK[i] for i in range(32)]
    info = {k: v for k, v in (("event", _xqf_string(head, 0xD0, 64) or _xqf_string(head, 0x50, 64)),
                              ("date", _xqf_string(head, 0x110, 16)), ("site", _xqf_string(head, 0x120, 16)),
                              ("red", _xqf_string(head, 0x130, 16)), ("black", _xqf_string(head, 0x140, 16)))
            if v}
    result = _XQF_RESULTS.get(head[0x33], "unknown")
    cells = _xqf_board(head, version, piece_off) if head[0x40] >= 2 else None

    pos, index = 0x400, 0
    moves: list[str] = []

    def take(n: int) -> bytes:
        nonlocal pos, index
        if pos + n > len(data):
            raise RecordError("bad_xqf", f"{name}: the move records end early (offset {pos:#x})")
        raw = bytearray(data[pos:pos + n])
        for i in range(n):
            raw[i] = (raw[i] - stream[index]) & 0xFF
            index = (index + 1) % 32
        pos += n
        return bytes(raw)

    first = True
    while True:
        src, dst, flags, _ = take(4)
        if version < 11:
            has_next = bool(flags & 0xF0)
            comment = int.from_bytes(take(4), "little", signed=True)
        else:
            has_next = bool(flags & 0x80)
            comment = int.from_bytes(take(4), "little", signed=True) - comment_off if flags & 0x20 else 0
        if not first:
            a, b = (src - 24 - src_off) & 0xFF, (dst - 32 - dst_off) & 0xFF
            if a >= 90 or b >= 90:
                raise RecordError("bad_xqf", f"{name}: move {len(moves) + 1} names square {max(a, b)} "
                                             "outside the board")
            moves.append(f"{'abcdefghi'[a // 10]}{a % 10}{'abcdefghi'[b // 10]}{b % 10}")
        if comment > 0:
            take(comment)                # comments are not kept
        first = False
        if not has_next:
            break
    if not moves:
        raise RecordError("no_moves", f"{name}: the record holds no move")
    start = START_FEN if cells is None else _xqf_fen(cells, moves[0])
    return Game(name, moves, "iccs", start, result, info, name)


def _xqf_board(head: bytes, version: int, piece_off: int) -> list[str]:
    """The 90 squares of a set-up position (``rank * 9 + file``, FEN letters)."""
    squares = [0] * 32
    for i in range(32):
        value = (head[0x10 + i] - piece_off) & 0xFF
        squares[(piece_off + 1 + i) % 32 if version >= 12 else i] = value
    cells = [""] * 90
    for i, sq in enumerate(squares):
        if sq < 90:
            letter = _XQF_PIECES[i % 16]
            cells[(sq % 10) * 9 + sq // 10] = letter if i < 16 else letter.lower()
    return cells


def _xqf_fen(cells: list[str], first_move: str) -> str:
    """The set-up's FEN; the side to move is the side whose piece the first move moves."""
    rows = []
    for rank in range(9, -1, -1):
        row, empty = "", 0
        for file in range(9):
            p = cells[rank * 9 + file]
            if p:
                row += (str(empty) if empty else "") + p
                empty = 0
            else:
                empty += 1
        rows.append(row + (str(empty) if empty else ""))
    mover = cells[int(first_move[1]) * 9 + "abcdefghi".index(first_move[0])]
    side = "b" if mover.islower() else "w"
    return f"{'/'.join(rows)} {side} - - 0 1"
