"""The longvideo verifiers: four distinct options, the answer among them, no leakage."""

from __future__ import annotations

from r1data.corpora.longvideo.annotators import leaks
from r1data.corpora.longvideo.qa_format import LETTERS
from r1data.parsing import normalize_answer, tag_content
from r1data.steps.checks import verifier


@verifier("longvideo_options_distinct")
def options_distinct(row: dict) -> bool | tuple[bool, str]:
    """Exactly four non-empty options that differ after normalisation (case, punctuation)."""
    options = row.get("options") or []
    if len(options) != 4 or not all(str(o).strip() for o in options):
        return False, f"{len(options)} options (or an empty one), expected four"
    norm = [normalize_answer(o) for o in options]
    if len(set(norm)) != 4:
        dup = next(o for o in options if norm.count(normalize_answer(o)) > 1)
        return False, f"option {dup[:50]!r} appears twice"
    return True


@verifier("longvideo_answer_in_options")
def answer_in_options(row: dict) -> bool | tuple[bool, str]:
    """``answer`` is ``<answer>X</answer>`` with X a letter of an option, and ``problem``
    lists the options under those letters."""
    letter = tag_content(row.get("answer"), "answer")
    if letter not in LETTERS[: len(row.get("options") or [])]:
        return False, f"answer {row.get('answer')!r} is not <answer>A-D</answer>"
    problem = row.get("problem") or ""
    for k, text in zip(LETTERS, row.get("options") or []):
        if f"\n{k}. {text}" not in problem:
            return False, f"problem does not list option {k}"
    return True


@verifier("longvideo_no_leakage")
def no_leakage(row: dict, field: str = "reasoning") -> bool | tuple[bool, str]:
    """The rewritten reasoning mentions no captions, timestamps, time spans or step labels."""
    found = leaks(row.get(field) or "")
    if found:
        return False, f"{field} mentions " + ", ".join(found)
    if not (row.get(field) or "").strip():
        return False, f"{field} is empty"
    return True


@verifier("longvideo_reasoning_names_answer")
def reasoning_names_answer(row: dict, field: str = "reasoning") -> bool | tuple[bool, str]:
    """When the reasoning ends by naming a letter, it is the answer's letter."""
    import re

    m = re.search(r"answer is\s*\(?([A-D])\b", row.get(field) or "")
    letter = tag_content(row.get("answer"), "answer")
    if m and m.group(1) != letter:
        return False, f"reasoning concludes {m.group(1)}, answer is {letter}"
    return True
