"""The one set of parsers for model and annotator output, shared by verifiers and rewards.

Keep every tag and coordinate format here: a verifier that checks a built record and the
GRPO reward that scores a completion must read text the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_STRICT = re.compile(r"\s*<think>(.*?)</think>\s*<answer>(.*?)</answer>\s*", re.DOTALL)
_WORD = re.compile(r"[A-Za-z0-9']+")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


@dataclass(frozen=True)
class ThinkAnswer:
    think: str | None
    answer: str | None
    strict: bool          # exactly <think>...</think><answer>...</answer>, nothing around

    @property
    def ok(self) -> bool:
        return self.think is not None and self.answer is not None


def parse_think_answer(text: str | None) -> ThinkAnswer:
    """Split ``<think>...</think><answer>...</answer>``; missing parts are None."""
    if not text:
        return ThinkAnswer(None, None, False)
    m = _STRICT.fullmatch(text)
    if m:
        return ThinkAnswer(m.group(1).strip(), m.group(2).strip(), True)
    t = _THINK.search(text)
    a = _ANSWER.search(text)
    return ThinkAnswer(t.group(1).strip() if t else None, a.group(1).strip() if a else None, False)


def tag_content(text: str | None, tag: str) -> str | None:
    """The content of the first ``<tag>...</tag>``, stripped, or None."""
    if not text:
        return None
    m = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
    return m.group(1).strip() if m else None


def words(text: str | None) -> list[str]:
    """Words as 3D-R1's filters count them: runs of letters, digits and apostrophes."""
    return _WORD.findall(text or "")


def normalize_answer(text: str | None) -> str:
    """Lowercase, drop punctuation and articles, collapse spaces (VQA-style matching)."""
    text = (text or "").lower().strip()
    text = re.sub(r"[^\w\s.-]", " ", text)
    text = re.sub(r"(?<!\d)\.(?!\d)", " ", text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def parse_numbers(text: str | None) -> list[float]:
    return [float(x) for x in re.findall(_NUMBER, text or "")]


def parse_box3d(text: str | None) -> list[float] | None:
    """``box: [x1, y1, z1, x2, y2, z2]`` (3D-R1's perception format) -> six floats, or None."""
    if not text:
        return None
    m = re.search(r"box\s*:?\s*\[([^\]]*)\]", text)
    if not m:
        return None
    values = parse_numbers(m.group(1))
    return values if len(values) == 6 else None


def format_box3d(box: list[float] | tuple[float, ...], digits: int = 2) -> str:
    return "box: [" + ", ".join(f"{v:.{digits}f}" for v in box) + "]"
