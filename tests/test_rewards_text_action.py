"""Golden cases worked by hand for LongVILA-R1, Xiangqi-R1, STAR-R1, InfiGUI-R1, LOVE-R1, GoT-R1
and Omni-R1 rewards, and the shared format rewards."""

from __future__ import annotations

import json

import pytest

from r1data import rewards
from r1data.errors import UsageError
from r1data.rewards import xiangqi


def score(name: str, completions: list, **columns):  # type: ignore[no-untyped-def]
    return rewards.load(name)(prompts=None, completions=completions, **columns)


def ta(answer: str, think: str = "Let me reason.") -> str:
    return f"<think>{think}</think><answer>{answer}</answer>"


def test_strict_format_allows_whitespace_between_the_tags_only() -> None:
    completions = [ta("B"), "  <think>a</think>\n<answer>B</answer>\n", "<think>a</think>\n<answer>B</answer>",
                   "<answer>B</answer>", "text " + ta("B"), ta("B") + " trailing", "", None]
    # re.fullmatch as the papers: nothing around the tags, not even whitespace
    assert score("format.think_answer", completions) == [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    lenient = rewards.load("format.think_answer", strip_whitespace=True)
    assert lenient(completions=completions) == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


# -- LongVILA-R1 ------------------------------------------------------------------------------

def test_longvideo_accuracy_total_and_not_applicable_rows() -> None:
    completions = [ta("B"), ta("(B)"), "<answer>B</answer>", ta("C"), "B", ta("B"), ta("B."), ta("B. The man runs")]
    answer = ["<answer>B</answer>"] * 5 + [None] + ["<answer>B</answer>"] * 2
    # mathruler's grade_answer, as r1v.py: "B." and "B. The man runs" are not "B"
    assert score("longvideo.accuracy", completions, answer=answer) == [1.0, 1.0, 1.0, 0.0, 1.0, None, 0.0, 0.0]
    lenient = rewards.load("longvideo.accuracy", lenient=True)
    assert lenient(completions=completions, answer=answer)[6:] == [1.0, 1.0]
    # 0.9 accuracy + 0.1 strict format
    assert score("longvideo.total", completions, answer=answer) == [
        pytest.approx(1.0), pytest.approx(1.0), pytest.approx(0.9), pytest.approx(0.1), pytest.approx(0.9), None,
        pytest.approx(0.1), pytest.approx(0.1)]
    assert rewards.load("longvideo.total", format_weight=0.5)(completions=[ta("C")], answer=["B"]) == [0.5]


# -- Xiangqi-R1 -------------------------------------------------------------------------------

def xq(move: str, situation: str = "balanced") -> str:
    return ta(f"Move: {move}\nSituation: {situation}", think="Red's cannon can move to the centre.")


RED = dict(legal_moves=[["h2e2", "b0c2", "a0a1"]], best_move=["b0c2"], best_score=[50],
           scored_moves=[["b0c2", "h2e2", "a0a1"]], scored_values=[[50, -30, -200]], side_to_move=["red"],
           situation=["balanced"])


def rows(n: int, **cols):  # type: ignore[no-untyped-def]
    return {k: v * n for k, v in cols.items()}


def test_xiangqi_move_rewards_red_to_move() -> None:
    completions = [xq("b0c2"), xq("h2e2"), xq("a0a1"), xq("i9i8"), "<answer>no move</answer>"]
    cols = rows(5, **RED)
    assert score("xiangqi.legal", completions, legal_moves=cols["legal_moves"]) == [1.0, 1.0, 1.0, 0.0, 0.0]
    # h2e2 loses 50 - (-30) = 80 <= 100: good; a0a1 loses 250: not good
    assert score("xiangqi.good", completions, **{k: v for k, v in cols.items() if k != "situation"}) == [
        1.0, 1.0, 0.0, 0.0, 0.0]
    assert score("xiangqi.best", completions, legal_moves=cols["legal_moves"], best_move=cols["best_move"]) == [
        1.0, 0.0, 0.0, 0.0, 0.0]
    strict = rewards.load("xiangqi.good", margin=50)
    assert strict(completions=completions[:2], **{k: v[:2] for k, v in cols.items()})[1] == 0.0


def test_xiangqi_good_is_measured_from_the_movers_side() -> None:
    # Black to move: best b0c2 leaves Red at -50; h2e2 leaves Red at +60, so Black loses 110 > 100
    cols = dict(legal_moves=[["h2e2", "b0c2"]], best_move=["b0c2"], best_score=[-50],
                scored_moves=[["b0c2", "h2e2"]], scored_values=[[-50, 60]], side_to_move=["black"])
    assert score("xiangqi.good", [xq("h2e2")], **cols) == [0.0]
    assert rewards.load("xiangqi.good", margin=150)(completions=[xq("h2e2")], **cols) == [1.0]


def test_xiangqi_situation_format_and_total() -> None:
    labels = ["red_slight"] * 4 + [None]
    completions = [xq("b0c2", "Red slight advantage"), xq("b0c2", "red_clear"), xq("b0c2", "balanced"),
                   ta("Move: b0c2"), xq("b0c2")]
    assert score("xiangqi.situation", completions, situation=labels) == [1.0, 0.0, 0.0, 0.0, None]
    assert score("xiangqi.situation3", completions, situation=labels) == [1.0, 1.0, 0.0, 0.0, None]
    assert score("xiangqi.format", completions) == [1.0, 1.0, 1.0, 0.0, 1.0]
    cols = rows(2, **RED)
    # best move (legal + good + best = 3) + situation 1 + format 1
    assert score("xiangqi.total", [xq("b0c2"), "Move: b0c2"], **cols) == [5.0, 3.0]
    assert rewards.load("xiangqi.total", zero_if_bad_format=True)(completions=["Move: b0c2"],
                                                                   **rows(1, **RED)) == [0.0]


def test_xiangqi_situation_thresholds_and_metrics() -> None:
    assert [xiangqi.situation_of(v) for v in (0, 100, 101, 800, 801, -101, -900)] == [
        "balanced", "balanced", "red_slight", "red_slight", "red_clear", "black_slight", "black_clear"]
    cols = rows(4, **RED)
    m = xiangqi.metrics([xq("b0c2"), xq("h2e2", "red_clear"), xq("a0a1"), "nothing"], cols)
    assert m["legal@1"] == 0.75 and m["good@1"] == 0.5 and m["best@1"] == 0.25
    assert m["5-class@1"] == 0.5 and m["3-class@1"] == 0.5     # h2e2's red_clear is not balanced


# -- STAR-R1 ----------------------------------------------------------------------------------

TRUTH = [{"obj_idx": 2, "attr": "color", "val": "cyan", "options": ["cyan"]},
         {"obj_idx": 0, "attr": "position", "val": ["behind", 2], "options": [["behind", 2]]}]


def test_star_format_is_the_strict_think_answer() -> None:
    got = score("star.format", [ta("2.color.cyan"), "2.color.cyan", "<think>x</think>\n<answer>2.color.cyan</answer>",
                                "<think>x<answer>2.color.cyan</answer>", ta("2.color.cyan") + " done",
                                [{"role": "assistant", "content": ta("0.size.large")}]])
    assert got == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]


def test_star_partial_credit_and_penalties() -> None:
    completions = [
        ta("2.color.cyan, 0.position.[behind, 2]"),        # 5 + 5
        ta("2.color.red"),                                 # object and attribute: 1.5
        ta("2.size.large"),                                # object only: 0.5
        ta("3.color.cyan"),                                # nothing
        ta("2.color.cyan, 0.position.[behind, 2], 1.color.red"),   # 10 - 1 for the extra item
        ta(""),                                            # passive inaction: -1
        ta("2.color.cyan; 2.color.cyan"),                  # one-to-one: the repeat earns nothing
    ]
    truth = [json.dumps(TRUTH)] + [TRUTH] * 6
    assert score("star.accuracy", completions, transformations=truth) == [10.0, 1.5, 0.5, 0.0, 9.0, -1.0, 5.0]
    assert score("star.total", completions[:1], transformations=[TRUTH]) == [11.0]
    loose = rewards.load("star.accuracy", one_to_one=False, extra_penalty=0.0, empty_penalty=2.0)
    assert loose(completions=[completions[6], completions[5]], transformations=[TRUTH] * 2) == [10.0, -2.0]
    assert score("star.accuracy", [ta("x")], transformations=[None]) == [None]


# -- InfiGUI-R1 -------------------------------------------------------------------------------

def call(**arguments) -> str:  # type: ignore[no-untyped-def]
    payload = json.dumps({"name": "mobile_use", "arguments": arguments})
    return f"<think>I tap it.<step>open settings</step></think><tool_call>{payload}</tool_call>"


W, H = 1080, 2400            # smart_resize(2400, 1080, max_pixels=6400*28*28) = (2408, 1092)


def test_infigui_click_in_enlarged_box_or_near_point() -> None:
    gt = {"action": "click", "coordinate": [540, 1200], "candidate_bbox": [[500, 1150, 580, 1250]]}

    def at(x: float, y: float) -> str:           # an original-pixel point written in the resized frame
        return call(action="click", coordinate=[x * 1092 / W, y * 2408 / H])

    completions = [at(540, 1200), at(585, 1200), at(700, 1200), call(action="long_press", coordinate=[546, 1204])]
    got = score("infigui.action", completions, gt_action=[gt] * 4, width=[W] * 4, height=[H] * 4)
    # 585 is outside the box but inside it enlarged 1.2x (up to 588); 700 is 161 resized px away (> 0.04 x 2408)
    assert got == [1.0, 1.0, 0.0, 0.0]
    no_box = dict(gt, candidate_bbox=[])
    # 60 px right of the point: 60.7 resized px <= 96.3
    assert score("infigui.action", [at(600, 1200)], gt_action=[no_box], width=[W], height=[H]) == [1.0]
    assert score("infigui.action_type", completions, gt_action=[json.dumps(gt)] * 4, width=[W] * 4,
                 height=[H] * 4) == [1.0, 1.0, 1.0, 0.0]


def test_infigui_text_swipe_button_open_wait() -> None:
    gts = [{"action": "type", "text": "Hello World"}, {"action": "type", "text": "Hello World"},
           {"action": "swipe", "direction": "up"}, {"action": "system_button", "button": "Back"},
           {"action": "open", "text": "Chrome", "candidate_bbox": [[0, 0, 108, 240]]},
           {"action": "open", "text": "Chrome", "candidate_bbox": [[0, 0, 108, 240]]},
           {"action": "wait"}, None]
    completions = [call(action="type", text="hello"), call(action="type", text="bye"),
                   call(action="swipe", coordinate=[500, 1500], coordinate2=[510, 500]),
                   call(action="system_button", button="back"), call(action="open", text="chrome"),
                   call(action="click", coordinate=[50, 110]), call(action="wait"), call(action="wait")]
    n = len(gts)
    got = score("infigui.action", completions, gt_action=gts, width=[W] * n, height=[H] * n)
    assert got == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, None]
    assert score("infigui.format", [completions[0], "<tool_call>{}</tool_call>", "plain"]) == [1.0, 0.0, 0.0]


def test_infigui_total_is_format_plus_action_and_none_without_a_target() -> None:
    gt = {"action": "click", "coordinate": [540, 1200], "candidate_bbox": [[500, 1150, 580, 1250]]}
    bare = json.dumps({"name": "mobile_use", "arguments": {"action": "click", "coordinate": [546, 1204]}})
    completions = [call(action="click", coordinate=[546, 1204]),     # (540, 1200) in the resized frame
                   f"<tool_call>{bare}</tool_call>",                  # right click, but no <think>
                   call(action="type", text="bye"),                   # well formed, wrong text
                   "I would tap the settings icon.",                  # neither
                   call(action="wait")]                               # no target: not applicable
    gts = [gt, gt, {"action": "type", "text": "Hello World"}, gt, None]
    n = len(gts)
    cols = dict(gt_action=gts, width=[W] * n, height=[H] * n)
    assert score("infigui.total", completions, **cols) == [1.0 + 1.0, 0.0 + 1.0, 1.0 + 0.0, 0.0, None]
    weighted = rewards.load("infigui.total", w_format=0.5, w_action=2.0)
    assert weighted(completions=completions[:2], gt_action=gts[:2], width=[W] * 2, height=[H] * 2) == [2.5, 2.0]


# -- LOVE-R1 ----------------------------------------------------------------------------------

ZOOM = "I need to zoom in on the video.\n\nThe clue is early. \\boxed{[%s, %s]}"
ANSWER = "I get the answer.\n\nIt is B. \\boxed{%s}"


def test_love_zoom_validity_and_accuracy() -> None:
    completions = [ZOOM % (10, 40), ANSWER % "B", ANSWER % "C", ZOOM % (10, 80), ZOOM % (12, 40),
                   ZOOM % ("10.5", 40), "no boxed answer", ZOOM % (10, 40), ZOOM % (50, 60), ANSWER % "B"]
    n = len(completions)
    cols = dict(duration=[100] * n, zoomin_intervals=[[], [], [], [], [[10, 40]], [], [], [], [], []],
                answer=["<answer>B</answer>"] * n, tgt=[None] * 7 + [[[30, 35]], [[30, 35]], [[30, 35]]])
    # zoom 10-40 valid (length 30 <= min(100/2, 60)); 10-80 too long; 12-40 overlaps 10-40 at IoU 28/30 > 0.7;
    # 10.5 not an integer; a step with neither prefix keeps format 1 and scores 0 (as upstream);
    # grounding rows (tgt) must zoom onto a clue interval
    assert score("love.format", completions, **cols) == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    assert score("love.accuracy", completions, **cols) == [None, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    assert score("love.total", completions, **cols)[:3] == [None, 2.0, 1.0]


# -- GoT-R1 -----------------------------------------------------------------------------------

PLAN = "A <|obj_start|>red cat<|obj_end|> <|box_start|>(0,0),(500,500)<|box_end|> on a mat <begin_of_image>"


def test_got_region_iou_and_product_with_a_judge() -> None:
    from r1data.rewards.got import rule_judge

    got = score("got.region", [PLAN, PLAN, PLAN, "no plan", PLAN],
                grounded_boxes=[[[0, 0, 500, 500]], [[0, 0, 250, 500]], [None], [[0, 0, 1, 1]], None])
    assert got == [1.0, 0.5, 0.0, 0.0, None]
    total = rewards.load("got.total", judge=rule_judge)
    # R_PI 1 (an image is given) x (R_sem 1: "red", "cat" appear + R_spa 1: valid box) x R_RI 0.5
    assert total(prompts=["a red cat"], completions=[PLAN], grounded_boxes=[[[0, 0, 250, 500]]],
                 image=[object()]) == [pytest.approx(1.0)]
    # the offline default is the rule judge; anything else must be a profile or a callable
    assert score("got.total", [PLAN], grounded_boxes=[[[0, 0, 250, 500]]], caption=["a red cat"],
                 image=[None]) == [0.0]                                       # R_PI 0: no image
    with pytest.raises(UsageError, match="GoT-R1 judge must be"):
        rewards.load("got.total", judge=42)(completions=[PLAN], grounded_boxes=[[[0, 0, 1, 1]]])


def test_got_judged_terms_with_the_rule_judge() -> None:
    caption = "A red cat sits on the mat"        # content words: red, cat, sits, mat
    # the reasoning's words include red, cat, mat (not sits): 3 / 4
    assert score("got.semantic", [PLAN, PLAN, "nothing"], caption=[caption, None, None]) == [0.75, 0.0, 0.0]
    # no caption: the user turns of a conversational prompt are the prompt ("red", "cat": 2 / 2)
    conv = rewards.load("got.semantic")(prompts=[[{"role": "user", "content": "a red cat"}]], completions=[PLAN])
    assert conv == [1.0]
    three = ("<|obj_start|>dog<|obj_end|> <|box_start|>(600,100),(500,300)<|box_end|> "   # x1 > x2: invalid
             "<|obj_start|>cat<|obj_end|> <|box_start|>(0,0),(1200,500)<|box_end|> "     # off the grid
             "<|obj_start|>mat<|obj_end|> <|box_start|>(0,500),(1000,1000)<|box_end|>")  # valid, edge included
    assert score("got.spatial", [PLAN, three, "no plan"]) == [1.0, pytest.approx(1 / 3), 0.0]
    assert score("got.prompt_image", [PLAN, PLAN], image=[b"png", None]) == [1.0, 0.0]
    assert score("got.prompt_image", [PLAN]) == [0.0]                          # no image column at all


# -- Omni-R1 ----------------------------------------------------------------------------------

def test_omni_bbox_iou_and_format() -> None:
    completions = [ta('{"bbox_2d": [0, 0, 10, 5]}'), ta("no box"), '{"bbox_2d": [0, 0, 10, 10]}']
    cols = dict(bbox=[[0, 0, 10, 10]] * 3, width=[100] * 3, height=[100] * 3)
    assert score("omni.iou", completions, **cols) == [0.5, 0.0, 1.0]
    assert score("omni.total", completions, **cols) == [1.5, 1.0, 1.0]


def test_omni_format_golden_cases() -> None:
    box = '{"bbox_2d": [0, 0, 10, 10]}'
    multiline = f"<think>\nline one\nline two\n</think>\n<answer>\n{box}\n</answer>"
    got = score("omni.format", [ta(box), f"<think>t</think>{box}", multiline, f"<answer>{box}</answer><think>t</think>",
                                "", [{"role": "assistant", "content": ta(box)}]])
    # multi-line tags match (DOTALL); reversed tags, a missing <answer> or nothing do not
    assert got == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
