"""The offline annotators of longvideo: clip captions, questions and the reasoning rewrite.

Each stands in for one model call of LongVideo-Reason and writes what that model is asked
to write (the prompts are ``annotators/templates/longvideo_*.jinja``):

* ``longvideo_caption``  (the video VLM, step 2): a clip's caption from the event log, or,
  for a video without one, from what its sampled frames measure (brightness, colour, motion)
* ``longvideo_question`` (the LLM, step 4): the QUESTION / OPTIONS / ANSWER / REASONS text,
  answered from the log (or the frame measurements), which ``parse_questions`` then parses
* ``longvideo_rewrite``  (GPT-4o, step 6): the reasons as one natural chain of thought,
  with no timestamps and no mention of captions
"""

from __future__ import annotations

import re

from r1data.corpora.longvideo import frame_stats
from r1data.corpora.longvideo.qa_format import ParsedQA, format_qa
from r1data.corpora.longvideo.questions import caption_clip, question_from_log
from r1data.steps.annotate import programmatic_annotator
from r1data.steps.base import StepContext


@programmatic_annotator("longvideo_caption")
def longvideo_caption(row: dict, ctx: StepContext) -> dict:
    """A clip row -> ``caption`` (and ``clip_stats``, the frame measurements)."""
    stats = frame_stats.clip_stats(row["frames"])
    script = row.get("script")
    caption = caption_clip(script, row["start"], row["end"]) if script is not None else frame_stats.caption(stats)
    return {"caption": caption, "clip_stats": stats}


@programmatic_annotator("longvideo_question")
def longvideo_question(row: dict, ctx: StepContext) -> str:
    """A question row -> the generator's text for its ``problem_type``.

    Raises ``ValueError`` (the row is rejected) when the ground truth cannot support a
    question of that category: goal and plot questions need an event log.
    """
    spans = [(c["start"], c["end"]) for c in row["clips"]]
    rng = ctx.rng(row["id"], "question")
    script = row.get("script")
    if script is not None:
        qa = question_from_log(script, row["problem_type"], spans, rng)
    else:
        qa = frame_stats.question(row["problem_type"], row["captions"], row.get("clip_stats") or [], rng)
    return format_qa(qa)


_CUES = ("Then", "After that", "Next", "Later", "Then")


def rewrite_reasoning(qa: ParsedQA) -> str:
    """The reasons as prose: cued sentences from watching the video, ending with the letter."""
    reasons = [r.rstrip(".") for r in qa.reasons]
    *steps, last = reasons
    out = []
    for i, r in enumerate(steps):
        body = r[:1].lower() + r[1:]
        out.append(f"Checking the video, {body}." if i == 0 else f"{_CUES[(i - 1) % len(_CUES)]}, {body}.")
    last = last[:1].upper() + last[1:]
    out.append(f"{last}.")
    out.append(f"Therefore, the answer is {qa.answer}.")
    return " ".join(out)


@programmatic_annotator("longvideo_rewrite")
def longvideo_rewrite(row: dict, ctx: StepContext) -> str:
    """A parsed question row -> ``reasoning`` without timestamps or captions."""
    return rewrite_reasoning(row["qa"])


# -- leakage: what a rewritten reasoning must not contain -------------------------------------
LEAKS = {
    "caption": re.compile(r"\bcaptions?\b|\bcaptioned\b", re.I),
    "timestamp": re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b|\btimestamps?\b", re.I),
    "time span": re.compile(r"\bfrom\s+\[?\d+(?:\.\d+)?\s*s?\s*(?:to|-)\s*\d", re.I),
    "step label": re.compile(r"#####|\bStep\s+\d+\b", re.I),
}


def leaks(text: str) -> list[str]:
    """The kinds of leakage found in ``text`` (empty when clean)."""
    return [name for name, rx in LEAKS.items() if rx.search(text or "")]
