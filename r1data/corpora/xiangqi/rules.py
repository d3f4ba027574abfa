"""The rules of xiangqi in plain Python: legal moves and WXF names, independent of the engine.

Two jobs, both per row of a build, where a pyffish call (about 1.4 ms of fixed overhead each)
would cost more than the rest of the row's Python together:

* :func:`legal_moves` is the verifier's second opinion on the engine's move generator: an
  implementation that shares no code with the ``fairy-stockfish`` binary;
* :func:`wxf` names a move in WXF exactly as Fairy-Stockfish does (``SAN::move_to_san`` with
  ``NOTATION_XIANGQI_WXF`` in its ``apiutil.h``: the piece letter, or a pawn's place in its file
  when three stand on one file, or two on each of two files; the file or ``+``/``-`` for two
  pieces of a kind on one file; ``+ - =``; the steps or the destination file).

tests/test_xiangqi_rules.py holds both against pyffish on thousands of played positions.

Squares are ``rank * 9 + file`` (rank 0 is Red's back rank, file 0 is ``a``), the layout of
ICCS names: ``square("h2") == 2 * 9 + 7``.
"""

from __future__ import annotations

from collections.abc import Sequence

FILES = "abcdefghi"
WXF_LETTER = {"K": "K", "A": "A", "B": "E", "N": "H", "R": "R", "C": "C", "P": "P"}

_ORTHO = ((1, 0), (-1, 0), (0, 1), (0, -1))                      # (file, rank) steps
_DIAG = ((1, 1), (1, -1), (-1, 1), (-1, -1))
_HORSE = tuple((df, dr, lf, lr) for df, dr, lf, lr in (           # jump and the leg it needs free
    (1, 2, 0, 1), (-1, 2, 0, 1), (1, -2, 0, -1), (-1, -2, 0, -1),
    (2, 1, 1, 0), (2, -1, 1, 0), (-2, 1, -1, 0), (-2, -1, -1, 0)))


def name(sq: int) -> str:
    return f"{FILES[sq % 9]}{sq // 9}"


def square(text: str) -> int:
    return int(text[1]) * 9 + FILES.index(text[0])


def parse_fen(fen: str) -> tuple[list[str], bool]:
    """The 90 squares (a FEN letter or ``""``) and whether Red is to move (a valid FEN)."""
    placement, side = fen.split()[:2]
    cells: list[str] = [""] * 90
    for i, row in enumerate(placement.split("/")):
        rank, file = 9 - i, 0
        for ch in row:
            if ch.isdigit():
                file += int(ch)
            else:
                cells[rank * 9 + file] = {"E": "B", "e": "b", "H": "N", "h": "n"}.get(ch, ch)
                file += 1
    return cells, side.lower() != "b"


def _in_palace(file: int, rank: int, red: bool) -> bool:
    return 3 <= file <= 5 and (0 <= rank <= 2 if red else 7 <= rank <= 9)


def _own(piece: str, red: bool) -> bool:
    return bool(piece) and piece.isupper() == red


def _pseudo(cells: list[str], red: bool) -> list[tuple[int, int]]:
    """Moves by each piece's movement rules, ignoring whether the own general is left attacked."""
    out: list[tuple[int, int]] = []
    append = out.append
    for sq, piece in enumerate(cells):
        if not piece or piece.isupper() != red:
            continue
        kind = piece.upper()
        f, r = sq % 9, sq // 9
        if kind == "R" or kind == "C":
            for df, dr in _ORTHO:
                nf, nr = f + df, r + dr
                screen = False
                while 0 <= nf <= 8 and 0 <= nr <= 9:
                    t = nr * 9 + nf
                    target = cells[t]
                    if not screen:
                        if not target:
                            append((sq, t))
                        else:
                            if kind == "R":
                                if target.isupper() != red:
                                    append((sq, t))
                                break
                            screen = True
                    elif target:
                        if target.isupper() != red:
                            append((sq, t))
                        break
                    nf += df
                    nr += dr
        elif kind == "N":
            for df, dr, lf, lr in _HORSE:
                nf, nr = f + df, r + dr
                if 0 <= nf <= 8 and 0 <= nr <= 9 and not cells[(r + lr) * 9 + f + lf]:
                    t = nr * 9 + nf
                    if not _own(cells[t], red):
                        append((sq, t))
        elif kind == "P":
            steps = [(0, 1 if red else -1)]
            if (r >= 5) if red else (r <= 4):      # across the river: sideways too
                steps += [(1, 0), (-1, 0)]
            for df, dr in steps:
                nf, nr = f + df, r + dr
                if 0 <= nf <= 8 and 0 <= nr <= 9 and not _own(cells[nr * 9 + nf], red):
                    append((sq, nr * 9 + nf))
        elif kind == "B":
            for df, dr in _DIAG:
                nf, nr = f + 2 * df, r + 2 * dr
                if 0 <= nf <= 8 and 0 <= nr <= 9 and ((nr <= 4) if red else (nr >= 5)) \
                        and not cells[(r + dr) * 9 + f + df] and not _own(cells[nr * 9 + nf], red):
                    append((sq, nr * 9 + nf))
        else:   # K, A: one step inside the palace
            for df, dr in (_ORTHO if kind == "K" else _DIAG):
                nf, nr = f + df, r + dr
                if _in_palace(nf, nr, red) and not _own(cells[nr * 9 + nf], red):
                    append((sq, nr * 9 + nf))
    return out


def attacked(cells: list[str], sq: int, red: bool) -> bool:
    """Whether the side ``red`` (True: Red) has a piece on ``sq`` that the other side attacks.

    The generals facing each other on an open file counts as an attack (the flying general).
    """
    f, r = sq % 9, sq // 9
    enemy_r, enemy_c, enemy_n, enemy_p, enemy_k = ("rcnpk" if red else "RCNPK")
    for df, dr in _ORTHO:
        nf, nr = f + df, r + dr
        screened = False
        while 0 <= nf <= 8 and 0 <= nr <= 9:
            piece = cells[nr * 9 + nf]
            if piece:
                if not screened:
                    if piece == enemy_r or (piece == enemy_k and df == 0):
                        return True
                    screened = True
                else:
                    if piece == enemy_c:
                        return True
                    break
            nf += df
            nr += dr
    for df, dr, lf, lr in _HORSE:      # a horse at sq - (df, dr) jumps here if its leg is free
        hf, hr = f - df, r - dr
        if 0 <= hf <= 8 and 0 <= hr <= 9 and cells[hr * 9 + hf] == enemy_n \
                and not cells[(hr + lr) * 9 + hf + lf]:
            return True
    ahead = r + (1 if red else -1)     # an enemy soldier in front of sq, or beside it
    if 0 <= ahead <= 9 and cells[ahead * 9 + f] == enemy_p:
        return True
    for nf in (f - 1, f + 1):          # a soldier beside sq has crossed the river: sq is past it
        if 0 <= nf <= 8 and cells[r * 9 + nf] == enemy_p and ((r <= 4) if red else (r >= 5)):
            return True
    return False


def legal_moves(fen: str) -> list[str]:
    """Every legal move of the side to move, ICCS, sorted (as ``Analyzer.legal_moves`` lists them)."""
    cells, red = parse_fen(fen)
    king = cells.index("K" if red else "k")
    kf, kr = king % 9, king // 9
    in_check = attacked(cells, king, red)
    out = []
    for a, b in _pseudo(cells, red):
        # a move away from the general's file, rank and diagonal neighbours (horse legs) can
        # neither open nor screen a line to it: only the others need the full test
        risky = in_check or a == king or a % 9 == kf or a // 9 == kr or b % 9 == kf or b // 9 == kr \
            or (abs(a % 9 - kf) == 1 and abs(a // 9 - kr) == 1)
        if risky:
            moved, taken = cells[a], cells[b]
            cells[b], cells[a] = moved, ""
            bad = attacked(cells, b if a == king else king, red)
            cells[a], cells[b] = moved, taken
            if bad:
                continue
        out.append(name(a) + name(b))
    out.sort()
    return out


# -- WXF ----------------------------------------------------------------------------------------

def _wxf_file(file: int, red: bool) -> str:
    return str(9 - file if red else file + 1)


def _ahead(a: int, b: int, red: bool) -> bool:
    """Square ``b`` stands in front of ``a`` on the same file, from the mover's side."""
    return b // 9 > a // 9 if red else b // 9 < a // 9


def _region_ok(kind: str, file: int, rank: int, red: bool) -> bool:
    """Where a piece of ``kind`` may stand (Fairy-Stockfish's mobility regions for xiangqi)."""
    if not (0 <= file <= 8 and 0 <= rank <= 9):
        return False
    if kind in ("K", "A"):
        return _in_palace(file, rank, red)
    if kind == "B":
        return rank <= 4 if red else rank >= 5
    return True


def wxf(cells: list[str], red: bool, move: str) -> str:
    """The WXF name of an ICCS ``move`` in the position ``cells`` (Fairy-Stockfish's rules)."""
    a, b = square(move[:2]), square(move[2:])
    piece = cells[a]
    kind = piece.upper()
    af, ar, bf, br = a % 9, a // 9, b % 9, b // 9
    same = [s for s, p in enumerate(cells) if p == piece]
    on_file = [s for s in same if s % 9 == af]
    files_with_two = sum(1 for f in set(s % 9 for s in same) if sum(1 for s in same if s % 9 == f) >= 2)
    multi = files_with_two >= 2
    if len(on_file) >= 3 - multi:      # tandem pieces (soldiers): their place in the file, front first
        head = str(sum(1 for s in on_file if _ahead(a, s, red)) + 1)
    else:
        head = WXF_LETTER[kind]
    origin = _wxf_file(af, red)
    if len(on_file) == 2 and not multi:
        other = on_file[0] if on_file[1] == a else on_file[1]
        of, orank = other % 9 + (bf - af), other // 9 + (br - ar)
        if _region_ok(kind, of, orank, red):
            origin = "-" if any(_ahead(a, s, red) for s in on_file if s != a) else "+"
    if ar == br:
        sign = "="
    elif (br > ar) == red:
        sign = "+"
    else:
        sign = "-"
    dest = str(abs(br - ar)) if af == bf else _wxf_file(bf, red)
    return head + origin + sign + dest


def wxf_line(fen: str, moves: Sequence[str]) -> list[str]:
    """WXF names of a line of ICCS moves played from ``fen`` (no legality check: engine lines)."""
    cells, red = parse_fen(fen)
    out = []
    for move in moves:
        out.append(wxf(cells, red, move))
        a, b = square(move[:2]), square(move[2:])
        cells[b], cells[a] = cells[a], ""
        red = not red
    return out


# -- reading WXF and Chinese notation -----------------------------------------------------------
#
# Both name a move the same way: the piece (or its place among pieces of its kind on one file),
# the file it stands on, counted from the mover's right, a direction (forward, back, along the
# rank) and either the destination file or, for a piece moving along its file, the steps. The
# reader matches every legal move against that meaning, so the two notations and their usual
# spellings (C2=5, C2.5, +C=5, C+=5, 炮二平五, 炮2平5, 前炮平五, 砲二平五) read the same way.

_PIECE_WORDS = {
    **{c: "K" for c in "帅帥将將"}, **{c: "A" for c in "仕士"}, **{c: "B" for c in "相象"},
    **{c: "N" for c in "马馬傌"}, **{c: "R" for c in "车車俥"}, **{c: "C" for c in "炮砲包"},
    **{c: "P" for c in "兵卒"},
    "K": "K", "A": "A", "G": "A", "B": "B", "E": "B", "M": "B", "N": "N", "H": "N", "R": "R", "C": "C", "P": "P",
}
_DIRECTIONS = {"进": "+", "進": "+", "退": "-", "平": "=", "+": "+", "-": "-", "=": "=", ".": "="}
_NUMBERS = {**{c: i + 1 for i, c in enumerate("一二三四五六七八九")}, **{str(i): i for i in range(1, 10)},
            **{c: i + 1 for i, c in enumerate("１２３４５６７８９")}}
_TANDEM = {"前": "front", "后": "rear", "後": "rear", "中": "middle", "+": "front", "-": "rear"}
_STRAIGHT = {"K", "R", "C", "P"}      # pieces whose forward/back number counts steps


def _read_notation(text: str) -> tuple[str | None, str | None, int | None, str, int] | None:
    """(piece kind or None, tandem place or None, origin file or None, direction, number)."""
    t = text.strip().rstrip("!?#+") if text.strip()[-1:] in "!?#" else text.strip()
    t = t.replace("　", "")
    if len(t) != 4:
        return None
    a, b, c, d = t[0], t[1], t[2], t[3]
    direction = _DIRECTIONS.get(c)
    number = _NUMBERS.get(d)
    if direction is None or number is None:
        return None
    up_a, up_b = a.upper(), b.upper()
    if up_a in _PIECE_WORDS and (b in _NUMBERS):                 # C2=5, 炮二平五
        return _PIECE_WORDS[up_a], None, _NUMBERS[b], direction, number
    if up_a in _PIECE_WORDS and b in _TANDEM:                    # C+=5 (Fairy-Stockfish), R-+1
        return _PIECE_WORDS[up_a], _TANDEM[b], None, direction, number
    if a in _TANDEM and up_b in _PIECE_WORDS:                    # +C=5, 前炮平五, 后马进七
        return _PIECE_WORDS[up_b], _TANDEM[a], None, direction, number
    if a in _NUMBERS and b in _NUMBERS:                          # 17=8: first soldier on file 7
        return "P", f"#{_NUMBERS[a]}", _NUMBERS[b], direction, number
    if a in _NUMBERS and up_b in _PIECE_WORDS:                   # 一兵进一, 二兵平三: place then piece
        return _PIECE_WORDS[up_b], f"#{_NUMBERS[a]}", None, direction, number
    if a in _TANDEM and b in _NUMBERS:                           # 前三进一: front soldier of file 3
        return "P", _TANDEM[a], _NUMBERS[b], direction, number
    return None


def read_move(fen: str, text: str, legal: Sequence[str]) -> str | None:
    """The one legal ICCS move that ``text`` names in WXF or Chinese notation; None otherwise
    (not that notation, no legal move matches, or more than one does)."""
    parsed = _read_notation(text)
    if parsed is None:
        return None
    kind, tandem, origin, direction, number = parsed
    cells, red = parse_fen(fen)
    found = []
    for move in legal:
        a, b = square(move[:2]), square(move[2:])
        piece = cells[a]
        if not piece or (kind is not None and piece.upper() != kind):
            continue
        af, ar, bf, br = a % 9, a // 9, b % 9, b // 9
        if origin is not None and int(_wxf_file(af, red)) != origin:
            continue
        if tandem is not None:
            column = sorted((s for s, p in enumerate(cells) if p == piece and s % 9 == af),
                            key=lambda s: -(s // 9) if red else s // 9)     # front first
            place = column.index(a)
            if tandem == "front" and not (len(column) >= 2 and place == 0):
                continue
            if tandem == "rear" and not (len(column) >= 2 and place == len(column) - 1):
                continue
            if tandem == "middle" and not (len(column) == 3 and place == 1):
                continue
            if tandem.startswith("#") and place != int(tandem[1:]) - 1:
                continue
        if br == ar:
            if direction != "=" or int(_wxf_file(bf, red)) != number:
                continue
        else:
            if direction != ("+" if (br > ar) == red else "-"):
                continue
            steps_ok = abs(br - ar) == number if piece.upper() in _STRAIGHT and af == bf else \
                int(_wxf_file(bf, red)) == number and af != bf
            if not steps_ok:
                continue
        found.append(move)
    return found[0] if len(found) == 1 else None
