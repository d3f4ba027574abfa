"""The question steps of longvideo: parse the generator's output, balance letters, format.

``parse_questions`` reads the ``annotate`` step's text strictly (see ``qa_format``);
``balance_answer_letters`` permutes options so the correct letters come out even across the
corpus (the released test split is skewed: B=441, C=299, A=153, D=107 of 1,000);
``format_problem`` writes the released record's ``problem`` and ``answer`` columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from r1data.corpora.longvideo.qa_format import LETTERS, ParsedQA, QAFormatError, parse_qa, permute, problem_text
from r1data.corpora.longvideo.video import format_timestamp
from r1data.steps.base import Reject, StepContext, step


@step("parse_questions")
def parse_questions(rows: list[dict], ctx: StepContext, *, field: str = "qa_text") -> Iterator[dict | Reject]:
    """Parse ``field`` (QUESTION / OPTIONS A-D / ANSWER / REASONS) into ``qa``; a row whose
    text is not in the format is rejected with what is wrong (``bad_options``, ...)."""
    for row in rows:
        try:
            row["qa"] = parse_qa(row.get(field))
        except QAFormatError as e:
            yield Reject(row, e.reason, e.detail)
            continue
        yield row


@step("balance_answer_letters", stateful=True)
class BalanceAnswerLetters:
    """Move each row's correct option to the letter used least so far (ties broken by the
    row's seeded generator), swapping it with the option there. Deterministic in row order
    and resumable: the counts are the state."""

    def __init__(self, ctx: StepContext):
        self.ctx = ctx
        self.counts = {k: 0 for k in LETTERS}

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        for row in rows:
            qa: ParsedQA = row["qa"]
            low = min(self.counts.values())
            tied = [k for k in LETTERS if self.counts[k] == low]
            target = tied[int(self.ctx.rng(row["id"]).integers(len(tied)))]
            if target != qa.answer:
                order = list(LETTERS)
                a, t = LETTERS.index(qa.answer), LETTERS.index(target)
                order[a], order[t] = order[t], order[a]
                row["qa"] = qa = permute(qa, order)
                self.ctx.stats.count("options_permuted")
            self.counts[qa.answer] += 1
            self.ctx.stats.count(f"answer_{qa.answer}")
            yield row

    def save_state(self, folder: Path) -> dict:
        return {"counts": dict(self.counts)}

    def load_state(self, folder: Path, info: dict) -> None:
        self.counts = {k: int(info.get("counts", {}).get(k, 0)) for k in LETTERS}


def reasons_text(qa: ParsedQA) -> str:
    """The timestamped REASONS block as the generator wrote it (kept for grounding)."""
    lines = []
    for g in qa.groups:
        lines.append(f"##### From {format_timestamp(g.start)} to {format_timestamp(g.end)}:")
        lines += [f"- {r}" for r in g.reasons]
    return "\n".join(lines)


@step("format_problem")
def format_problem(rows: list[dict], ctx: StepContext) -> Iterator[dict | Reject]:
    """The released columns: ``problem`` (question then ``A. ...`` lines), ``answer`` as
    ``<answer>X</answer>``, plus ``question``, ``options``, ``timestamped_reasons`` and the
    ``event_log`` the answer follows from (procedural videos)."""
    for row in rows:
        qa: ParsedQA = row["qa"]
        row["question"] = qa.question
        row["options"] = [qa.options[k] for k in LETTERS]
        row["problem"] = problem_text(qa.question, qa.options)
        row["answer"] = f"<answer>{qa.answer}</answer>"
        row["timestamped_reasons"] = reasons_text(qa)
        row["data_type"] = "video"
        script = row.get("script")
        row["event_log"] = json.loads(script.to_json()) if script is not None else None
        yield row

