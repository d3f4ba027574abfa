"""Xiangqi boards in the records' conventions: FEN, ICCS moves, WXF notation, material.

Conventions (the records use them everywhere):

* **FEN** as Fairy-Stockfish writes it: ten ranks from Black's back rank (rank 9) down to
  Red's (rank 0), pieces ``K A B N R C P`` (general, advisor, elephant, horse, chariot,
  cannon, soldier; upper case Red), side ``w`` (Red) or ``b`` (Black), then ``- -``, the
  half-move clock (plies since the last capture) and the move number.
* **ICCS** moves ``h2e2``: files ``a``-``i`` from Red's left, ranks ``0``-``9`` from Red's
  side. The engine and pyffish number ranks ``1``-``10`` (``h3e3``); :func:`to_engine` and
  :func:`from_engine` are the only crossings between the two.
* **WXF** (``C2=5``, ``H8+7``, ``R+=9``) is read by matching it against the WXF names of the
  legal moves (``rules.wxf``, Fairy-Stockfish's rules), so WXF means what the engine means by it.

The :class:`Board` here moves pieces and writes FEN without checking legality (legality is
the engine's and pyffish's job); it exists so a whole game's positions can be computed at
Python speed and sent to the engine in one batch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

VARIANT = "xiangqi"
START_FEN = "rnbakabnr/9/1c5c1/p1p1p1p1p/9/9/P1P1P1P1P/1C5C1/9/RNBAKABNR w - - 0 1"
FILES = "abcdefghi"
PIECES = "KABNRCP"
PIECE_NAMES = {"K": "general", "A": "advisor", "B": "elephant", "N": "horse", "R": "chariot",
               "C": "cannon", "P": "soldier"}
# material in pawns, the usual teaching values; a soldier across the river is worth two
PIECE_VALUES = {"K": 0.0, "A": 2.0, "B": 2.0, "N": 4.0, "R": 9.0, "C": 4.5, "P": 1.0}
START_COUNTS = {"K": 1, "A": 2, "B": 2, "N": 2, "R": 2, "C": 2, "P": 5}

_ICCS = re.compile(r"^([a-i])([0-9])([a-i])([0-9])$")
_ENGINE = re.compile(r"^([a-i])(10|[1-9])([a-i])(10|[1-9])$")
# other spellings of the same pieces in FEN files found in the wild (E/H for elephant/horse)
_FEN_ALIASES = str.maketrans({"E": "B", "e": "b", "H": "N", "h": "n"})


class FenError(ValueError):
    """A FEN that does not describe a xiangqi position; the message says what is wrong."""


# -- coordinates -------------------------------------------------------------------------------

def normalize_iccs(text: str) -> str | None:
    """``h2e2``, ``H2-E2`` or ``h2-e2`` -> ``h2e2``; None when it is not an ICCS move."""
    move = text.strip().lower().replace("-", "")
    return move if _ICCS.match(move) else None


def to_engine(move: str) -> str:
    """ICCS (ranks 0-9) -> the engine's and pyffish's notation (ranks 1-10): ``h2e2`` -> ``h3e3``."""
    m = _ICCS.match(move)
    if not m:
        raise ValueError(f"not an ICCS move: {move!r}")
    return f"{m[1]}{int(m[2]) + 1}{m[3]}{int(m[4]) + 1}"


def from_engine(move: str) -> str:
    """The engine's notation (ranks 1-10) -> ICCS (ranks 0-9): ``b3b10`` -> ``b2b9``."""
    iccs = _FROM_ENGINE.get(move)
    if iccs is None:    # memoised: every move of every engine answer passes through here
        m = _ENGINE.match(move)
        if not m:
            raise ValueError(f"not an engine move: {move!r}")
        iccs = _FROM_ENGINE[move] = f"{m[1]}{int(m[2]) - 1}{m[3]}{int(m[4]) - 1}"
    return iccs


_FROM_ENGINE: dict[str, str] = {}     # at most 90 x 90 entries


def square(name: str) -> tuple[int, int]:
    """``e0`` -> (file 4, rank 0)."""
    return FILES.index(name[0]), int(name[1])


def square_name(file: int, rank: int) -> str:
    return f"{FILES[file]}{rank}"


def side_name(fen: str) -> str:
    """``"red"`` or ``"black"``: the side to move of a FEN."""
    return "black" if fen.split()[1] == "b" else "red"


def position_key(fen: str) -> str:
    """The placement and side of a FEN: equal for the same position whatever the clocks."""
    parts = fen.split()
    return f"{parts[0]} {parts[1]}"


# -- the board -----------------------------------------------------------------------------------

@dataclass
class Board:
    """Pieces by square, side to move and clocks. ``grid[rank][file]`` is a FEN letter or ''."""

    grid: list[list[str]]
    red_to_move: bool = True
    halfmove: int = 0
    fullmove: int = 1

    @classmethod
    def from_fen(cls, fen: str) -> "Board":
        """Parse (and normalise) a FEN; raises :class:`FenError` saying what is wrong."""
        parts = fen.strip().split()
        if len(parts) < 2:
            raise FenError("a FEN needs at least the placement and the side to move")
        placement = parts[0].translate(_FEN_ALIASES)
        rows = placement.split("/")
        if len(rows) != 10:
            raise FenError(f"{len(rows)} ranks, expected 10")
        grid: list[list[str]] = [[""] * 9 for _ in range(10)]
        for i, row in enumerate(rows):
            rank = 9 - i
            file = 0
            for ch in row:
                if ch.isdigit():
                    file += int(ch)
                elif ch.upper() in PIECES:
                    if file >= 9:
                        raise FenError(f"rank {rank} ({row!r}) has more than 9 files")
                    grid[rank][file] = ch
                    file += 1
                else:
                    raise FenError(f"unknown piece {ch!r} on rank {rank}")
            if file != 9:
                raise FenError(f"rank {rank} ({row!r}) covers {file} files, expected 9")
        side = parts[1].lower()
        if side not in ("w", "r", "b"):
            raise FenError(f"side to move {parts[1]!r}, expected w (or r) for Red, b for Black")
        clocks = [p for p in parts[2:] if p != "-"]
        try:
            halfmove = int(clocks[0]) if len(clocks) >= 1 else 0
            fullmove = int(clocks[1]) if len(clocks) >= 2 else 1
        except ValueError:
            raise FenError(f"move counters {' '.join(parts[2:])!r} are not numbers") from None
        if halfmove < 0 or fullmove < 1:
            raise FenError("move counters out of range")
        board = cls(grid, side != "b", halfmove, fullmove)
        for king in ("K", "k"):
            n = board.count(king)
            if n != 1:
                raise FenError(f"{n} {'Red' if king == 'K' else 'Black'} generals, expected 1")
        return board

    def fen(self) -> str:
        rows = []
        for rank in range(9, -1, -1):
            out, empty = "", 0
            for file in range(9):
                p = self.grid[rank][file]
                if p:
                    out += (str(empty) if empty else "") + p
                    empty = 0
                else:
                    empty += 1
            rows.append(out + (str(empty) if empty else ""))
        side = "w" if self.red_to_move else "b"
        return f"{'/'.join(rows)} {side} - - {self.halfmove} {self.fullmove}"

    def piece_at(self, name: str) -> str:
        file, rank = square(name)
        return self.grid[rank][file]

    def count(self, piece: str) -> int:
        return sum(row.count(piece) for row in self.grid)

    def pieces(self) -> list[tuple[str, str]]:
        """(letter, square) for every piece, Red's first."""
        out = [(p, square_name(f, r)) for r in range(10) for f in range(9) if (p := self.grid[r][f])]
        return sorted(out, key=lambda t: (t[0].islower(), PIECES.index(t[0].upper()), t[1]))

    def push(self, move: str) -> str:
        """Play an ICCS move (no legality check) and return the captured letter or ''.

        Raises ``ValueError`` when the move cannot even be made: not ICCS, no piece of the
        side to move on the from-square, or a capture of one's own piece.
        """
        m = _ICCS.match(move)
        if not m:
            raise ValueError(f"{move!r} is not an ICCS move (like h2e2)")
        f1, r1, f2, r2 = FILES.index(m[1]), int(m[2]), FILES.index(m[3]), int(m[4])
        piece = self.grid[r1][f1]
        if not piece or piece.isupper() != self.red_to_move:
            raise ValueError(f"{move!r}: no {'Red' if self.red_to_move else 'Black'} piece on {m[1]}{m[2]}")
        captured = self.grid[r2][f2]
        if captured and captured.isupper() == piece.isupper():
            raise ValueError(f"{move!r} captures its own piece")
        self.grid[r2][f2], self.grid[r1][f1] = piece, ""
        # Fairy-Stockfish's xiangqi clock counts plies since the last capture (soldier moves too)
        self.halfmove = 0 if captured else self.halfmove + 1
        if not self.red_to_move:
            self.fullmove += 1
        self.red_to_move = not self.red_to_move
        return captured

    def copy(self) -> "Board":
        return Board([row[:] for row in self.grid], self.red_to_move, self.halfmove, self.fullmove)


def game_fens(start_fen: str, moves: Sequence[str]) -> tuple[list[str], int | None, str]:
    """The FEN before each move and after the last: ``fens[i]`` is where ``moves[i]`` is played.

    Stops at the first move that cannot be made at all; returns ``(fens, bad_ply, why)``
    with ``bad_ply`` None when every move could be made (legality is checked elsewhere).
    """
    board = Board.from_fen(start_fen)
    fens = [board.fen()]
    for i, move in enumerate(moves):
        try:
            board.push(move)
        except ValueError as e:
            return fens, i, str(e)
        fens.append(board.fen())
    return fens, None, ""


# -- FEN checks with the engine's own rules --------------------------------------------------------

def check_fen(fen: str) -> str:
    """Normalise a FEN and check it is a playable xiangqi position; raises :class:`FenError`.

    Beyond the structure (:meth:`Board.from_fen`), pyffish's validator must accept it and the
    side *not* to move must not be in check (a position where the general can be taken).
    """
    import pyffish

    board = Board.from_fen(fen)
    normal = board.fen()
    code = pyffish.validate_fen(normal, VARIANT)
    if code != pyffish.FEN_OK:
        raise FenError(f"Fairy-Stockfish rejects it (validate_fen code {code})")
    flipped = normal.replace(" w ", " B ").replace(" b ", " w ").replace(" B ", " b ")
    if pyffish.gives_check(VARIANT, flipped, []):
        raise FenError(f"the side not to move ({'Black' if board.red_to_move else 'Red'}) is in check")
    return normal


# -- WXF -------------------------------------------------------------------------------------------

_WXF = re.compile(r"^([KABNRCPEH][1-9+\-]|[+\-][KABNRCPEH]|[+\-1-9][1-9])[+\-=.][1-9]$")


def looks_like_wxf(text: str) -> bool:
    return bool(_WXF.match(text.strip().upper()))


def wxf_to_iccs(fen: str, text: str, legal: Sequence[str]) -> str | None:
    """The legal ICCS move that ``text`` names in WXF (or Chinese notation), or None if none or
    several match (``rules.read_move``)."""
    from r1data.corpora.xiangqi.rules import read_move

    return read_move(fen, text, legal)


def to_wxf(fen: str, moves: Sequence[str]) -> list[str]:
    """WXF of a line of ICCS moves from ``fen``; raises ``ValueError`` on an illegal move."""
    import pyffish

    if not moves:
        return []
    return list(pyffish.get_san_moves(VARIANT, fen, [to_engine(m) for m in moves], False,
                                      pyffish.NOTATION_XIANGQI_WXF))


# -- material --------------------------------------------------------------------------------------

def material(board: Board) -> dict[str, dict]:
    """Per side: piece counts and points (a soldier across the river counts 2)."""
    out: dict[str, dict] = {}
    for side, upper in (("red", True), ("black", False)):
        counts = {k: 0 for k in PIECES}
        points = 0.0
        for rank in range(10):
            for file in range(9):
                p = board.grid[rank][file]
                if not p or p.isupper() != upper:
                    continue
                k = p.upper()
                counts[k] += 1
                crossed = (rank >= 5) if upper else (rank <= 4)
                points += 2.0 if (k == "P" and crossed) else PIECE_VALUES[k]
        out[side] = {"counts": counts, "points": points}
    return out
