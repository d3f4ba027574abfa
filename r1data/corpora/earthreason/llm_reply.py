"""``parse_question_reply``: an LLM annotator's JSON reply read into the row's questions.

With ``--annotator PROFILE`` the ``annotate`` step sends ``earthreason_question.jinja`` (the
aerial image, the target class and its context) to a model, which answers
``{"questions": ["...", ...], "answer": "..."}``; the step stores the parsed object in
``question_reply``. This step writes ``questions``, ``question`` (the first) and ``answer``
from it, as the programmatic annotator does, and ``earthreason_no_class_leak`` and
``earthreason_target_consistent`` then check them.

A reply without a non-empty list of questions and an answer string is rejected with
``unparsable_reply``. Rows without a reply (the programmatic annotator filled the fields)
pass through, and so do rows that came with their questions (the released data): the model
is asked for them too (the annotate step asks for every row), but its reply is not used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from r1data.corpora.earthreason.questions import EMPTY_ANSWER
from r1data.parsing import normalize_answer
from r1data.steps.base import Reject, StepContext, step


def read_question_reply(reply: Any) -> tuple[list[str], str]:
    """``(questions, answer)`` of a reply (a parsed object, or its JSON text); ``ValueError``
    saying what is wrong."""
    if isinstance(reply, str):
        try:
            reply = json.loads(reply)
        except ValueError as e:
            raise ValueError(f"the reply is not JSON ({e}): {reply[:120]!r}") from None
    if not isinstance(reply, dict):
        raise ValueError(f"the reply is a {type(reply).__name__}, not an object with questions and answer")
    questions, answer = reply.get("questions"), reply.get("answer")
    if isinstance(questions, str):          # one question given as a string, not a list of one
        questions = [questions]
    if not isinstance(questions, list) or not questions \
            or not all(isinstance(q, str) and q.strip() for q in questions):
        raise ValueError(f"'questions' is not a non-empty list of strings: {json.dumps(questions)[:120]}")
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"'answer' is not a non-empty string: {json.dumps(answer)[:120]}")
    return [q.strip() for q in questions], answer.strip()


@step("parse_question_reply")
def parse_question_reply(rows: Iterable[dict], ctx: StepContext, *,
                         field: str = "question_reply") -> Iterator[dict | Reject]:
    """Fill ``questions``, ``question`` and ``answer`` from the model's reply in ``field`` (see
    the module docstring); rows without a reply, or with their own questions, pass through."""
    for row in rows:
        reply = row.get(field)
        if reply is None or row.get("questions"):
            yield row
            continue
        try:
            questions, answer = read_question_reply(reply)
        except ValueError as e:
            yield Reject(row, "unparsable_reply", f"{row.get('id')}: {e}")
            continue
        # the template dictates SegEarth-R1's empty-target sentence; take it modulo case and stops
        if normalize_answer(answer) == normalize_answer(EMPTY_ANSWER):
            answer = EMPTY_ANSWER
        ctx.stats.count("llm_replies_read")
        row.update(questions=questions, question=questions[0], answer=answer)
        yield row
