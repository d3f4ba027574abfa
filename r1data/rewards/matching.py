"""Answer matching for short answers and multiple-choice letters.

:func:`grade_answer` is what Embodied-R1 and LongVILA-R1 call: ``mathruler.grader.grade_answer``
(MATH-style normalisation of both strings, then a sympy check), so ``B.`` and ``(A) left`` do
NOT match ``B`` and ``(A)``. :func:`answers_match` is the lenient reading (option letters
compared as letters, numbers as numbers), behind each reward's ``lenient`` parameter.
"""

from __future__ import annotations

import functools
import re

from r1data.parsing import choice_letter


@functools.lru_cache(maxsize=1 << 16)
def grade_answer(given: str, truth: str) -> bool:
    """``mathruler.grader.grade_answer(given, truth)``, any exception read as False (as the papers'
    reward code does). Cached: a GRPO group repeats the same few answers against one truth, and a
    mismatch that reaches sympy costs milliseconds."""
    from mathruler.grader import grade_answer as _grade

    try:
        return bool(_grade(given, truth))
    except Exception:   # noqa: BLE001 - upstream wraps the call in `except Exception: pass`
        return False

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
