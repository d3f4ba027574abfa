"""Xiangqi rules and game records: r1data's own move generator and WXF names against pyffish,
WXF and Chinese notation read by meaning, Chinese-chess PGN and XQF files as software writes them.

The fixtures follow the formats' facts (docs/xiangqi.md, "Game records"): PGN as the xqbase /
ElephantEye tools write it (GBK, CRLF, Chinese notation, ``[Format]``, ``[FEN]``, comments,
variations, a footer after the result), XQF written here byte by byte after XQStudio's "XQF 1.0"
description and, for the encrypted versions, ElephantEye's ``xqf2pgn.cpp``.
"""

from __future__ import annotations

import json
import random
import shutil

import pytest

pyffish = pytest.importorskip("pyffish")

from r1data.corpora.xiangqi import rules  # noqa: E402
from r1data.corpora.xiangqi.board import START_FEN, Board, from_engine, to_engine  # noqa: E402
from r1data.corpora.xiangqi.records import decode_text, read_pgn, read_xqf  # noqa: E402
from r1data.steps.base import RecordError  # noqa: E402

VARIANT = "xiangqi"


def _positions(n: int, seed: int) -> list[str]:
    """Positions of seeded random games, half the moves captures when there are any."""
    rng = random.Random(seed)
    fens: list[str] = []
    while len(fens) < n:
        board = Board.from_fen(START_FEN)
        for _ in range(rng.randint(5, 150)):
            fen = board.fen()
            legal = sorted(from_engine(m) for m in pyffish.legal_moves(VARIANT, fen, []))
            if not legal:
                break
            fens.append(fen)
            captures = [m for m in legal if board.piece_at(m[2:])]
            board.push(rng.choice(captures) if captures and rng.random() < 0.5 else rng.choice(legal))
    return fens[:n]


# -- the rules ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_legal_moves_and_wxf_names_equal_pyffish_on_played_positions():
    for fen in _positions(300, seed=3):
        theirs = sorted(from_engine(m) for m in pyffish.legal_moves(VARIANT, fen, []))
        assert rules.legal_moves(fen) == theirs, fen
        cells, red = rules.parse_fen(fen)
        for move in theirs:
            wxf = pyffish.get_san(VARIANT, fen, to_engine(move), False, pyffish.NOTATION_XIANGQI_WXF)
            assert rules.wxf(cells, red, move) == wxf, (fen, move)
            assert rules.read_move(fen, wxf, theirs) == move, (fen, move, wxf)


@pytest.mark.parametrize("fen, move, wxf", [
    # two chariots on one file: + for the front one, - for the rear (Fairy-Stockfish's spelling)
    ("4k4/9/9/9/9/9/4R4/9/4R4/3K5 w - - 0 1", "e1e0", "R--1"),
    ("4k4/9/9/9/9/9/4R4/9/4R4/3K5 w - - 0 1", "e3e5", "R++2"),
    # three soldiers on one file: numbered from the front; two files of two: number and file
    ("4k4/9/9/9/4P4/4P4/4P4/9/9/3K5 w - - 0 1", "e5e6", "15+1"),
    ("4k4/9/9/9/2P1P1P2/2P1P4/9/9/9/3K5 w - - 0 1", "c5b5", "17=8"),
    # Black counts files from its own right, with Arabic numbers
    ("3k5/4a4/3a5/9/9/9/9/9/9/4K4 b - - 0 1", "e8f7", "A5+6"),
])
def test_wxf_of_tandem_pieces(fen, move, wxf):
    cells, red = rules.parse_fen(fen)
    assert rules.wxf(cells, red, move) == wxf
    assert pyffish.get_san(VARIANT, fen, to_engine(move), False, pyffish.NOTATION_XIANGQI_WXF) == wxf
    assert rules.read_move(fen, wxf, rules.legal_moves(fen)) == move


@pytest.mark.parametrize("text, move", [
    ("炮二平五", "h2e2"), ("炮2平5", "h2e2"), ("C2=5", "h2e2"), ("C2.5", "h2e2"), ("c2=5", "h2e2"),
    ("砲二進七", "h2h9"), ("马八进七", "b0c2"), ("傌八進七", "b0c2"), ("H8+7", "b0c2"),
    ("相三进五", "g0e2"), ("E3+5", "g0e2"), ("B3+5", "g0e2"), ("仕四进五", "f0e1"), ("帅五进一", "e0e1"),
    ("兵七进一", "c3c4"), ("车九进一", "a0a1"),
])
def test_chinese_and_wxf_spellings_of_the_same_move(text, move):
    assert rules.read_move(START_FEN, text, rules.legal_moves(START_FEN)) == move


def test_tandem_pieces_in_chinese_notation():
    fen = "4k4/9/9/9/9/9/4R4/9/4R4/3K5 w - - 0 1"        # two red chariots on file e (5)
    legal = rules.legal_moves(fen)
    assert rules.read_move(fen, "前车进二", legal) == "e3e5"
    assert rules.read_move(fen, "后车退一", legal) == "e1e0"
    assert rules.read_move(fen, "+R+2", legal) == "e3e5"
    assert rules.read_move(fen, "车五进一", legal) is None       # either chariot: ambiguous, refused
    three = "4k4/9/9/9/4P4/4P4/4P4/9/9/3K5 w - - 0 1"
    assert rules.read_move(three, "前兵平六", rules.legal_moves(three)) == "e5d5"
    assert rules.read_move(three, "中兵进一", rules.legal_moves(three)) is None     # blocked by the front one
    black = "4k4/9/9/4p4/4p4/9/9/9/9/3K5 b - - 0 1"       # Black's front soldier is the lower one
    assert rules.read_move(black, "前卒进1", rules.legal_moves(black)) == "e5e4"
    assert rules.read_move(black, "后卒平6", rules.legal_moves(black)) is None   # not across the river
    assert rules.read_move(START_FEN, "炮二平十", rules.legal_moves(START_FEN)) is None
    assert rules.read_move(START_FEN, "hello", rules.legal_moves(START_FEN)) is None


# -- PGN --------------------------------------------------------------------------------------------

CHINESE_PGN = """[Game "Chinese Chess"]
[Event "全国象棋个人赛"]
[Site "北京"]
[Date "1982.12.11"]
[Round "7"]
[Red "柳大华"]
[Black "杨官璘"]
[Result "1/2-1/2"]
[ECCO "A60"]
{开局评注，
跨两行}
  1. 炮二平五 马８进７
  2. 马二进三 (2. 兵七进一 {变着} 卒３进１) 车９平８ $1
  3.车一平二 炮８进４ ; a line comment 卒３进１
  4. 兵三进一 卒７进１
 1/2-1/2
============================
欢迎访问《象棋百科全书》网站
"""
CHINESE_MOVES = ["h2e2", "h9g7", "h0g2", "i9h9", "i0h0", "h7h3", "g3g4", "g6g5"]

WXF_PGN = """[Game "Chinese Chess"]
[Red "Alice"][Black "Bob"]
[Result "0-1"]
[FEN "rnbakabnr/9/1c5c1/p1p1p1p1p/9/9/P1P1P1P1P/1C2C4/9/RNBAKABNR b - - 1 1"]
[Format "WXF"]
1. ... H2+3 2. H8+7 R1.2 0-1

[Game "Chinese Chess"]
[Format "ICCS"]
[Result "*"]
1. H2-E2 h9g7 2. h0g2 *
"""


def _replay(fen: str, moves: list[str], notation: str) -> list[str]:
    board, out = Board.from_fen(fen), []
    for text in moves:
        legal = rules.legal_moves(board.fen())
        move = text.lower().replace("-", "") if notation == "iccs" else rules.read_move(board.fen(), text, legal)
        assert move in legal, (text, board.fen())
        out.append(move)
        board.push(move)
    return out


def test_pgn_in_chinese_notation_as_xqbase_writes_it():
    data = CHINESE_PGN.replace("\n", "\r\n").encode("gbk")        # GBK and CRLF, as the tools write
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    games = list(read_pgn(decode_text(data, "a.pgn"), "a.pgn"))
    assert len(games) == 1
    game = games[0]
    assert game.notation == "chinese" and game.result == "draw" and game.start_fen == START_FEN
    assert game.info == {"red": "柳大华", "black": "杨官璘", "event": "全国象棋个人赛", "site": "北京",
                         "date": "1982.12.11", "round": "7", "ecco": "A60"}
    # comments, the variation, the NAG, the glued move number and the footer are not moves
    assert _replay(game.start_fen, game.moves, game.notation) == CHINESE_MOVES


def test_pgn_wxf_with_a_fen_and_black_first_then_an_iccs_game():
    games = list(read_pgn(WXF_PGN, "b.pgn"))
    assert [g.game_id for g in games] == ["b.pgn#1", "b.pgn#2"]
    wxf, iccs = games
    assert wxf.notation == "wxf" and wxf.result == "black_win" and " b " in wxf.start_fen
    assert wxf.info["red"] == "Alice" and wxf.info["black"] == "Bob"
    assert _replay(wxf.start_fen, wxf.moves, "wxf") == ["b9c7", "b0c2", "a9b9"]   # Black counts from its right
    assert iccs.notation == "iccs" and iccs.result == "unknown"
    assert _replay(iccs.start_fen, iccs.moves, "iccs") == ["h2e2", "h9g7", "h0g2"]


def test_bad_pgn_games_are_errors_with_file_and_line():
    text = ('[Game "Chinese Chess"]\n[Format "SAN"]\n1. Che2 *\n\n'
            '[Game "Chinese Chess"]\n[Result "2-0"]\n1. 炮二平五 *\n\n'
            '[Game "Chinese Chess"]\n[Result "1-0"]\n1-0\n')
    out = list(read_pgn(text, "c.pgn"))
    assert [(e.reason, e.detail.split(": ")[0]) for e in out] == [
        ("bad_notation", "c.pgn:1"), ("bad_result", "c.pgn:5"), ("no_moves", "c.pgn:9")]
    with pytest.raises(RecordError, match="neither UTF-8 nor GB18030"):
        decode_text(b"[Game \"x\"]\n\x81\x20\xff\xff", "d.pgn")


# -- XQF ---------------------------------------------------------------------------------------------

def _xqf_square(iccs_square: str) -> int:
    return "abcdefghi".index(iccs_square[0]) * 10 + int(iccs_square[1])


def write_xqf(moves: list[str], *, version: int = 10, keys: bytes = b"\x00" * 8, mask: int = 0,
              setup: list[int] | None = None, variation: list[str] | None = None, result: int = 1,
              strings: dict[int, str] | None = None) -> bytes:
    """An XQF file: the header of "XQF 1.0", then the move tree in pre-order; from version 11 on
    encrypted as ElephantEye's xqf2pgn.cpp decrypts it (keys = header bytes 8-15, mask = byte 3).
    ``variation``: a sibling line of the first move, stored after the main line."""
    head = bytearray(0x400)
    head[0:3] = b"XQ" + bytes([version])
    head[3] = mask
    head[8:16] = keys
    head[0x33] = result
    head[0x40] = 3 if setup else 0
    for offset, text in (strings or {}).items():
        raw = text.encode("gbk")
        head[offset] = len(raw)
        head[offset + 1:offset + 1 + len(raw)] = raw
    if version >= 11:
        k12, k13, k14, k15 = keys[4:8]
        piece_off = ((k13 * k13 * 54 + 221) * k13) & 0xFF
        src_off = ((k14 * k14 * 54 + 221) * piece_off) & 0xFF
        dst_off = ((k15 * k15 * 54 + 221) * src_off) & 0xFF
        comment_off = (k12 * 256 + k13) % 32000 + 767
        ks = [keys[i] | (keys[4 + i] & mask) for i in range(4)]
        stream = [ks[i % 4] & b"[(C) Copyright Mr. Dong Shiwei.]"[i] for i in range(32)]
    else:
        piece_off = src_off = dst_off = comment_off = 0
        stream = [0] * 32
    squares = setup or [255] * 32
    for i in range(32):
        plain = squares[(piece_off + 1 + i) % 32] if version >= 12 else squares[i]
        head[0x10 + i] = (plain + piece_off) & 0xFF
    body = bytearray()
    index = 0

    def put(raw: bytes) -> None:
        nonlocal index
        for b in raw:
            body.append((b + stream[index]) & 0xFF)
            index = (index + 1) % 32

    def node(src: int, dst: int, has_next: bool, has_sibling: bool, comment: str = "") -> None:
        text = comment.encode("gbk")
        if version < 11:
            put(bytes([src + 24, dst + 32, 0xF0 if has_next else 0x00, 0]))
            put(len(text).to_bytes(4, "little"))
        else:
            flags = (0x80 if has_next else 0) | (0x40 if has_sibling else 0) | (0x20 if text else 0)
            put(bytes([(src + 24 + src_off) & 0xFF, (dst + 32 + dst_off) & 0xFF, flags, 0]))
            if text:
                put((len(text) + comment_off).to_bytes(4, "little"))
        put(text)

    node(0, 0, bool(moves), False, "开局")                       # move 0: the start, with a comment
    for i, mv in enumerate(moves):
        node(_xqf_square(mv[:2]), _xqf_square(mv[2:]), i + 1 < len(moves), i == 0 and bool(variation),
             "好棋" if i == 1 else "")
    for i, mv in enumerate(variation or []):
        node(_xqf_square(mv[:2]), _xqf_square(mv[2:]), i + 1 < len(variation or []), False)
    return bytes(head) + bytes(body)


@pytest.mark.parametrize("version", [10, 11, 18])
def test_xqf_main_line_players_and_result(version):
    data = write_xqf(CHINESE_MOVES, version=version, keys=bytes([0x9D, 0x12, 0x49, 0x08, 0xA9, 0xA2, 0x40, 0x75]),
                     mask=0xAF, variation=["b2e2", "h9g7"], result=2,
                     strings={0xD0: "全国象棋个人赛", 0x110: "1982.12.11", 0x120: "北京", 0x130: "柳大华",
                              0x140: "杨官璘"})
    game = read_xqf(data, "g.xqf")
    assert game.moves == CHINESE_MOVES            # the variation after the main line is skipped
    assert game.notation == "iccs" and game.start_fen == START_FEN and game.result == "black_win"
    assert game.info == {"event": "全国象棋个人赛", "date": "1982.12.11", "site": "北京", "red": "柳大华",
                         "black": "杨官璘"}


@pytest.mark.parametrize("version", [10, 12])
def test_xqf_set_up_position_with_black_to_move(version):
    # slot order: Red R N B A K A B N R C C P P P P P, then Black's; 255 = not on the board
    setup = [255] * 32
    setup[4] = _xqf_square("e0")           # Red general
    setup[0] = _xqf_square("a1")           # a Red chariot
    setup[20] = _xqf_square("d9")          # Black general
    setup[27] = _xqf_square("e4")          # a Black soldier across the river
    data = write_xqf(["e4e3", "a1a9"], version=version, keys=bytes([1, 2, 3, 4, 5, 6, 7, 8]), mask=0x5A,
                     setup=setup)
    game = read_xqf(data, "end.xqf")
    assert game.start_fen == "3k5/9/9/9/9/4p4/9/9/R8/4K4 b - - 0 1"
    assert _replay(game.start_fen, game.moves, "iccs") == ["e4e3", "a1a9"]


def test_a_damaged_xqf_is_an_error():
    good = write_xqf(CHINESE_MOVES)
    with pytest.raises(RecordError, match="not an XQF file"):
        read_xqf(b"PK" + good[2:], "zip.xqf")
    with pytest.raises(RecordError, match="end early"):
        read_xqf(good[:0x410], "cut.xqf")


# -- a build from records ----------------------------------------------------------------------------

def test_a_build_reads_pgn_xqf_and_jsonl_with_the_games_facts(tmp_path, cli):
    import r1data

    folder = tmp_path / "games"
    folder.mkdir()
    (folder / "a.pgn").write_bytes(CHINESE_PGN.replace("\n", "\r\n").encode("gbk"))
    (folder / "b.pgn").write_text(WXF_PGN, encoding="utf-8")
    (folder / "c.xqf").write_bytes(write_xqf(["c3c4", "h9g7"], version=18, keys=bytes(range(8)), mask=0xFF,
                                             strings={0x130: "许银川", 0x140: "吕钦"}))
    (folder / "d.xqf").write_bytes(b"not an xqf")
    (folder / "e.jsonl").write_bytes(b'{"id": "j1", "moves": ["g3g4", "c6c5"], "result": "1-0", "event": "E", "date": "2001"}\n'
                                     b'{"id": "j2", "moves": ["h2e2"], "red": "\xff\xfe"}\n[1, 2]\n')
    shutil.copy(folder / "b.pgn", folder / "notes.txt")          # not a record: not read
    out = tmp_path / "out"
    res = cli("build", "xiangqi", "--source", "games", "--source-dir", str(folder), "-o", str(out), "--size", "40")
    assert res.exit_code == 0, res.stderr
    corpus = r1data.open_corpus(out)
    rows = [r for s in corpus.manifest["splits"] for r in corpus.table(s).to_pylist()]
    by_game = {}
    for row in rows:
        by_game.setdefault(row["game_id"], []).append(row)
    first = sorted(by_game["a.pgn#1"], key=lambda r: r["ply"])
    assert [r["move"] for r in first] == CHINESE_MOVES
    assert (first[0]["event"], first[0]["date"], first[0]["round"], first[0]["red_player"]) == \
        ("全国象棋个人赛", "1982.12.11", "7", "柳大华")
    # c.xqf's first position is the start position, already a row of a.pgn: only its ply 1 stays
    assert [(r["ply"], r["move"], r["red_player"]) for r in by_game["c.xqf"]] == [(1, "h9g7", "许银川")]
    # b.pgn's first position (Black to move after C2=5) is a.pgn's second: deduplicated
    assert [(r["ply"], r["move"], r["side_to_move"]) for r in by_game["b.pgn#1"]] == \
        [(1, "b0c2", "red"), (2, "a9b9", "black")]
    assert [(r["ply"], r["event"], r["date"]) for r in by_game["j1"]] == [(1, "E", "2001")]
    rejects = {(r["reason"], r["detail"].split(": ")[0]) for r in corpus.rejects().to_pylist()
               if r["reason"] != "duplicate"}
    assert rejects == {("bad_xqf", "d.xqf"), ("bad_encoding", "e.jsonl:2"), ("bad_json", "e.jsonl:3")}
    assert json.loads((out / "manifest.json").read_text())["rows"] == len(rows)
