"""The omni verifiers: keyframes whose boxes are their masks' and inside the frame, and prompts that
carry the expression."""

from __future__ import annotations

from r1data.corpora.omni.steps import keyframe_problems
from r1data.steps.checks import verifier


@verifier("omni_keyframes")
def keyframes_consistent(row: dict) -> bool | tuple[bool, str]:
    """Every keyframe box lies in the frame and is the box of its decoded RLE mask; the row's
    ``bbox`` is set (a target visible in the first keyframe)."""
    if not row.get("keyframes"):
        return False, "no keyframe"
    problems = keyframe_problems(row)
    if problems:
        return False, problems[0]
    if not row.get("bbox") or row["bbox"][0] < 0:
        return False, "no target box in the first keyframe"
    return True


@verifier("omni_prompt")
def prompt_names_expression(row: dict) -> bool | tuple[bool, str]:
    """The prompt asks about the row's expression (Omni-R1's templates put it in brackets)."""
    if f"[{row.get('expression')}]" not in (row.get("prompt_text") or ""):
        return False, "the prompt does not carry the expression"
    return True
