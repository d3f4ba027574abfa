"""The strict parser of the question generator's output, on good and bad LLM answers."""

from __future__ import annotations

import numpy as np
import pytest

from r1data.corpora.longvideo.annotators import leaks, rewrite_reasoning
from r1data.corpora.longvideo.qa_format import QAFormatError, format_qa, parse_qa, parse_time, permute, problem_text
from r1data.corpora.longvideo.questions import CATEGORIES, question_from_log
from r1data.corpora.longvideo.script import make_script
from r1data.corpora.longvideo.video import clip_spans

GOOD = """QUESTION: Why did the man open the fridge after looking at the recipe?
OPTIONS:
A. To get the eggs the recipe needs
B. To put the milk back
C. To clean the shelves
D. To check the temperature
ANSWER: A
REASONS:
##### From 0:00:10 to 0:00:20:
- The man reads a recipe that lists eggs.
- He puts the recipe down.
##### From 0:00:20 to 0:00:30:
- He opens the fridge and takes out two eggs.
"""


def test_reads_the_published_format() -> None:
    qa = parse_qa(GOOD)
    assert qa.question == "Why did the man open the fridge after looking at the recipe?"
    assert qa.options == {"A": "To get the eggs the recipe needs", "B": "To put the milk back",
                          "C": "To clean the shelves", "D": "To check the temperature"}
    assert qa.answer == "A"
    assert [(g.start, g.end, len(g.reasons)) for g in qa.groups] == [(10, 20, 2), (20, 30, 1)]
    assert problem_text(qa.question, qa.options).splitlines()[1:] == [
        "A. To get the eggs the recipe needs", "B. To put the milk back", "C. To clean the shelves",
        "D. To check the temperature"]


@pytest.mark.parametrize("text", [
    GOOD.replace("QUESTION:", "**QUESTION:**").replace("ANSWER: A", "**ANSWER:** A"),   # markdown labels
    GOOD.replace("From 0:00:10 to 0:00:20", "From [0:00:10 to 0:00:20]"),               # the template's brackets
    GOOD.replace("ANSWER: A", "ANSWER: (A)"),
    GOOD.replace("A. To get", "A) To get"),
    GOOD + "\n\n",                                                                     # trailing blank lines
    "Sure! Here is the question.\n\n" + GOOD,                                             # a preamble
    "<think>The answer: A, since ANSWER: must be one letter.</think>\n" + GOOD,            # a reasoning model's think block
    GOOD.replace("From 0:00:10 to 0:00:20", "From 00:10 to 00:20"),                     # M:SS
])
def test_tolerates_light_formatting(text: str) -> None:
    qa = parse_qa(text)
    assert qa.answer == "A" and len(qa.options) == 4 and qa.groups[0].start == 10


@pytest.mark.parametrize("text, reason", [
    ("", "empty_output"),
    (GOOD.replace("QUESTION: Why did the man open the fridge after looking at the recipe?\n", ""), "missing_question"),
    (GOOD.replace("QUESTION: Why did the man open the fridge after looking at the recipe?", "QUESTION:"),
     "missing_question"),
    (GOOD.replace("OPTIONS:\n", ""), "missing_options"),
    (GOOD.replace("ANSWER: A\n", ""), "missing_answer"),
    (GOOD.split("REASONS:")[0], "missing_reasons"),
    (GOOD.replace("D. To check the temperature\n", ""), "bad_options"),                           # three options
    (GOOD.replace("D. To check the temperature\n", "D. To check the temperature\nE. To hide\n"), "bad_options"),
    (GOOD.replace("B. To put", "C. To put"), "bad_options"),                                     # out of order
    (GOOD.replace("C. To clean the shelves", "C."), "bad_options"),                              # empty option
    (GOOD.replace("D. To check the temperature", "To check the temperature"), "bad_options"),
    (GOOD.replace("ANSWER: A", "ANSWER: E"), "bad_answer"),
    (GOOD.replace("ANSWER: A", "ANSWER: A or B"), "bad_answer"),
    (GOOD.replace("ANSWER: A", "ANSWER: The first option"), "bad_answer"),
    (GOOD.replace("##### From 0:00:10 to 0:00:20:\n", ""), "bad_reasons"),                       # reason before a span
    (GOOD.replace("- He opens the fridge and takes out two eggs.\n", ""), "bad_reasons"),         # empty group
    (GOOD.replace("- He puts the recipe down.", "He puts the recipe down."), "bad_reasons"),
    (GOOD.replace("From 0:00:20 to 0:00:30", "From 0:00:30 to 0:00:20"), "bad_timestamp"),
    (GOOD.replace("From 0:00:20 to 0:00:30", "From noon to 0:00:30"), "bad_reasons"),
    (GOOD + "ANSWER: B\n", "repeated_section"),
    ("ANSWER: A\n" + GOOD.replace("ANSWER: A\n", ""), "section_order"),
])
def test_rejects_what_is_not_in_the_format(text: str, reason: str) -> None:
    with pytest.raises(QAFormatError) as err:
        parse_qa(text)
    assert err.value.reason == reason, str(err.value)


def test_times_read_in_every_notation() -> None:
    assert parse_time("1:02:03") == 3723 and parse_time("02:03") == 123 and parse_time("75.5") == 75.5
    for bad in ("", "1::2", "a:00", "1:2:3:4"):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_permuting_options_moves_the_answer_and_cited_letters() -> None:
    qa = parse_qa(GOOD.replace("- He puts the recipe down.", "- So option A fits, not (C)."))
    moved = permute(qa, ["C", "B", "A", "D"])          # new A holds old C, new C holds old A
    assert moved.answer == "C" and moved.options["C"] == qa.options["A"]
    assert "option C fits, not (A)" in moved.groups[0].reasons[1]


@pytest.mark.parametrize("seed", range(6))
def test_generated_questions_round_trip_through_the_parser(seed: int) -> None:
    """The offline generator's text is exactly what the parser reads, for every category."""
    rng = np.random.default_rng(seed)
    script = make_script(rng, f"v{seed}", 60, 3 + seed % 3)
    spans = clip_spans(script.duration, 10)
    for cat in CATEGORIES:
        qa = question_from_log(script, cat, spans, np.random.default_rng([seed, 1]))
        back = parse_qa(format_qa(qa))
        assert (back.question, back.options, back.answer, back.reasons) == (qa.question, qa.options, qa.answer,
                                                                            qa.reasons)
        assert len(set(qa.options.values())) == 4
        reasoning = rewrite_reasoning(back)
        assert leaks(reasoning) == [] and reasoning.endswith(f"the answer is {qa.answer}.")


def test_leak_detector_finds_captions_and_timestamps() -> None:
    assert leaks("According to the captions, he leaves.") == ["caption"]
    assert leaks("At 0:01:20 he leaves.") == ["timestamp"]
    assert leaks("From 20 to 30 seconds he waits.") == ["time span"]
    assert leaks("##### Step 2: he waits.") == ["step label"]
    assert leaks("Checking the video, he leaves the kitchen. Therefore, the answer is B.") == []
