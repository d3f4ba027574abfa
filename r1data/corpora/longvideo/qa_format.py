"""The question generator's output format, written and read strictly.

LongVideo-Reason's step-4 prompt asks the LLM for exactly::

    QUESTION: <question>
    OPTIONS:
    A. <option>
    B. <option>
    C. <option>
    D. <option>
    ANSWER: <A|B|C|D>
    REASONS:
    ##### From 0:00:10 to 0:00:20:
    - <reason>
    - <reason>
    ##### From 0:00:40 to 0:00:50:
    - <reason>

:func:`parse_qa` accepts that and nothing looser than light markdown (``**QUESTION:**``,
brackets around the time span), a preamble or a leading ``<think>`` block: a missing or repeated section, an option out of order, a
fifth option, an answer that is not one letter, a reason outside a timestamp group, or a
time span that does not read is a :class:`QAFormatError` whose ``reason`` names it. The
programmatic annotator writes the same text with :func:`format_qa`, so the offline build
goes through the parser an LLM's output goes through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from r1data.steps.base import RecordError

LETTERS = ("A", "B", "C", "D")


class QAFormatError(RecordError):
    """Output that is not in the format; ``reason`` is a short rejects-table key."""


@dataclass(frozen=True)
class ReasonGroup:
    """Reasons grounded in one time span of the video (seconds)."""

    start: float
    end: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ParsedQA:
    question: str
    options: dict[str, str]             # "A".."D" -> option text
    answer: str                         # one of LETTERS
    groups: tuple[ReasonGroup, ...] = field(default_factory=tuple)

    @property
    def reasons(self) -> list[str]:
        return [r for g in self.groups for r in g.reasons]


_MD = r"[*_`]*"   # markdown emphasis tolerated around a label
_LABEL = re.compile(rf"^\s*{_MD}(QUESTION|OPTIONS|ANSWER|REASONS){_MD}\s*:\s*{_MD}\s*(.*?)\s*$")
_OPTION = re.compile(rf"^\s*{_MD}([A-Z])\s*[.)]{_MD}\s*(.*?)\s*$")
_TIME = r"(\d+(?::\d{1,2}){0,2}(?:\.\d+)?)"
_GROUP = re.compile(rf"^\s*#{{3,6}}\s*From\s*\[?\s*{_TIME}\s*(?:to|-|–)\s*{_TIME}\s*\]?\s*:?\s*$", re.I)
_BULLET = re.compile(r"^\s*[-*•]\s+(.*\S)\s*$")
_ANSWER_LETTER = re.compile(r"^\(?([A-D])\)?\.?$")


def parse_time(text: str) -> float:
    """``"0:01:15"``, ``"01:15"``, ``"75"`` or ``"75.5"`` -> seconds; ``ValueError`` otherwise."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or any(p == "" for p in parts):
        raise ValueError(f"not a time: {text!r}")
    seconds = 0.0
    for p in parts:
        if not re.fullmatch(r"\d+(?:\.\d+)?", p):
            raise ValueError(f"not a time: {text!r}")
        seconds = seconds * 60 + float(p)
    return seconds


def parse_qa(text: str | None) -> ParsedQA:
    """Read the question generator's output; :class:`QAFormatError` when it is not in the format."""
    if not text or not text.strip():
        raise QAFormatError("empty_output", "the annotator returned no text")
    # a reasoning model's <think> block comes first; what precedes QUESTION is ignored
    text = re.sub(r"^\s*<think>.*?</think>", "", text, flags=re.DOTALL)
    lines = text.strip().splitlines()
    sections: dict[str, tuple[int, str]] = {}
    for i, line in enumerate(lines):
        m = _LABEL.match(line)
        if m:
            label = m.group(1)
            if label in sections:
                raise QAFormatError("repeated_section", f"{label}: appears twice (lines {sections[label][0] + 1} "
                                                        f"and {i + 1})")
            sections[label] = (i, m.group(2))
    for label in ("QUESTION", "OPTIONS", "ANSWER", "REASONS"):
        if label not in sections:
            raise QAFormatError(f"missing_{label.lower()}", f"no '{label}:' line")
    order = sorted(sections, key=lambda k: sections[k][0])
    if order != ["QUESTION", "OPTIONS", "ANSWER", "REASONS"]:
        raise QAFormatError("section_order", "expected QUESTION, OPTIONS, ANSWER, REASONS in that order, got "
                                             + ", ".join(order))
    q_line, q_text = sections["QUESTION"]
    o_line, o_rest = sections["OPTIONS"]
    a_line, a_text = sections["ANSWER"]
    r_line, r_rest = sections["REASONS"]
    # a question may wrap onto the lines before OPTIONS
    question = " ".join(s.strip() for s in [q_text, *lines[q_line + 1:o_line]] if s.strip())
    if not question:
        raise QAFormatError("missing_question", "QUESTION: is empty")
    if o_rest:
        raise QAFormatError("bad_options", f"text after 'OPTIONS:' on its line: {o_rest[:60]!r}")
    options: dict[str, str] = {}
    for line in lines[o_line + 1:a_line]:
        if not line.strip():
            continue
        m = _OPTION.match(line)
        if not m:
            raise QAFormatError("bad_options", f"not an option line: {line.strip()[:60]!r}")
        letter, body = m.group(1), m.group(2)
        expected = LETTERS[len(options)] if len(options) < 4 else None
        if letter != expected:
            raise QAFormatError("bad_options", f"option {letter} where {expected or 'no more options'} was expected")
        if not body:
            raise QAFormatError("bad_options", f"option {letter} is empty")
        options[letter] = body
    if len(options) != 4:
        raise QAFormatError("bad_options", f"{len(options)} options, expected A, B, C and D")
    answer_text = a_text.strip().strip("*_` ")
    m = _ANSWER_LETTER.match(answer_text)
    if not m:
        raise QAFormatError("bad_answer", f"ANSWER is {answer_text[:40]!r}, expected one letter A-D")
    if any(ln.strip() for ln in lines[a_line + 1:r_line]):
        raise QAFormatError("bad_answer", "text between ANSWER and REASONS")
    if r_rest:
        raise QAFormatError("bad_reasons", f"text after 'REASONS:' on its line: {r_rest[:60]!r}")
    groups: list[ReasonGroup] = []
    current: tuple[float, float, list[str]] | None = None
    for line in lines[r_line + 1:]:
        if not line.strip():
            continue
        g = _GROUP.match(line)
        if g:
            try:
                start, end = parse_time(g.group(1)), parse_time(g.group(2))
            except ValueError as e:
                raise QAFormatError("bad_timestamp", str(e)) from None
            if end < start:
                raise QAFormatError("bad_timestamp", f"span {g.group(1)} to {g.group(2)} ends before it starts")
            if current is not None:
                groups.append(_group(current))
            current = (start, end, [])
            continue
        b = _BULLET.match(line)
        if b is None:
            raise QAFormatError("bad_reasons", f"not a '- reason' or '##### From START to END:' line: "
                                               f"{line.strip()[:60]!r}")
        if current is None:
            raise QAFormatError("bad_reasons", "a reason before any '##### From START to END:' line")
        current[2].append(b.group(1))
    if current is not None:
        groups.append(_group(current))
    if not groups:
        raise QAFormatError("bad_reasons", "REASONS: has no timestamped group")
    return ParsedQA(question, options, m.group(1), tuple(groups))


def _group(current: tuple[float, float, list[str]]) -> ReasonGroup:
    start, end, reasons = current
    if not reasons:
        raise QAFormatError("bad_reasons", f"the group from {start:g} s to {end:g} s has no reason")
    return ReasonGroup(start, end, tuple(reasons))


def format_qa(qa: ParsedQA, timestamp=None) -> str:  # timestamp: seconds -> str
    """The text :func:`parse_qa` reads (what the LLM is asked to write)."""
    from r1data.corpora.longvideo.video import format_timestamp

    ts = timestamp or format_timestamp
    lines = [f"QUESTION: {qa.question}", "OPTIONS:"]
    lines += [f"{k}. {qa.options[k]}" for k in LETTERS]
    lines += [f"ANSWER: {qa.answer}", "REASONS:"]
    for g in qa.groups:
        lines.append(f"##### From {ts(g.start)} to {ts(g.end)}:")
        lines += [f"- {r}" for r in g.reasons]
    return "\n".join(lines)


def problem_text(question: str, options: dict[str, str]) -> str:
    """The released ``problem``: the question, then ``A. ...`` to ``D. ...`` one a line."""
    return question + "\n" + "\n".join(f"{k}. {options[k]}" for k in LETTERS)


def permute(qa: ParsedQA, order: list[str]) -> ParsedQA:
    """Options reordered so that new letter ``LETTERS[i]`` holds old option ``order[i]``.

    Letters the reasons cite ("option B", "(B)") follow their options.
    """
    if sorted(order) != list(LETTERS):
        raise ValueError(f"not a permutation of A-D: {order}")
    new_of_old = {old: LETTERS[i] for i, old in enumerate(order)}
    options = {LETTERS[i]: qa.options[old] for i, old in enumerate(order)}
    cite = re.compile(r"(\b[Oo]ption\s+|\()([A-D])\b")
    groups = tuple(ReasonGroup(g.start, g.end, tuple(cite.sub(lambda m: m.group(1) + new_of_old[m.group(2)], r)
                                                   for r in g.reasons)) for g in qa.groups)
    return ParsedQA(qa.question, options, new_of_old[qa.answer], groups)
