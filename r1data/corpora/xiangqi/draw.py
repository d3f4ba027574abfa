"""How `r1data report` draws a xiangqi row: the position as a board diagram (Red at the bottom,
files a-i left to right, ranks 0-9 bottom to top, as ICCS counts them) with the move played
arrowed, and the engine's best move dashed when it differs."""

from __future__ import annotations

from r1data.report import ANSWER, OTHER, Panel, RowView, drawer

STEP = 40                     # board units between two lines
MARGIN = 30
LETTERS = {"K": "K", "A": "A", "B": "E", "N": "H", "R": "R", "C": "C", "P": "P"}   # WXF letters


def square_xy(file: int, rank: int) -> tuple[float, float]:
    """Centre of the point at ``file`` (0 = a) and ``rank`` (0 = Red's back rank) on the panel."""
    return MARGIN + file * STEP, MARGIN + (9 - rank) * STEP


def board_panel(fen: str, title: str = "") -> Panel:
    """The position of ``fen`` as a board diagram: red pieces in red, black in black, WXF letters."""
    from r1data.corpora.xiangqi.board import Board

    board = Board.from_fen(fen)
    p = Panel(2 * MARGIN + 8 * STEP, 2 * MARGIN + 9 * STEP, title=title, background="#e9c98b")
    ink = "#5a3b12"
    for rank in range(10):
        p.line([square_xy(0, rank), square_xy(8, rank)], ink, width=1)
    for file in range(9):
        if file in (0, 8):
            p.line([square_xy(file, 0), square_xy(file, 9)], ink, width=1)
        else:              # the river cuts the inner files
            p.line([square_xy(file, 0), square_xy(file, 4)], ink, width=1)
            p.line([square_xy(file, 5), square_xy(file, 9)], ink, width=1)
    for r0, r1 in ((0, 2), (7, 9)):     # the palaces
        p.line([square_xy(3, r0), square_xy(5, r1)], ink, width=1)
        p.line([square_xy(5, r0), square_xy(3, r1)], ink, width=1)
    x_mid = (square_xy(0, 4)[0] + square_xy(8, 4)[0]) / 2
    p.text((x_mid, (square_xy(0, 4)[1] + square_xy(0, 5)[1]) / 2), "river", ink, size=14, center=True,
           halo=False, scaled=True)
    for file in range(9):
        p.text((square_xy(file, 0)[0], 2 * MARGIN + 9 * STEP - 8), "abcdefghi"[file], ink, size=11,
               center=True, halo=False, scaled=True)
    for rank in range(10):
        p.text((9, square_xy(0, rank)[1]), str(rank), ink, size=11, center=True, halo=False, scaled=True)
    for rank in range(10):
        for file in range(9):
            piece = board.grid[rank][file]
            if piece:
                red = piece.isupper()
                color = "#c1121f" if red else "#111111"
                xy = square_xy(file, rank)
                p.circle(xy, STEP * 0.42, color, fill="#f7e7c4", width=2,
                         label=f"{'red' if red else 'black'} {piece.upper()} on {'abcdefghi'[file]}{rank}")
                p.text(xy, LETTERS[piece.upper()], color, size=17, center=True, halo=False, scaled=True)
    return p


def move_arrow(p: Panel, move: str, color: str, label: str, dashed: bool = False) -> None:
    """An arrow from the move's first square to its second (ICCS ``h2e2``)."""
    from r1data.corpora.xiangqi.board import normalize_iccs, square

    iccs = normalize_iccs(move or "")
    if not iccs:
        return
    a, b = square(iccs[:2]), square(iccs[2:])
    p.arrow(square_xy(*a), square_xy(*b), color, label, width=4, dashed=dashed)


@drawer("xiangqi", group_by="situation")
def draw_xiangqi(row: RowView) -> list[Panel]:
    p = board_panel(row["fen"], title=f"{row.get('side_to_move', '')} to move, ply {row.get('ply', '')}")
    best, played = row.get("best_move"), row.get("move")
    if best and best != played:
        move_arrow(p, best, OTHER, f"best move {best}", dashed=True)
    move_arrow(p, played, ANSWER, f"played {played}")
    score = row.get("move_score")
    p.caption = (f"red arrow: played {played} ({row.get('move_wxf', '')}), score {score}"
                 + (f" · dashed green: best {best} ({row.get('best_score')})" if best and best != played else
                    " · the engine's best move")
                 + f" · {row.get('situation', '')}")
    return [p]
