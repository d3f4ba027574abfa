"""InfiGUI-R1 rewards against golden cases written from reading the released evaluation.

Source of every case: Reallm-Labs/InfiGUI-R1 at d280ab8 (fetched), files
``eval/android_control/android_control.py`` (AC: ``compute_scores``, how a completion becomes
the predicted action and how the numbers are counted) and
``eval/android_control/evaluate_android_control.py`` (EV: ``evaluate_android_control_action``,
``check_click``, ``check_text``, ``predict_direction``, ``norm_coordinate``). Each case names
the lines of logic it comes from; the expected values were worked out by hand from that code.
"""

from __future__ import annotations

import json

import pytest

from r1data import rewards
from r1data.parsing import mobile_use_call_json, parse_mobile_use_call
from r1data.rewards.infigui import match_action, metrics, resized_frame, swipe_direction
from r1data.rewards.infigui_subgoal import word_f1

W, H = 1080, 2400                  # smart_resize(2400, 1080, max_pixels=6400*28*28) -> 1092 x 2408
RW, RH = 1092, 2408
CLICK_GT = {"action": "click", "coordinate": [540, 1200], "candidate_bbox": [[500, 1150, 580, 1250]]}


def args(**a: object) -> str:
    return json.dumps({"name": "mobile_use", "arguments": a})


def tc(**a: object) -> str:
    return f"<think>reason <step>sub-goal</step></think><tool_call>{args(**a)}</tool_call>"


def resized(x: float, y: float) -> list[float]:
    """An original-pixel point written in the resized frame (as the model writes it)."""
    return [x * RW / W, y * RH / H]


def score(name: str, completions: list[str], gts: list, **params: object) -> list:
    n = len(completions)
    fn = rewards.load(name, **params) if params else rewards.load(name)
    return fn(completions=completions, gt_action=gts, width=[W] * n, height=[H] * n)


def test_the_frame_is_smart_resize_with_the_evaluations_max_pixels() -> None:
    # AC generate_jobs: h_bar, w_bar = smart_resize(height, width, max_pixels=6400*28*28)
    assert resized_frame(W, H) == (RW, RH)
    assert resized_frame(1920, 1080) == (1932, 1092)


# -- reading the call (AC compute_scores) ----------------------------------------------------------

def test_only_the_text_after_the_last_think_close_is_read() -> None:
    # AC: `if self.thinking and '</think>' in pred: pred = pred.split('</think>')[-1]`
    wrong = args(action="click", coordinate=[0, 0])
    right = args(action="click", coordinate=resized(540, 1200))
    text = f"<think>first <tool_call>{wrong}</tool_call></think> more </think><tool_call>{right}</tool_call>"
    assert parse_mobile_use_call(text)["coordinate"] == resized(540, 1200)
    assert score("infigui.action", [text], [CLICK_GT]) == [1.0]
    # thinking off (the evaluation without --thinking): the first <tool_call> is read
    assert score("infigui.action", [text], [CLICK_GT], thinking=False) == [0.0]


def test_the_first_tool_call_after_think_is_read_and_the_name_is_not_checked() -> None:
    # AC: `pred.split('<tool_call>')[1]` then `.split('</tool_call>')[0]`; only ['arguments'] is used
    first = args(action="type", text="milk")
    second = args(action="type", text="bread")
    two = f"<think>t</think><tool_call>{first}</tool_call><tool_call>{second}</tool_call>"
    other_name = "<think>t</think><tool_call>" + json.dumps({"name": "computer_use", "arguments": {
        "action": "type", "text": "milk"}}) + "</tool_call>"
    gt = {"action": "type", "text": "Milk"}
    assert score("infigui.action", [two, other_name], [gt, gt]) == [1.0, 1.0]


def test_a_bare_call_needs_the_exact_opening_and_ends_at_the_last_double_brace() -> None:
    # AC: without <tool_call>: '{"name": "mobile_use", "arguments":' + the rest after it; without
    # </tool_call>: cut before <conclusion>, then `rsplit('}}', 1)[0] + '}}'`
    bare = '<think>t</think>I will wait. {"name": "mobile_use", "arguments": {"action": "wait", "time": 2}} done'
    concl = ('<think>t</think><tool_call>{"name": "mobile_use", "arguments": {"action": "wait"}}\n'
             '<conclusion>waiting}}</conclusion>')
    spaced = '<think>t</think>{"name":"mobile_use","arguments":{"action":"wait"}}'
    assert mobile_use_call_json(bare) == '{"name": "mobile_use", "arguments": {"action": "wait", "time": 2}}'
    assert mobile_use_call_json(concl) == '{"name": "mobile_use", "arguments": {"action": "wait"}}'
    assert mobile_use_call_json(spaced) is None
    wait = {"action": "wait"}
    assert score("infigui.action", [bare, concl, spaced], [wait] * 3) == [1.0, 1.0, 0.0]
    assert score("infigui.action_type", [spaced], [wait]) == [0.0]


def test_strict_json_only() -> None:
    # AC: `json.loads(pred.strip())['arguments']`: a Python literal is an error, not a call
    literal = "<think>t</think><tool_call>{'name': 'mobile_use', 'arguments': {'action': 'wait'}}</tool_call>"
    no_args = '<think>t</think><tool_call>{"name": "mobile_use", "action": "wait"}</tool_call>'
    a_list = '<think>t</think><tool_call>[{"name": "mobile_use", "arguments": {"action": "wait"}}]</tool_call>'
    assert score("infigui.action", [literal, no_args, a_list], [{"action": "wait"}] * 3) == [0.0, 0.0, 0.0]


# -- judging (EV evaluate_android_control_action) ----------------------------------------------------

def test_a_type_call_without_text_is_an_error_so_not_even_the_type_counts() -> None:
    # EV type branch: `check_text(pred_action['text'], ...)` raises KeyError -> AC counts an error
    gt = {"action": "type", "text": "Hello World"}
    completions = [tc(action="type"), tc(action="type", text=""), tc(action="type", text=None),
                   tc(action="type", text="WORLD ")]
    assert score("infigui.action_type", completions, [gt] * 4) == [0.0, 1.0, 0.0, 1.0]
    # an empty text is a substring of everything (check_text: `text_pred in text_gt`)
    assert score("infigui.action", completions, [gt] * 4) == [0.0, 1.0, 0.0, 1.0]


def test_a_null_or_string_coordinate_is_an_error_whatever_the_action() -> None:
    # EV norm_coordinate(pred): `if 'coordinate' in action: action['coordinate'][0]/width` runs for
    # every prediction, before the branch on the GT type
    wait = {"action": "wait"}
    completions = [tc(action="wait", coordinate=None), tc(action="wait", coordinate=[1, 2]),
                   tc(action="click", coordinate="540, 1200"), tc(action="click", coordinate=[540]),
                   tc(action="click", coordinate=resized(540, 1200) + [7])]
    gts = [wait, wait, CLICK_GT, CLICK_GT, CLICK_GT]
    assert score("infigui.action", completions, gts) == [0.0, 1.0, 0.0, 0.0, 1.0]


def test_click_in_the_enlarged_box_or_near_the_point() -> None:
    # EV check_click: boxes enlarged 1.2x about their centre, inclusive; else the distance in
    # resized pixels (normalised difference x resized width/height) <= 0.04 x max(resized W, H)
    completions = [tc(action="click", coordinate=resized(585, 1200)),      # out of the box, in 1.2x (<= 588)
                   tc(action="click", coordinate=resized(591, 1200)),      # out of 1.2x; 51 px from the point
                   tc(action="click", coordinate=resized(700, 1200)),      # 161.8 resized px > 96.3
                   tc(action="long_press", coordinate=resized(540, 1200))]
    assert score("infigui.action", completions, [CLICK_GT] * 4) == [1.0, 1.0, 0.0, 0.0]
    assert score("infigui.action_type", completions, [CLICK_GT] * 4) == [1.0, 1.0, 1.0, 0.0]
    far_box = dict(CLICK_GT, candidate_bbox=[[0, 0, 10, 10]])
    assert score("infigui.action", [tc(action="click", coordinate=resized(600, 1200))], [far_box]) == [1.0]


def test_swipe_direction_on_normalised_coordinates() -> None:
    # EV swipe branch: predict_direction(pred['coordinate'], pred['coordinate2']) after norm_coordinate
    # divided both by the resized width and height. On a tall screen a diagonal swipe of 400 px
    # across and 400 px up is horizontal once normalised (0.366 vs 0.166); in raw pixels a tie,
    # which predict_direction calls vertical.
    diagonal = tc(action="swipe", coordinate=[500, 1500], coordinate2=[900, 1100])
    assert swipe_direction([500, 1500], [900, 1100]) == "up"
    assert score("infigui.action", [diagonal, diagonal], [{"action": "swipe", "direction": "right"},
                                                          {"action": "swipe", "direction": "up"}]) == [1.0, 0.0]
    # ties and no movement are vertical; a swipe without coordinate2 is an error
    assert swipe_direction([0, 0], [0, 0]) == "up" and swipe_direction([0, 0], [5, 5]) == "down"
    assert score("infigui.action_type", [tc(action="swipe", coordinate=[1, 1])],
                 [{"action": "swipe", "direction": "up"}]) == [0.0]


def test_open_accepts_a_click_only_when_the_ground_truth_has_boxes() -> None:
    # EV open branch: open -> check_text; click -> check_click around the first box's centre when
    # candidate_bbox is not empty, else (False, False)
    with_box = {"action": "open", "text": "Chrome", "candidate_bbox": [[0, 0, 108, 240]]}
    no_box = {"action": "open", "text": "Chrome", "candidate_bbox": []}
    completions = [tc(action="open", text="chrome"), tc(action="click", coordinate=resized(50, 110)),
                   tc(action="click", coordinate=resized(50, 110)), tc(action="open", text="Chrome Beta")]
    gts = [with_box, with_box, no_box, no_box]
    assert score("infigui.action", completions, gts) == [1.0, 1.0, 0.0, 1.0]
    assert score("infigui.action_type", completions, gts) == [1.0, 1.0, 0.0, 1.0]


def test_system_button_wait_and_actions_the_rules_do_not_judge() -> None:
    # EV system_button: lower().strip() equality; wait: the type alone; anything else raises
    # NotImplementedError, which here makes the row not applicable (ours: not the model's error)
    back = {"action": "system_button", "button": "Back"}
    completions = [tc(action="system_button", button=" back"), tc(action="system_button", button="Home"),
                   tc(action="system_button"), tc(action="wait", time=5), tc(action="terminate", status="success")]
    gts = [back, back, back, {"action": "wait"}, {"action": "terminate", "status": "success"}]
    assert score("infigui.action", completions, gts) == [1.0, 0.0, 0.0, 1.0, None]
    assert score("infigui.action", completions[4:], gts[4:], score_other=True) == [1.0]


def test_null_values_in_a_ground_truth_are_absent_keys() -> None:
    # the released JSON must omit absent keys (EV norm_coordinate would fail on a null box list);
    # the HF viewer shows them as null, so a reader may hand us nulls
    gt = {"action": "wait", "button": None, "candidate_bbox": None, "coordinate": None, "text": None}
    assert score("infigui.action", [tc(action="wait")], [gt]) == [1.0]
    assert match_action({"action": "wait"}, {"action": "click", "candidate_bbox": None}, W, H) is None


def test_metrics_count_as_compute_scores_does() -> None:
    # AC compute_scores: an exception counts in error_num and skips the click count; click_match_num
    # counts exact matches whose *prediction* is a click (an `open` matched by a click included),
    # all_click_num the click GTs judged without an error; accuracies over every job.
    open_gt = {"action": "open", "text": "Maps", "candidate_bbox": [[0, 0, 108, 240]]}
    completions = [tc(action="click", coordinate=resized(540, 1200)), "no call here",
                   tc(action="click", coordinate=resized(50, 100)), tc(action="type", text="hi")]
    gts = [CLICK_GT, CLICK_GT, open_gt, {"action": "type", "text": "hi"}]
    m = metrics(completions, {"gt_action": gts, "width": [W] * 4, "height": [H] * 4})
    assert m["type_match_acc"] == 0.75 and m["exact_match_acc"] == 0.75
    assert m["errors"] == 1
    assert m["click_match_acc"] == 2.0          # 2 click matches / 1 click GT read: the released count


# -- ours: format, ScreenSpot grounding, sub-goal ------------------------------------------------------

def test_format_wants_think_then_one_readable_call_and_nothing_around() -> None:
    good = tc(action="wait")
    completions = [good, good + "\n", "<tool_call>" + args(action="wait") + "</tool_call>",
                   "<think>t</think><tool_call>{'action': 'wait'}</tool_call>",
                   "<think>t</think><tool_call>" + args(action="fly") + "</tool_call>"]
    assert rewards.load("infigui.format")(completions=completions) == [1.0, 0.0, 0.0, 0.0, 0.0]
    no_step = "<think>t</think><tool_call>" + args(action="wait") + "</tool_call>"
    strict = rewards.load("infigui.format", require_step=True)
    assert strict(completions=[good, no_step]) == [1.0, 0.0]


def test_point_in_box_is_screenspots_rule() -> None:
    # SeeClick pretrain/screenspot_test.py: correct when bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]
    fn = rewards.load("infigui.point_in_box")
    completions = [tc(action="click", coordinate=resized(580, 1250)), tc(action="click", coordinate=resized(585, 1200)),
                   tc(action="type", text="x"), tc(action="click", coordinate=resized(1, 1))]
    box = [500, 1150, 580, 1250]
    assert fn(completions=completions, target_box=[box, box, box, None], width=[W] * 4, height=[H] * 4) == \
        [1.0, 0.0, 0.0, None]


def test_subgoal_rule_judge_is_word_f1_and_none_without_a_reference() -> None:
    fn = rewards.load("infigui.subgoal")
    completions = ["<think>I see the list. <step>Open the Groceries list</step></think><tool_call>{}</tool_call>",
                   "<think>no sub-goal</think>", "<think><step>open groceries list</step></think>",
                   "<think><step>turn off wifi</step></think>"]
    refs = ["Open the Groceries list", "Open the Groceries list", None, "Open the Groceries list"]
    got = fn(completions=completions, sub_goal=refs, goal=["g"] * 4)
    assert got == [1.0, 0.0, None, 0.0]
    assert word_f1("open groceries", "Open the Groceries list") == pytest.approx(0.8)


def test_subgoal_only_if_wrong_scores_the_rows_whose_action_missed() -> None:
    fn = rewards.load("infigui.subgoal", only_if_wrong=True)
    right = tc(action="click", coordinate=resized(540, 1200))
    wrong = tc(action="click", coordinate=resized(10, 10))
    got = fn(completions=[right, wrong], sub_goal=["sub-goal", "sub-goal"], goal=["g", "g"],
             gt_action=[CLICK_GT, CLICK_GT], width=[W, W], height=[H, H])
    assert got == [None, 1.0]
