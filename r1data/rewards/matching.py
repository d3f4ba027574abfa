"""Answer matching for short answers and multiple-choice letters.

Embodied-R1 and LongVILA-R1 call ``mathruler.grader.grade_answer``, which normalises both
strings (LaTeX wrappers, spaces, case) and compares them, with a symbolic check for maths.
Their answers here are option letters (``(A)``, ``B``) or short spans, so this keeps the part
that matters for them: a normalised string comparison, option letters compared as letters,
numbers compared as numbers. No sympy.
"""

from __future__ import annotations

import re

from r1data.parsing import choice_letter

_WRAPPERS = re.compile(r"\\(?:boxed|text|mathrm|textbf)\{([^{}]*)\}")


def normalize_short(text: str) -> str:
    """Lowercase, LaTeX wrappers unwrapped, spaces and a trailing full stop removed."""
    text = text.strip()
    for _ in range(3):
        new = _WRAPPERS.sub(r"\1", text)
        if new == text:
            break
        text = new
    text = re.sub(r"\s+", "", text.lower())
    return text.rstrip(".")


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def answers_match(given: str | None, truth: str | None) -> bool:
    """Whether a short answer equals the reference (see the module docstring)."""
    if given is None or truth is None:
        return False
    a, b = normalize_short(given), normalize_short(truth)
    if not a or not b:
        return False
    if a == b:
        return True
    truth_letter = choice_letter(truth)
    # a bare option reference ("B", "(B)", "B.") matches any answer naming that option
    if truth_letter and re.fullmatch(r"[\(\[]?[a-z][\)\]\.:]?", b):
        return choice_letter(given) == truth_letter
    x, y = _number(a), _number(b)
    return x is not None and y is not None and abs(x - y) <= 1e-9 * max(1.0, abs(y))
