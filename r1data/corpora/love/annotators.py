r"""The offline chains of thought of the love corpus: a zoom step and an answer step.

LOVE-R1 built its CoT-SFT data with models (``process_data/``): gemini-2.5-pro, given the video's
captions and the question, wrote the reasoning that localizes the segment and ended with
``\boxed{[s, e]}`` (kept when the interval overlaps a CG-Bench clue interval,
``build_cgbench_sample_cot.py``); GPT-4o, given 16 frames of the clue interval +-5 s and the answer as
a hint it must not mention, wrote the answer reasoning ending with ``\boxed{X}`` (kept when the
letter is right, ``build_cgbench_answer_cot.py``). The prompts are
``annotators/templates/love_{zoom,answer}_cot.jinja``; ``--annotator PROFILE`` asks a model.

Offline, the event log writes both: the zoom step says what the question needs and where the fast
view shows it happening (never the answer) and asks for the interval around the clues
(:func:`r1data.corpora.love.questions.zoom_interval`); the answer step reads the clip and names the
option. A row without an event log (a released dataset's question) gets no CoT offline (an empty
text): it is an RL row; ask a model for its CoT with ``--annotator``.
"""

from __future__ import annotations

from r1data.corpora.love.questions import ZoomQuestion, zoom_interval
from r1data.rewards.love import ANSWER_PREFIX, ZOOM_PREFIX
from r1data.steps.annotate import programmatic_annotator
from r1data.steps.base import StepContext


def zoom_step_text(q: ZoomQuestion, interval: list[int]) -> str:
    s, e = interval
    coarse = q.coarse[:1].upper() + q.coarse[1:] if q.coarse else "The relevant moment is short"
    return (f"{ZOOM_PREFIX}The question asks about {q.focus}. {coarse}, but in the full video the frames are "
            f"small and far apart, so I cannot make out the details there. To answer reliably I should look "
            f"closely at the seconds around it, from {s} to {e}.\n\n\\boxed{{[{s}, {e}]}}")


def answer_step_text(q: ZoomQuestion, interval: list[int]) -> str:
    s, e = interval
    detail = q.detail.rstrip(".")
    return (f"{ANSWER_PREFIX}In the zoom-in clip from {s} to {e} seconds, {detail[:1].lower() + detail[1:]}. "
            f"So the option that fits is {q.answer}: {q.answer_text}.\n\n\\boxed{{{q.answer}}}")


def cot_interval(row: dict) -> list[int]:
    q: ZoomQuestion = row["zoom_question"]
    return zoom_interval([(c.start, c.end) for c in q.clues], float(row["video_duration"]))


@programmatic_annotator("love_zoom_cot")
def love_zoom_cot(row: dict, ctx: StepContext) -> str:
    """A question row -> its zoom step (``I need to zoom in on the video.`` ... ``\\boxed{[s, e]}``),
    or "" for a question without an event log."""
    if row.get("zoom_question") is None:
        return ""
    return zoom_step_text(row["zoom_question"], cot_interval(row))


@programmatic_annotator("love_answer_cot")
def love_answer_cot(row: dict, ctx: StepContext) -> str:
    """A question row -> its answer step after the zoom (``I get the answer.`` ... ``\\boxed{X}``),
    or "" for a question without an event log."""
    if row.get("zoom_question") is None:
        return ""
    return answer_step_text(row["zoom_question"], cot_interval(row))
