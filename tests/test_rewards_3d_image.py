"""Golden cases worked by hand for the 3D and image rewards: 3D-R1 (scene30k), SATORI-R1
(vqa_verify), Embodied-R1 and SegEarth-R1 (earthreason). Each expected value is written as
the arithmetic of the paper's formula, so a reader can check it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from r1data import rewards
from r1data.geometry import mask_to_png, rle_encode
from r1data.rewards import segearth
from r1data.rewards.text_metrics import caption_score


def score(name: str, completions: list, **columns):  # type: ignore[no-untyped-def]
    return rewards.load(name)(prompts=None, completions=completions, **columns)


def ta(answer: str, think: str = "I look at the scene carefully.") -> str:
    return f"<think>{think}</think><answer>{answer}</answer>"


# -- 3D-R1 ------------------------------------------------------------------------------------

def test_scene30k_graded_format_counts_tag_lengths() -> None:
    got = score("scene30k.format", [
        "<think>abcdef</think><answer>x</answer>",   # think match is 21 chars > 20: 0.5 + 0.25 + 0.25
        "<think>abc</think><answer>x</answer>",      # think match is 18 chars: 0.5 + 0.25
        "<answer>x</answer>",                        # no think: only the answer-length quarter
        "<answer>x</answer><think>abcdef</think>",   # order is not checked by 3D-R1
        "",
    ])
    assert got == [1.0, 0.75, 0.25, 1.0, 0.0]


def test_scene30k_strict_format_golden_cases() -> None:
    got = score("scene30k.format_strict", [
        "<think>a</think><answer>b</answer>",
        "  <think>a</think>\n\n<answer>b</answer>  ",              # whitespace around: fullmatch fails
        "<answer>b</answer><think>a</think>",                       # order matters here
        "<think>a</think><answer>b</answer> extra",
        "<think>a</think>",
        "",
        # the papers' lazy re.fullmatch stretches the answer over a second one: it passes
        "<think>a</think><answer>b</answer><answer>c</answer>",
        [{"role": "assistant", "content": "<think>a</think><answer>b</answer>"}],
    ])
    assert got == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]


def test_scene30k_perception_is_3d_iou_mean_over_boxes() -> None:
    gt = [0, 0, 0, 2, 2, 2]                          # volume 8
    got = score("scene30k.perception", [
        ta("box: [1, 1, 1, 3, 3, 3]"),               # overlap 1, union 8 + 8 - 1 = 15
        ta("box: [0, 0, 0, 2, 2, 2] or box: [1, 1, 1, 3, 3, 3]"),   # (1 + 1/15) / 2
        ta("box: [2, 2, 2, 0, 0, 0]"),               # corners in any order: 3D-R1 takes min/max
        ta("box: [0, 0, 0, 0, 2, 2]"),               # degenerate (no volume)
        ta("box: [1, 2]"),                           # not six numbers: unparsable
        "no tags, no box",
        ta("box: [0, 0, 0, 2, 2, 2]"),               # a row without a target box
    ], target_box=[gt] * 6 + [None])
    assert got[0] == pytest.approx(1 / 15)
    assert got[1] == pytest.approx((1 + 1 / 15) / 2)
    assert got[2:6] == [1.0, 0.0, 0.0, 0.0]
    assert got[6] is None


def test_scene30k_perception_reads_conversational_completions() -> None:
    conv = [[{"role": "assistant", "content": ta("box: [0, 0, 0, 2, 2, 2]")}],
            [{"role": "assistant", "content": [{"type": "text", "text": ta("box: [0, 0, 0, 1, 2, 2]")}]}]]
    assert score("scene30k.perception", conv, target_box=[[0, 0, 0, 2, 2, 2]] * 2) == [1.0, 0.5]


def test_missing_column_is_a_one_line_usage_error() -> None:
    from r1data.errors import UsageError

    with pytest.raises(UsageError, match="target_box"):
        score("scene30k.perception", [ta("x")])
    with pytest.raises(UsageError, match="2 values for 1 completions"):
        score("scene30k.perception", [ta("x")], target_box=[None, None])


# -- SATORI-R1 --------------------------------------------------------------------------------

SATORI_OK = "<caption>a dog on a mat</caption><bbox>[[0, 0, 10, 10]]</bbox><answer>dog</answer>"


def test_satori_format_follows_the_plugin_regex() -> None:
    got = score("satori.format", [
        SATORI_OK,
        "  " + SATORI_OK + "\n",
        "<caption>c</caption><bbox>[1, 2, 3, 4]</bbox><answer>a</answer>",   # needs [[...]]
        "<caption>c</caption><answer>a</answer>",
        "<bbox>[[0, 0, 1, 1]]</bbox><caption>c</caption><answer>a</answer>",  # wrong order
    ])
    assert got == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_satori_caption_is_half_bleu_plus_half_rouge() -> None:
    # hyp "a dog" vs ref "a dog on a mat": p1 = p2 = 1, p3 = p4 = 0.1/1 (method1), BP = e^(1 - 5/2)
    bleu = math.exp(1 - 5 / 2) * math.exp(0.25 * (2 * math.log(0.1)))
    rouge = 2 * 1.0 * 0.4 / 1.4                      # LCS 2: P = 2/2, R = 2/5
    got = score("satori.caption", ["<caption>a dog</caption>", "<caption>A dog on a mat</caption>",
                                   "<answer>no caption</answer>", "<caption>x</caption>"],
                image_caption=["a dog on a mat", "a dog on a mat", "a dog on a mat", None])
    assert got[0] == pytest.approx((bleu + rouge) / 2)
    assert got[1] == pytest.approx(1.0)
    assert got[2] == 0.0 and got[3] is None


def test_caption_score_uses_nltk_bleu_and_stemmed_rouge_l() -> None:
    ref, hyp = "Two brown dogs play on the green grass", "a brown dog plays on grass"
    # BLEU on lower-cased word_tokenize tokens: unigrams brown, on, grass = 3/6; no bigram, trigram
    # or 4-gram matches: method1 gives 0.1/5, 0.1/4, 0.1/3; brevity penalty e^(1 - 8/6)
    bleu = math.exp(1 - 8 / 6) * math.exp(0.25 * (math.log(3 / 6) + math.log(0.1 / 5) + math.log(0.1 / 4)
                                                  + math.log(0.1 / 3)))
    # rouge_score's Porter stemmer: dogs -> dog, plays -> play; LCS brown dog play on grass = 5,
    # P = 5/6, R = 5/8, F = 5/7
    assert caption_score(ref, hyp) == pytest.approx((bleu + 5 / 7) / 2)


def test_satori_bbox_union_iou_in_original_and_resized_pixels() -> None:
    def bb(boxes: str) -> str:
        return f"<caption>c</caption><bbox>{boxes}</bbox><answer>a</answer>"

    completions = [
        bb("[[0, 0, 10, 10]]"),                       # vs [5, 0, 15, 10]: 50 / 150
        bb("[[0, 0, 10, 10], [10, 0, 20, 10]]"),      # two halves of the one GT box: union IoU 1
        bb("[[0, 0, 10, 10], [5, 0, 15, 10]]"),       # overlapping boxes: union area 150, not 200
        bb("[[5, 5, 5, 10]]"),                        # degenerate
        bb("[[1, 2, 3]]"),                            # malformed: 0
        "<answer>no bbox</answer>",
        bb("[[0, 0, 1, 1]]"),                         # row without GT boxes
    ]
    gts = [[[5, 0, 15, 10]], [[0, 0, 20, 10]], [[0, 0, 15, 10]], [[0, 0, 10, 10]], [[0, 0, 10, 10]],
           [[0, 0, 10, 10]], []]
    got = rewards.load("satori.bbox", coords="original")(completions=completions, bboxs=gts,
                                                         width=[100] * 7, height=[100] * 7)
    assert got[0] == pytest.approx(1 / 3)
    assert got[1] == pytest.approx(1.0) and got[2] == pytest.approx(1.0)
    assert got[3:6] == [0.0, 0.0, 0.0] and got[6] is None
    # SATORI's default: the model answers in the Qwen input frame; 1000x1000 -> 616x616
    resized = score("satori.bbox", [bb("[[0, 0, 616, 616]]"), bb("[[0, 0, 308, 616]]")],
                    bboxs=[[[0, 0, 1000, 1000]]] * 2, width=[1000] * 2, height=[1000] * 2)
    assert resized == [pytest.approx(1.0), pytest.approx(0.5)]


def test_satori_answer_and_total() -> None:
    rows = dict(image_caption=["a dog on a mat"] * 3, bboxs=[[[0, 0, 10, 10]]] * 3, width=[100] * 3,
                height=[100] * 3, possible_answers=[["dog", "puppy"], ["dog"], None])
    answers = score("satori.answer", [SATORI_OK, SATORI_OK.replace(">dog<", "> Dog <"), SATORI_OK], **{
        "possible_answers": rows["possible_answers"]})
    assert answers == [1.0, 0.0, None]                # stripped, case-sensitive membership
    total = rewards.load("satori.total", coords="original")(completions=[SATORI_OK], **{k: v[:1] for k, v in rows.items()})
    assert total == [pytest.approx(4.0)]              # format 1 + caption 1 + bbox 1 + answer 1


# -- Embodied-R1 ------------------------------------------------------------------------------

def pt(points: list, think: bool = True) -> str:
    body = f"<answer><point>{json.dumps(points)}</point></answer>"
    return ("<think>I find the target.</think>" if think else "") + body


def test_embodied_point_ref_distance() -> None:
    answer = ["<type>point_ref</type>[[100, 100]]"] * 4
    got = score("embodied.total", [pt([[100, 100]]), pt([[130, 100]]), pt([[100, 100]], think=False),
                                   "<think>t</think><answer><point>[[100]]</point></answer>"],
                answer=answer, data_type=["point_ref"] * 4)
    # d = 0 -> 1; d = 30 -> 1 - (30 - 10) / (50 - 10) = 0.5; unparsable points keep the 0.2 of formats
    assert got == [pytest.approx(1.0), pytest.approx(0.1 + 0.1 + 0.8 * 0.5), pytest.approx(0.1 + 0.8),
                   pytest.approx(0.2)]


def test_embodied_point_distance_alone() -> None:
    ref = "<type>point_ref</type>[[100, 100], [200, 100]]"
    free = "<type>fsd_free_point</type>" + json.dumps({"bbox": [0, 0, 100, 100], "free_points": [[50, 50]]})
    rec = "<type>point_rec</type>" + json.dumps({"segmentation": [[0, 0], [10, 0], [10, 10]]})
    completions = [pt([[100, 130]]),                      # nearest GT 30 px away
                   pt([[105, 100], [200, 160]]),          # 5 and 60 px: mean 32.5
                   pt([[100, 105]]),                      # 5 px: at most 10 -> 1
                   pt([[100, 200]]),                      # 100 px: at least 50 -> 0
                   "<think>t</think><answer>[[100, 100]]</answer>",   # no <point> tag: no points read
                   pt([[50, 70]]),                        # free point 20 px from the free point
                   pt([[1, 1]]), ta("(A)"), pt([[1, 1]])]
    answers = [ref] * 5 + [free, rec, "<type>spatial_qa</type>(A)", None]
    got = score("embodied.point_distance", completions, answer=answers)
    assert got[:6] == [pytest.approx(1 - (30 - 10) / (50 - 10)), pytest.approx(1 - (32.5 - 10) / 40), 1.0, 0.0, 0.0,
                       pytest.approx(1 - (20 - 10) / 40)]
    assert got[6:] == [None, None, None]                  # polygon and QA types, and no target


def test_embodied_think_format_is_strict_and_typed() -> None:
    ref = "<type>point_ref</type>[[1, 1]]"
    completions = [pt([[1, 1]]), pt([[1, 1]], think=False), "Sure. " + pt([[1, 1]]), ta("(B)"),
                   "<think>t</think>\n<answer>(B)</answer>", pt([[1, 1]]), pt([[1, 1]])]
    answers = [ref, ref, ref, "<type>general_qa</type>(B)", "<type>spatial_qa</type>(B)", None,
               "<type>mystery</type>[]"]
    got = score("embodied.think_format", completions, answer=answers)
    # QA rows count too; a row with no target or an unknown type is not scored
    assert got == [1.0, 0.0, 0.0, 1.0, 1.0, None, None]


def test_embodied_free_point_and_polygon_regions() -> None:
    free = "<type>fsd_free_point</type>" + json.dumps({"bbox": [0, 0, 10, 10], "free_points": [[5, 5]]})
    poly = "<type>point_rec</type>" + json.dumps({"segmentation": [[0, 0], [10, 0], [10, 10], [0, 10]]})
    got = score("embodied.total", [pt([[5, 5], [20, 20]]), pt([[5, 5], [15, 5]])], answer=[free, poly],
                data_type=[None, None])
    mean_d = (0 + math.hypot(15, 15)) / 2             # nearest free point: 0 and 21.2 px
    assert got[0] == pytest.approx(0.2 + 0.6 * 0.5 + 0.2 * (1 - (mean_d - 10) / 40))
    assert got[1] == pytest.approx(0.2 + 0.8 * 0.5)
    assert score("embodied.points_in_region", [pt([[5, 5], [20, 20]]), pt([[5, 5], [15, 5]])],
                 answer=[free, poly]) == [0.5, 0.5]


def test_embodied_visual_trace_needs_exactly_eight_points() -> None:
    line = [[10 * i, 0] for i in range(8)]
    answer = ["<type>fsd_visual_trace</type>" + json.dumps({"trajectory": line})] * 3
    shifted = [[x, 20] for x, _ in line]              # DFD 20 -> 1 - 10/90; RMSE 20 -> 1 - 15/45
    got = score("embodied.total", [pt(line), pt(shifted), pt(line[:7])], answer=answer)
    assert got[0] == pytest.approx(1.0)
    assert got[1] == pytest.approx(0.3 + 0.3 * (1 - 10 / 90) + 0.4 * (1 - 15 / 45))
    assert got[2] == pytest.approx(0.2)               # 7 points: trace terms withheld
    assert score("embodied.trace", [pt(line), pt(line[:7])], answer=answer[:2]) == [pytest.approx(1.0), 0.0]


def test_embodied_qa_and_rows_it_does_not_cover() -> None:
    answer = ["<type>spatial_qa</type>(A)", "<type>spatial_qa</type>(A)", "<type>point_ref</type>[[1, 1]]",
              "<type>3d_position</type>{}", None]
    completions = [ta("(A)"), ta("B"), pt([[1, 1]]), ta("x"), ta("x")]
    assert score("embodied.total", completions, answer=answer) == [
        pytest.approx(1.0), pytest.approx(0.1), pytest.approx(1.0), None, None]
    assert score("embodied.qa_accuracy", completions, answer=answer) == [1.0, 0.0, None, None, None]
    assert score("embodied.point_format", completions, answer=answer) == [None, None, 1.0, None, None]


# -- SegEarth-R1 ------------------------------------------------------------------------------

def _mask(rows: slice, cols: slice, shape: tuple[int, int] = (4, 4)) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[rows, cols] = True
    return m


def test_segearth_iou_reads_rle_polygons_and_empty() -> None:
    gt = mask_to_png(_mask(slice(0, 2), slice(0, 2)))            # 2x2 top-left
    empty = mask_to_png(np.zeros((4, 4), dtype=bool))
    half = json.dumps(rle_encode(_mask(slice(0, 2), slice(0, 1))))   # 2 of the 4 pixels
    got = score("segearth.iou", [
        ta(json.dumps(rle_encode(_mask(slice(0, 2), slice(0, 2))))),
        ta(half),
        ta("[[0, 0], [1, 0], [1, 1], [0, 1]]"),                  # a polygon, edges included: 2x2
        ta("empty"),                                             # empty vs empty: 1 (SegEarth's rule)
        ta("empty"),                                             # empty vs a target: 0
        ta("a mask somewhere"),                                  # unreadable: 0
        ta(json.dumps(rle_encode(np.zeros((3, 3), dtype=bool)))),  # RLE of another size: unreadable
        ta("empty"),
    ], mask=[gt, gt, gt, empty, gt, gt, gt, None])
    assert got == [1.0, 0.5, 1.0, 1.0, 0.0, 0.0, 0.0, None]
    fmt = score("segearth.format", [ta("empty"), ta("a mask somewhere")], mask=[gt, {"bytes": gt}])
    assert fmt == [1.0, 0.0]


def test_segearth_metrics_giou_ciou_precision() -> None:
    gt = mask_to_png(_mask(slice(0, 2), slice(0, 2)))
    empty = mask_to_png(np.zeros((4, 4), dtype=bool))
    completions = [ta(json.dumps(rle_encode(_mask(slice(0, 2), slice(0, 2))))),        # I 4, U 4
                   ta(json.dumps(rle_encode(_mask(slice(0, 2), slice(0, 1))))),        # I 2, U 4
                   ta("empty")]                                                        # I 0, U 0: IoU 1
    m = segearth.metrics(completions, {"mask": [gt, gt, empty]})
    assert m["gIoU"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert m["cIoU"] == pytest.approx(6 / 8)
    assert m["Pr@0.5"] == pytest.approx(2 / 3)   # IoU > t, so 0.5 does not pass 0.5
    assert m["Pr@0.9"] == pytest.approx(2 / 3)


def test_mask_iou_batch_matches_a_plain_count() -> None:
    from r1data.geometry import mask_iou_batch

    rng = np.random.default_rng(0)
    for shape in [(5, 16, 16), (3, 7, 5), (0, 8, 8)]:   # popcount path, odd sizes, an empty stack
        p, g = rng.random(shape) > 0.5, rng.random(shape) > 0.7
        if shape[0]:
            g[0] = False
            p[0] = False                                 # both empty -> 1
        iou, inter, union = mask_iou_batch(p, g)
        ref_i = (p & g).reshape(len(p), -1 if len(p) else 64).sum(1)
        ref_u = (p | g).reshape(len(p), -1 if len(p) else 64).sum(1)
        assert inter.tolist() == ref_i.tolist() and union.tolist() == ref_u.tolist()
        assert np.allclose(iou, np.where(ref_u > 0, ref_i / np.maximum(ref_u, 1), 1.0))


def test_batched_union_iou_equals_the_row_by_row_union_iou():
    import numpy as np

    from r1data.geometry import boxes_union_iou, boxes_union_iou_batch

    rng = np.random.default_rng(7)
    preds, gts = [], []
    for _ in range(300):
        def boxes(k):
            xy = rng.uniform(0, 100, size=(k, 2))
            wh = rng.uniform(-5, 40, size=(k, 2))   # some degenerate (negative size) boxes
            return np.concatenate([xy, xy + wh], axis=1)
        preds.append(boxes(int(rng.integers(0, 4))))
        gts.append(boxes(int(rng.integers(1, 4))))
    batched = boxes_union_iou_batch(preds, gts)
    single = [boxes_union_iou(p, g, clip=False) for p, g in zip(preds, gts)]
    assert np.allclose(batched, single)
    assert boxes_union_iou_batch([[[0, 0, 10, 10], [5, 0, 15, 10]]], [[[0, 0, 15, 10]]])[0] == 1.0
