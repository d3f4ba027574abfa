"""The gui corpus's real sources, on fixtures written in the released formats.

AndroidControl (google-research/google-research android_control/README.md): GZIP TFRecords of
tf.train.Example episodes, fields episode_id, goal, screenshots (PNG), accessibility_trees
(android_env AndroidAccessibilityForest protos), screenshot_widths / heights, actions (JSON,
len(screenshots) - 1 of them), step_instructions; splits.json with train / validation / test ids.
InfiGUI-R1's processed JSON (eval/android_control/android_control.py reads it): width, height,
episode {episode_id, goal, step_instructions, screenshot_paths}, step_pams, step_check_pams.
ScreenSpot (SeeClick pretrain/screenspot_test.py): screenspot_<domain>.json, items img_filename,
bbox [x, y, w, h], instruction, data_type, data_source; images in screenspot_imgs/.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from r1data.corpora.gui.readers import AndroidControlJsonSource, AndroidControlSource, ScreenSpotSource
from r1data.corpora.gui.tfrecord import (encode_example, encode_forest, parse_example, parse_forest,
                                         read_tfrecords, write_tfrecord)
from r1data.steps.base import Reject, StepContext

W, H = 108, 240


def png(color: str = "white", size: tuple[int, int] = (W, H)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


BUTTON = {"unique_id": 7, "bounds": [10, 20, 60, 50], "class_name": "android.widget.Button", "text": "Search",
          "is_clickable": 1, "is_visible_to_user": 1}
PANEL = {"unique_id": 3, "bounds": [0, 0, 108, 200], "class_name": "android.widget.FrameLayout", "is_clickable": 1,
         "is_visible_to_user": 1}
ICON = {"unique_id": 9, "bounds": [70, 150, 100, 180], "class_name": "android.widget.TextView", "text": "Maps",
        "is_clickable": 1, "is_visible_to_user": 1}
HIDDEN = {"unique_id": 11, "bounds": [0, 0, 50, 50], "text": "gone", "is_visible_to_user": 0}


def episode(eid: int, actions: list[dict], shots: int | None = None, size: tuple[int, int] = (W, H)) -> bytes:
    n = len(actions) + 1 if shots is None else shots
    forest = encode_forest([[PANEL, BUTTON, ICON, HIDDEN]])
    return encode_example({
        "episode_id": [eid], "goal": [f"Search for cafes (episode {eid})"],
        "screenshots": [png(c) for c in ["white", "gray", "black", "red", "blue"][:n]],
        "accessibility_trees": [forest] * n, "screenshot_widths": [size[0]] * n, "screenshot_heights": [size[1]] * n,
        "actions": [json.dumps(a) for a in actions], "step_instructions": [f"step {k}" for k in range(len(actions))]})


def ctx() -> StepContext:
    return StepContext(seed=1, corpus="gui", step="source")


@pytest.fixture
def android_control(tmp_path: Path) -> Path:
    good = episode(101, [{"action_type": "open_app", "app_name": "Maps"},
                         {"action_type": "click", "x": 30, "y": 40},
                         {"action_type": "scroll", "direction": "down"}])
    off = episode(102, [{"action_type": "click", "x": 500, "y": 40}])
    short = episode(103, [{"action_type": "wait"}, {"action_type": "navigate_back"}], shots=2)
    write_tfrecord(tmp_path / "android_control-00000-of-00002", [good, off, short])
    write_tfrecord(tmp_path / "android_control-00001-of-00002", [episode(104, [{"action_type": "input_text", "text": "cafe"}])])
    cut = tmp_path / "android_control-00001-of-00002"
    (tmp_path / "android_control-00002-of-00002").write_bytes(cut.read_bytes()[:-40])     # truncated download
    (tmp_path / "splits.json").write_text(json.dumps({"train": [101, 102, 103], "validation": [], "test": [104]}))
    return tmp_path


def test_the_tfrecord_and_proto_codecs_round_trip(tmp_path: Path) -> None:
    rec = episode(5, [{"action_type": "wait"}])
    write_tfrecord(tmp_path / "f", [rec, rec])
    assert list(read_tfrecords(tmp_path / "f")) == [rec, rec]
    ex = parse_example(rec)
    assert ex["episode_id"] == [5] and ex["screenshot_widths"] == [W, W] and len(ex["screenshots"]) == 2
    nodes = parse_forest(ex["accessibility_trees"][0])
    assert [n["unique_id"] for n in nodes] == [3, 7, 9, 11]
    assert nodes[1]["bounds"] == [10, 20, 60, 50] and nodes[1]["text"] == "Search" and nodes[1]["is_clickable"] == 1
    neg = encode_forest([[{"unique_id": 1, "bounds": [-5, -10, 20, 30]}]])
    assert parse_forest(neg)[0]["bounds"] == [-5, -10, 20, 30]      # negative int32s (off-screen nodes)


def test_android_control_steps_become_infigui_rows_and_bad_episodes_rejects(android_control: Path) -> None:
    src = AndroidControlSource(ctx(), dir=str(android_control), split="train")
    out = list(src.read(0))
    rows = [r for r in out if not isinstance(r, Reject)]
    rejects = {r.row.get("episode_id") or r.row.get("file"): r.reason for r in out if isinstance(r, Reject)}
    assert rejects == {"102": "point_off_screen", "103": "bad_episode",
                       "android_control-00002-of-00002": "truncated_file"}
    assert [r["id"] for r in rows] == [f"101-s0{k}-{lvl}" for k in range(3) for lvl in ("low", "high")]
    low = [r for r in rows if r["task"] == "low"]
    assert [r["gt_action"] for r in low] == [
        {"action": "open", "text": "Maps", "candidate_bbox": [[70, 150, 100, 180]]},           # the app's icon
        {"action": "click", "coordinate": [30, 40], "candidate_bbox": [[10, 20, 60, 50], [0, 0, 108, 200]]},
        {"action": "swipe", "direction": "down"}]
    assert low[1]["history"] == ['{"action": "open", "text": "Maps"}']
    assert low[2]["action"] == {"action": "swipe", "coordinate": [54, 60], "coordinate2": [54, 180]}
    assert low[1]["target_box"] == [10.0, 20.0, 60.0, 50.0] and low[1]["target_label"] == "Search"
    assert low[1]["problem"] == ('The user query:  Search for cafes (episode 101)\nCurrent step query: step 1\n'
                                 'Task progress (You have done the following operation on the current device): '
                                 'Step 1: {"action": "open", "text": "Maps"}; ')
    assert rows[1]["problem"].startswith("The user query:  Search for cafes (episode 101)\nTask progress")
    assert low[0]["image"] != low[0]["screen_after"] and low[0]["screen_after"] == low[1]["image"]
    assert "gone" not in [e["label"] for e in low[0]["elements"]]                         # not visible to the user
    test = [r for r in AndroidControlSource(ctx(), dir=str(android_control), split="test").read(0)
            if not isinstance(r, Reject)]
    assert {r["gt_action"]["action"] for r in test} == {"type"} and test[0]["gt_action"]["text"] == "cafe"


def test_infigui_json_keeps_its_history_entries_and_drops_null_ground_truth_keys(tmp_path: Path) -> None:
    (tmp_path / "android_control_images" / "7").mkdir(parents=True)
    for k in range(3):
        (tmp_path / "android_control_images" / "7" / f"step_{k}.png").write_bytes(png(["white", "gray", "black"][k]))
    pam0 = {"action": "click", "button": None, "coordinate": [30, 40], "coordinate2": None, "text": None, "time": None}
    line = {"width": W, "height": H,
            "episode": {"episode_id": 7, "goal": "Open search", "step_instructions": ["tap search", "go back"],
                        "screenshot_paths": [f"android_control_images/7/step_{k}.png" for k in range(3)]},
            "step_pams": [pam0, {"action": "system_button", "button": "Back"}],
            "step_check_pams": [{"action": "click", "candidate_bbox": [[10, 20, 60, 50]], "coordinate": [30, 40],
                                 "direction": None, "text": None, "button": None},
                                {"action": "system_button", "button": "Back"}]}
    missing = json.loads(json.dumps(line))
    missing["episode"]["episode_id"] = 8
    missing["episode"]["screenshot_paths"][1] = "android_control_images/8/nope.png"
    (tmp_path / "android_control_test.json").write_text(json.dumps([line, missing]))
    out = list(AndroidControlJsonSource(ctx(), dir=str(tmp_path), levels=["low"]).read(0))
    rows = [r for r in out if not isinstance(r, Reject)]
    assert [r.reason for r in out if isinstance(r, Reject)] == ["missing_image"]
    assert rows[0]["gt_action"] == {"action": "click", "candidate_bbox": [[10, 20, 60, 50]], "coordinate": [30, 40]}
    assert rows[1]["history"] == [json.dumps(pam0)]       # dumped as the file holds it, nulls and all
    assert rows[1]["gt_action"] == {"action": "system_button", "button": "Back"}
    assert rows[0]["point"] == [30.0, 40.0] and rows[0]["target_box"] == [10.0, 20.0, 60.0, 50.0]


def test_screenspot_rows_and_bad_items(tmp_path: Path) -> None:
    (tmp_path / "screenspot_imgs").mkdir()
    (tmp_path / "screenspot_imgs" / "a.png").write_bytes(png(size=(200, 100)))
    items = [{"img_filename": "a.png", "bbox": [20, 10, 40, 30], "instruction": "open settings", "data_type": "icon",
              "data_source": "android"},
             {"img_filename": "a.png", "bbox": [20, 10, 0, 30], "instruction": "x", "data_type": "text", "data_source": "ios"},
             {"img_filename": "a.png", "bbox": [190, 10, 40, 30], "instruction": "y", "data_type": "text", "data_source": "ios"},
             {"img_filename": "b.png", "bbox": [0, 0, 5, 5], "instruction": "z", "data_type": "text", "data_source": "ios"}]
    (tmp_path / "screenspot_mobile.json").write_text(json.dumps(items))
    out = list(ScreenSpotSource(ctx(), dir=str(tmp_path)).read(0))
    assert [r.reason for r in out if isinstance(r, Reject)] == ["empty_box", "box_outside_image", "missing_image"]
    row = out[0]
    assert row["target_box"] == [20.0, 10.0, 60.0, 40.0]                # x, y, w, h -> corners
    assert row["gt_action"] == {"action": "click", "coordinate": [40, 25], "candidate_bbox": [[20, 10, 60, 40]]}
    assert row["goal"] == "open settings" and row["data_type"] == "icon" and row["device"] == "mobile"
    assert row["problem"].startswith("The user query:  open settings\nTask progress")


def test_real_rows_go_through_the_whole_pipeline(android_control: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from r1data import open_corpus

    r = cli("build", "gui", "--source", "android_control", "--source-dir", android_control, "-o", tmp_path / "ac",
            "--no-progress")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(tmp_path / "ac")
    rows = [row for s in corpus.splits for row in corpus.table(s).to_pylist()]
    assert sorted(row["id"] for row in rows) == sorted(f"101-s0{k}-{lvl}" for k in range(3) for lvl in ("low", "high"))
    reasons = sorted(corpus.rejects().column("reason").to_pylist())
    assert reasons == ["bad_episode", "point_off_screen", "truncated_file"]
    for row in rows:       # the reference completion matches the converted ground truth
        assert rewards_action(row) == 1.0 and "<step>step " in row["solution"]


def rewards_action(row: dict) -> float:
    from r1data import rewards

    return rewards.load("infigui.action")(completions=[row["solution"]], gt_action=[row["gt_action"]],
                                          width=[row["width"]], height=[row["height"]])[0]
