"""Golden cases from the papers' released reward code.

Each expected value was worked out by reading the released code (never copied into r1data) at
the commit named in the section header, following it line by line for that input. The repos:

- LongVILA-R1: NVlabs/Long-RL @ 97abc844a4c3b7bfba9184d83363394b244dacc9,
  examples/reward_function/r1v.py (the reward) and verl/utils/dataset.py (ground_truth = the
  <answer> span of the answer column)
- Embodied-R1: pickxiguapi/Embodied-R1 @ e599e95f6699c53d97575616d1b4089d7948b6c5,
  verl/utils/reward_score/embodiedr1.py
- SATORI-R1: justairr/SATORI-R1 @ 8857b30f6a0931f5a2db566dbd1e91607eea481f, plugin.py
- LOVE-R1: HumanMLLM/LOVE-R1 @ aa1facb78ef71379c80349baf8aa63208a27fc96,
  src/r1-v/src/open_r1/trainer/grpo_trainer.py (_generate_and_score_completions, iou_1d)
- 3D-R1: AIGeeksGroup/3D-R1 @ 767a5e2e10bc57d887fa5f92a8fc0bcd5df4050f,
  models/rl/reward_functions.py (RewardFunctions)
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from r1data import rewards

pytest.importorskip("mathruler")


def score(name: str, completions: list, **kw):  # type: ignore[no-untyped-def]
    return rewards.load(name)(prompts=None, completions=completions, **kw)


# -- LongVILA-R1: r1v.py compute_score (format_weight 0.1) --------------------------------------

LONGVIDEO_CASES = [
    # (response, ground-truth column, overall = 0.9 accuracy + 0.1 format)
    ("<think>x</think><answer>B</answer>", "<answer>B</answer>", 1.0),
    ("<think>x</think><answer>B.</answer>", "<answer>B</answer>", 0.1),          # grade_answer("B.", "B") is False
    ("<think>x</think><answer>B. The man runs</answer>", "<answer>B</answer>", 0.1),   # read as "B.Themanruns"
    ("<think>x</think><answer> (B) </answer>", "<answer>B</answer>", 1.0),      # "(B)" is the tuple (b)
    ("<think>x</think>\n<answer>b</answer>", "<answer>B</answer>", 1.0),        # case-insensitive; \s* between tags
    ("<think>x</think><answer>\nB\n</answer>", "<answer>B</answer>", 1.0),      # newlines removed before the search
    (" <think>x</think><answer>B</answer>", "<answer>B</answer>", 0.9),         # fullmatch: no leading space
    ("<think>x</think><answer>B</answer>\n", "<answer>B</answer>", 0.9),        # nor a trailing newline
    ("B", "<answer>B</answer>", 0.9),                                          # no tag: the whole response
    ("The answer is B", "<answer>B</answer>", 0.0),
    ("<think>x</think><answer>\\boxed{B}</answer>", "<answer>B</answer>", 1.0),  # mathruler unwraps \boxed
    ("<think>x</think><answer>C</answer>", "<answer>B</answer>", 0.1),
    ("<think>x</think><answer>2</answer>", "<answer> 2.0 </answer>", 1.0),      # the GT is stripped; 2.0 == 2
]


@pytest.mark.parametrize("response, answer, overall", LONGVIDEO_CASES)
def test_longvideo_total_replays_r1v(response: str, answer: str, overall: float) -> None:
    assert score("longvideo.total", [response], answer=[answer]) == [pytest.approx(overall)]


# -- Embodied-R1: embodiedr1_compute_score, QA types (0.1 think + 0.9 grade_answer) -------------

EMBODIED_QA_CASES = [
    ("<think>t</think><answer>(A)</answer>", "<type>spatial_qa</type>(A)", 1.0),
    ("<think>t</think><answer>A</answer>", "<type>spatial_qa</type>(A)", 1.0),        # "(a)" splits to a
    ("<think>t</think><answer>A.</answer>", "<type>spatial_qa</type>(A)", 0.1),
    ("<think>t</think><answer>(A) left</answer>", "<type>spatial_qa</type>(A)", 0.1),
    ("<think>t</think><answer>B) the man</answer>", "<type>general_qa</type>B", 0.1),
    # accuracy_reward's <answer> regex has no DOTALL: the whole response is compared, and fails
    ("<think>t</think><answer>\n(A)\n</answer>", "<type>spatial_qa</type>(A)", 0.1),
    ("<think>t</think><answer>2.0</answer>", "<type>general_qa</type>2", 1.0),
    ("(A)", "<type>spatial_qa</type>(A)", 0.9),                                       # no tags: format 0
    ("<think>t</think> <answer>(B)</answer>", "<type>spatial_qa</type>(A)", 0.1),
]


@pytest.mark.parametrize("response, answer, overall", EMBODIED_QA_CASES)
def test_embodied_qa_replays_embodiedr1(response: str, answer: str, overall: float) -> None:
    assert score("embodied.total", [response], answer=[answer]) == [pytest.approx(overall)]


def test_embodied_lenient_qa_is_a_named_parameter() -> None:
    lenient = rewards.load("embodied.total", lenient_qa=True)
    got = lenient(completions=["<think>t</think><answer>A.</answer>", "<think>t</think><answer>(A) left</answer>"],
                  answer=["<type>spatial_qa</type>(A)"] * 2)
    assert got == [pytest.approx(1.0), pytest.approx(1.0)]


def test_embodied_pointing_is_unchanged() -> None:
    # point_rec: 0.1 think + 0.1 point format + 0.8 share of points inside the polygon
    answer = "<type>point_rec</type>" + json.dumps({"segmentation": [[0, 0], [10, 0], [10, 10], [0, 10]]})
    got = score("embodied.total", ["<think>t</think><answer><point>[[5, 5], [20, 20]]</point></answer>"],
                answer=[answer])
    assert got == [pytest.approx(0.1 + 0.1 + 0.8 * 0.5)]


# -- SATORI-R1: BoundingBoxAccuracy (coords in original pixels here) ----------------------------

def _bb(boxes: str) -> str:
    return f"<caption>c</caption><bbox>{boxes}</bbox><answer>a</answer>"


SATORI_BOX_CASES = [
    ("[[0, 0, 10, 10]]", [[0, 0, 10, 10]], 100 / (100 + 1e-6)),
    ("[[10, 10, 0, 0]]", [[0, 0, 10, 10]], 100 / (100 + 1e-6)),       # shapely box(): corners in any order
    ("[[10, 0, 0, 10]]", [[0, 0, 10, 10]], 100 / (100 + 1e-6)),
    ("[0, 0, 10, 10]", [[0, 0, 10, 10]], 100 / (100 + 1e-6)),         # a flat box is wrapped
    ("[[0, 0, 10, 10], [5, 5, 15, 15]]", [[0, 0, 10, 10]], 100 / (175 + 1e-6)),   # union of the predictions
    ("[[0, 0, 10, 10]]", [[0, 0, 10, 10], [20, 0, 30, 10]], 100 / (200 + 1e-6)),  # union of the GT boxes
    ("((0, 0, 10, 10),)", [[0, 0, 10, 10]], 0.0),                    # a tuple is not a list
    ("[(0, 0, 10, 10)]", [[0, 0, 10, 10]], 0.0),
    ("[[0, 0, 10]]", [[0, 0, 10, 10]], 0.0),
    ("[[0, 0, '10', 10]]", [[0, 0, 10, 10]], 0.0),
    ("[[0, 0, 10, 10]", [[0, 0, 10, 10]], 0.0),                      # literal_eval fails
    ("[[0, 0, 0, 10]]", [[0, 0, 10, 10]], 0.0),                      # no area
]


@pytest.mark.parametrize("boxes, gt, iou", SATORI_BOX_CASES)
def test_satori_bbox_replays_plugin(boxes: str, gt: list, iou: float) -> None:
    got = rewards.load("satori.bbox", coords="original")(completions=[_bb(boxes)], bboxs=[gt], width=[640],
                                                         height=[480])
    assert got == [pytest.approx(iou, rel=1e-12, abs=1e-12)]


def test_satori_union_iou_equals_shapely_on_random_boxes() -> None:
    shapely_ops = pytest.importorskip("shapely.ops")
    from shapely.geometry import box

    rng = np.random.default_rng(21)
    completions, gts, expected = [], [], []
    for _ in range(300):
        pred = rng.integers(0, 60, (int(rng.integers(1, 4)), 4)).tolist()     # corners in any order
        gt = rng.integers(0, 60, (int(rng.integers(1, 4)), 4)).tolist()
        completions.append(_bb(json.dumps(pred)))
        gts.append(gt)
        pu = shapely_ops.unary_union([box(*b) for b in pred])
        gu = shapely_ops.unary_union([box(*b) for b in gt])
        expected.append(pu.intersection(gu).area / (pu.union(gu).area + 1e-6))
    n = len(completions)
    got = rewards.load("satori.bbox", coords="original")(completions=completions, bboxs=gts, width=[64] * n,
                                                         height=[64] * n)
    assert got == pytest.approx(expected, abs=1e-9)


# -- LOVE-R1: the first step's (format, accuracy) -------------------------------------------------

Z = "I need to zoom in on the video.\n\n"
A = "I get the answer.\n\n"
LOVE_MCQ_CASES = [
    # (completion, earlier zooms, duration, (format, accuracy)); GT letter B
    ("It is \\boxed{B}", [], 100, (1.0, 0.0)),                 # no prefix: format kept, no accuracy
    (A + "It is \\boxed{B}", [], 100, (1.0, 1.0)),
    (A + "It is \\boxed{b}", [], 100, (1.0, 1.0)),              # .lower() on both sides
    (A + "\\boxed{B} or rather \\boxed{C}", [], 100, (1.0, 1.0)),   # the FIRST \boxed{
    (A + "\\boxed{C} or rather \\boxed{B}", [], 100, (1.0, 0.0)),
    (A + "\\boxed{Bravo}", [], 100, (1.0, 1.0)),                # its first character
    (A + "no box at all", [], 100, (0.0, 0.0)),                 # IndexError: format 0
    (" " + A + "\\boxed{B}", [], 100, (1.0, 0.0)),              # startswith: a leading space is no prefix
    (Z + "\\boxed{[40, 20]}", [], 100, (1.0, None)),            # sorted: zoom 20..40
    (Z + "\\boxed{[20, 40]}", [], 100, (1.0, None)),
    (Z + "\\boxed{ [20, 40]}", [], 100, (0.0, 0.0)),            # must start with "["
    (Z + "\\boxed{[20.5, 40]}", [], 100, (0.0, 0.0)),           # int("20.5") fails
    (Z + "\\boxed{[0, 50]}", [], 100, (1.0, None)),             # length 50 = min(100 / 2, 60)
    (Z + "\\boxed{[0, 51]}", [], 100, (0.0, 0.0)),
    (Z + "\\boxed{[20, 31]}", [], 30, (1.0, None)),             # 31 <= D + 1
    (Z + "\\boxed{[20, 32]}", [], 30, (0.0, 0.0)),
    (Z + "\\boxed{[20, 20]}", [], 100, (0.0, 0.0)),             # shorter than 1 s
    (Z + "\\boxed{[12, 40]}", [[10, 40]], 100, (0.0, 0.0)),     # IoU 28/30 > 0.7 with an earlier zoom
    (Z + "\\boxed{[20, 40]}", [[10, 40]], 100, (1.0, None)),    # IoU 20/30 <= 0.7
    (Z + "\\boxed{[20, 40, 50]}", [], 100, (1.0, None)),        # three numbers pass with no earlier zoom...
    (Z + "\\boxed{[20, 40, 50]}", [[0, 5]], 100, (0.0, 0.0)),   # ...and fail iou_1d's unpacking with one
    (Z + "no box", [], 100, (0.0, 0.0)),
]


@pytest.mark.parametrize("text, zoomed, duration, expected", LOVE_MCQ_CASES)
def test_love_multiple_choice_step_replays_the_trainer(text: str, zoomed: list, duration: int,
                                                       expected: tuple) -> None:
    kw = dict(duration=[duration], zoomin_intervals=[zoomed], answer=["<answer>B</answer>"], tgt=[None])
    assert (score("love.format", [text], **kw)[0], score("love.accuracy", [text], **kw)[0]) == expected


LOVE_GROUNDING_CASES = [
    ("\\boxed{[20, 40]}", (1.0, 1.0)),     # overlaps the clue 30..35
    ("\\boxed{[36, 50]}", (1.0, 0.0)),
    ("\\boxed{[35, 50]}", (1.0, 0.0)),     # touching is no overlap (iou_1d: inter_start >= inter_end)
    ("\\boxed{[30.5, 40]}", (0.0, 0.0)),
    ("\\boxed{B}", (0.0, 0.0)),
    ("\\boxed{[20, 40, 50]}", (0.0, 0.0)),  # iou_1d against the clue cannot unpack three numbers
]


@pytest.mark.parametrize("text, expected", LOVE_GROUNDING_CASES)
def test_love_grounding_step_replays_the_trainer(text: str, expected: tuple) -> None:
    kw = dict(duration=[100], zoomin_intervals=[[]], answer=["<answer>B</answer>"], tgt=[[[30, 35]]])
    assert (score("love.format", [text], **kw)[0], score("love.accuracy", [text], **kw)[0]) == expected


def test_love_lenient_reading_is_a_named_parameter() -> None:
    kw = dict(duration=[100, 100], zoomin_intervals=[[], []], answer=["<answer>B</answer>"] * 2, tgt=[None, None])
    lenient = rewards.load("love.total", require_prefix=False)
    assert lenient(completions=["It is \\boxed{B}", "\\boxed{[20, 40]}"], **kw) == [2.0, None]


# -- 3D-R1: compute_perception_reward -------------------------------------------------------------

PERCEPTION_CASES = [
    ("<think>It is at box: [0, 0, 0, 2, 2, 2]</think><answer>the chair</answer>", 1.0),   # anywhere, think too
    ("<answer>box:[0,0,0,2,2,2]</answer>", 1.0),
    ("<answer>box: [ 2, 2, 2, 0, 0, 0 ]</answer>", 1.0),           # eight corners, then min/max
    ("<answer>box : [0, 0, 0, 2, 2, 2]</answer>", 0.0),            # no space allowed before the colon
    ("<answer>Box: [0, 0, 0, 2, 2, 2]</answer>", 0.0),             # case-sensitive
    ("<answer>box: [0, 0, 0, 2, 2, 2e0]</answer>", 0.0),           # [\d.,\-\s]: no exponent
    ("<answer>box: [+0, 0, 0, 2, 2, 2]</answer>", 0.0),            # no plus sign
    ("<answer>box: [0 0 0 2 2 2]</answer>", 0.0),                  # float("0 0 0 2 2 2") fails
    ("<answer>box: [0, 0, 0, 2, 2, 2,]</answer>", 0.0),            # float("") fails
    ("<answer>box: [0, 0, 0, 2, 2, 2] box: [1, 1, 1, 3, 3, 3]</answer>", (1 + 1 / 15) / 2),
    ("<answer>box: [0, 0, 0, 2, 2, 2] box: [1, 2]</answer>", 1.0),  # a box of two numbers is skipped
    ("<answer>box: [0, 0, 0, 2, 2, 0]</answer>", 0.0),             # no volume
    ("<answer>box: [2, 0, 0, 4, 2, 2]</answer>", 0.0),             # touching faces: no volume in common
]


@pytest.mark.parametrize("text, iou", PERCEPTION_CASES)
def test_scene30k_perception_replays_3d_r1(text: str, iou: float) -> None:
    assert score("scene30k.perception", [text], target_box=[[0, 0, 0, 2, 2, 2]]) == [pytest.approx(iou)]


def test_scene30k_perception_answer_only_is_a_named_parameter() -> None:
    text = "<think>It is at box: [0, 0, 0, 2, 2, 2]</think><answer>box [1, 1, 1, 3, 3, 3]</answer>"
    assert rewards.load("scene30k.perception", answer_only=True)(
        completions=[text], target_box=[[0, 0, 0, 2, 2, 2]]) == [pytest.approx(1 / 15)]


# -- NLTK's word_tokenize offline (SATORI-R1's BLEU tokens) -----------------------------------------

def test_word_tokens_without_punkt_data_match_word_tokenize_on_plain_sentences() -> None:
    from r1data.rewards.text_metrics import word_tokens

    # word_tokenize splits sentences first, so a period inside the text is its own token
    assert word_tokens('a dog. a cat on a mat, "hi" isn\'t it?') == [
        "a", "dog", ".", "a", "cat", "on", "a", "mat", ",", "``", "hi", "''", "is", "n't", "it", "?"]


@pytest.mark.slow   # a fresh interpreter (the tokenizer is chosen once per process)
def test_word_tokens_use_the_punkt_tab_data_when_installed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    english = tmp_path / "tokenizers" / "punkt_tab" / "english"
    english.mkdir(parents=True)
    (english / "abbrev_types.txt").write_text("mr\n")
    for name in ("collocations.tab", "sent_starters.txt", "ortho_context.tab"):
        (english / name).write_text("")
    code = ("from r1data.rewards.text_metrics import word_tokens, tokenizer_name; "
            "print(tokenizer_name()); print(word_tokens('mr. smith sat.'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "NLTK_DATA": str(tmp_path)}).stdout
    assert "punkt_tab english" in out
    assert "['mr.', 'smith', 'sat', '.']" in out      # a known abbreviation keeps its period
