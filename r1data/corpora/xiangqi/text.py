"""The corpus's text: prompts of the three training stages and the programmatic analysis.

* ``xiangqi_prompts`` renders the prompt templates (``annotators/templates/xiangqi_*.jinja``)
  for each position: ``move_question`` / ``move_answer`` (stage 1, legal-move prediction on
  the move played) and ``question`` (stages 2 and 3: best move and situation). It also adds
  the working keys ``board`` (a text diagram), ``material`` and ``pv_wxf`` that the analysis
  templates and the programmatic annotator read.
* ``xiangqi_analysis`` is the offline annotator (stage 2): a commentary derived from the
  engine's principal variation, its candidate scores and the material, ending in the answer
  the rewards read: ``<think>..</think><answer>Move: h0g2\\nSituation: balanced</answer>``.
"""

from __future__ import annotations

from collections.abc import Iterator

from r1data.corpora.xiangqi.board import FILES, PIECE_NAMES, Board, material
from r1data.corpora.xiangqi.rules import wxf_line
from r1data.errors import UsageError
from r1data.steps.annotate import programmatic_annotator
from r1data.steps.base import StepContext, step

SITUATION_WORDS = {
    "balanced": "the position is balanced",
    "red_slight": "Red has a slight advantage",
    "red_clear": "Red has a clear advantage",
    "black_slight": "Black has a slight advantage",
    "black_clear": "Black has a clear advantage",
}
_PLURAL = {"general": "generals", "advisor": "advisors", "elephant": "elephants", "horse": "horses",
           "chariot": "chariots", "cannon": "cannons", "soldier": "soldiers"}


def board_diagram(fen: str) -> str:
    """Ranks 9 (Black's back rank) to 0, files a-i, ``.`` for an empty point, the river marked."""
    board = Board.from_fen(fen)
    lines = []
    for rank in range(9, -1, -1):
        lines.append(f"{rank} " + " ".join(board.grid[rank][f] or "." for f in range(9)))
        if rank == 5:
            lines.append("  ~ ~ ~ river ~ ~ ~ ~")
    lines.append("  " + " ".join(FILES))
    return "\n".join(lines)


def _load_template(ctx: StepContext, name: str):  # type: ignore[no-untyped-def]
    import jinja2

    try:
        path = ctx.assets.find("annotators", f"templates/{name.removesuffix('.jinja')}", suffixes=(".jinja",))
    except Exception as e:
        raise UsageError(f"template {name!r}: {getattr(e, 'message', e)}") from None
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
    return env.from_string(path.read_text(encoding="utf-8"))


@step("xiangqi_prompts")
class Prompts:
    """Render each position's stage-1 and stage-2/3 prompts; add ``board``, ``material``, ``pv_wxf``."""

    def __init__(self, ctx: StepContext, *, question_template: str = "xiangqi_question",
                 move_template: str = "xiangqi_move_question"):
        self.question = _load_template(ctx, question_template)
        self.move_question = _load_template(ctx, move_template)

    def __call__(self, rows: list[dict]) -> Iterator[dict]:
        for row in rows:
            board = Board.from_fen(row["fen"])
            row["board"] = board_diagram(row["fen"])
            row["material"] = material(board)
            pv = row.get("pv") or []
            row["pv_wxf"] = wxf_line(row["fen"], pv) if pv else []
            row["question"] = self.question.render(**row).strip()
            row["move_question"] = self.move_question.render(**row).strip()
            row["move_answer"] = f"Move: {row['move']}"
            yield row


def _signed(cp: int) -> str:
    return f"{cp:+d}"


def _army(counts: dict[str, int]) -> str:
    parts = []
    for letter in "RCNABP":
        n = counts.get(letter, 0)
        if n:
            name = PIECE_NAMES[letter]
            parts.append(f"{n} {_PLURAL[name] if n > 1 else name}")
    return ", ".join(parts) if parts else "only the general"


def _material_sentence(mat: dict) -> str:
    red, black = mat["red"]["points"], mat["black"]["points"]
    text = (f"Material: Red has {_army(mat['red']['counts'])} ({red:g} points); "
            f"Black has {_army(mat['black']['counts'])} ({black:g} points)")
    diff = red - black
    if abs(diff) < 0.5:
        return text + "; material is level."
    return text + f"; {'Red' if diff > 0 else 'Black'} is ahead by {abs(diff):g} points."


@programmatic_annotator("xiangqi_analysis")
def xiangqi_analysis(row: dict, ctx: StepContext) -> str:
    """Stage-2 commentary from the engine's facts; the answer is the best move and the situation.

    Needs the columns of ``xiangqi_evaluate`` and the working keys of ``xiangqi_prompts``.
    """
    side = row["side_to_move"].capitalize()
    best, score = row["best_move"], row["best_score"]
    pv, pv_wxf = row.get("pv") or [best], row.get("pv_wxf") or []
    sentences = [f"{side} is to move.", _material_sentence(row["material"])]
    others = [f"{m} ({_signed(v)})" for m, v in zip(row["scored_moves"], row["scored_values"]) if m != best]
    if others:
        sentences.append("Candidate moves with the engine's scores in centipawns from Red's side: "
                         + ", ".join(others) + ".")
    wxf = f" ({pv_wxf[0]} in WXF)" if pv_wxf else ""
    sentences.append(f"The strongest move is {best}{wxf}, scoring {_signed(score)}.")
    if len(pv) > 1:
        line = " ".join(pv[:8])
        wline = f" ({' '.join(pv_wxf[:8])})" if len(pv_wxf) > 1 else ""
        sentences.append(f"The expected continuation is {line}{wline}.")
    mate = row.get("best_mate")
    if mate:
        winner = side if mate > 0 else ("Black" if side == "Red" else "Red")
        sentences.append(f"This line forces mate in {abs(mate)} for {winner}.")
    situation = row["situation"]
    if situation == "balanced":
        judged = f"The evaluation {_signed(score)} is within 100 centipawns of equality, so the position is balanced."
    else:
        size = "beyond 800" if situation.endswith("clear") else "between 100 and 800"
        judged = (f"The evaluation {_signed(score)} is {size} centipawns from equality, so "
                  f"{SITUATION_WORDS[situation]}.")
    sentences.append(judged)
    think = " ".join(sentences)
    return f"<think>{think}</think><answer>Move: {best}\nSituation: {situation}</answer>"
