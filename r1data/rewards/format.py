"""Format rewards for ``<think>...</think><answer>...</answer>``, shared by several papers."""

from __future__ import annotations

import re
from typing import Any

from r1data.rewards._core import reward, texts

# R1-V / EasyR1 / Embodied-R1 / LongVILA-R1 / Omni-R1 all use this with re.fullmatch
THINK_ANSWER = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_ANSWER = re.compile(r"<answer>.*?</answer>", re.DOTALL)


def strict_think_answer(text: str, strip_whitespace: bool = False) -> float:
    """1.0 when the whole text is ``<think>...</think>`` then ``<answer>...</answer>``.

    As the papers' ``re.fullmatch``: nothing before the first tag or after the last one, not
    even a space or a newline (``strip_whitespace=True`` forgives surrounding whitespace)."""
    return 1.0 if THINK_ANSWER.fullmatch(text.strip() if strip_whitespace else text) else 0.0


def graded_think_answer(text: str) -> float:
    """3D-R1's graded format score (``RewardFunctions.compute_format_reward``).

    +0.5 when both ``<think>...</think>`` and ``<answer>...</answer>`` occur anywhere;
    +0.25 when the first think match, tags included, is longer than 20 characters;
    +0.25 when the first answer match, tags included, is longer than 10 characters (always true
    when the tag exists: ``<answer></answer>`` alone is 17). Order is not checked."""
    think = _THINK.search(text)
    answer = _ANSWER.search(text)
    score = 0.5 if think and answer else 0.0
    if think and len(think.group()) > 20:
        score += 0.25
    if answer and len(answer.group()) > 10:
        score += 0.25
    return score


@reward("format.think_answer", paper="DeepSeek-R1 / R1-V (re.fullmatch)")
def think_answer(prompts: Any = None, completions: Any = (), *, strip_whitespace: bool = False,
                 **_: Any) -> list[float | None]:
    """1 when the completion is exactly ``<think>...</think>`` then ``<answer>...</answer>``, else 0
    (``strip_whitespace``: surrounding whitespace allowed; off, as the papers' ``re.fullmatch``)."""
    return [strict_think_answer(t, strip_whitespace) for t in texts(completions)]


@reward("format.think_answer_graded", paper="3D-R1 (models/rl/reward_functions.py)")
def think_answer_graded(prompts: Any = None, completions: Any = (), **_: Any) -> list[float | None]:
    """3D-R1's graded format reward in [0, 1]: 0.5 for both tags, 0.25 for a think over 20
    characters and 0.25 for an answer over 10 characters (tags included)."""
    return [graded_think_answer(t) for t in texts(completions)]
