"""Label Studio review of love and omni against a real server (127.0.0.1): love's clue intervals as
time spans on the video, omni's keyframe with its box and mask and the video's sounds as spans. A
reviewer's edit comes back in seconds and pixels."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest

from r1data import build, open_corpus
from r1data.review import load_reviews, reviewed_table

sys.path.insert(0, str(Path(__file__).parent))
from servers.labelstudio import TEST_TOKEN  # noqa: E402
from test_review import env, ls, project_id, review, reviewer, server, tasks_by_row  # noqa: E402,F401

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]


def test_love_clue_spans_round_trip(cli, env, ls, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from tests.test_love import tiny_workspace

    out = tmp_path / "love"
    build("love", out, size=4, progress=False, workspace=tiny_workspace(tmp_path))
    r = cli("review", "push", out, "--project", "love", "--media-root", env.media_root)
    assert r.exit_code == 0, r.stderr
    pid = project_id(ls, "love")
    config = ls.projects.get(id=pid).label_config
    for tag in ('<Video name="videos"', '<TimelineLabels name="clues" toName="videos"', '<TextArea name="clues__event"',
                '<TextArea name="zoom_cot"'):
        assert tag in config
    rows = {x["id"]: x for x in open_corpus(out).table("train").to_pylist()}
    (rid, task), (rid2, task2) = sorted(tasks_by_row(ls, pid).items())[:2]
    row = rows[rid]
    fps = row["video_fps"]
    req = urllib.request.Request(env.url + task.data["videos"], headers={"Authorization": f"Token {TEST_TOKEN}"})
    with urllib.request.urlopen(req) as resp:
        assert resp.read(12)[4:8] == b"ftyp"
    pred = {(p["from_name"], p["id"]): p for p in ls.predictions.list(task=task.id)[0].result}
    clue = row["clues"][0]
    assert pred[("clues", "clues_0")]["value"]["ranges"] == [
        {"start": round(clue["start"] * fps) + 1, "end": round(clue["end"] * fps)}]

    def edit(result: list[dict]) -> list[dict]:          # the clue starts 2 s earlier
        for x in result:
            if x["id"] == "clues_0":
                x["value"]["ranges"][0]["start"] -= 2 * int(fps)
        return result

    me = reviewer(ls, "erin")
    review(ls, task, me, "fixed", edit)
    review(ls, task2, me, "accept")
    r = cli("review", "pull", out, "--project", "love")
    assert r.exit_code == 0, r.stderr
    reviews = {x["id"]: x for x in load_reviews(out).to_pylist()}
    assert set(json.loads(reviews[rid]["corrected"])) == {"clues"}
    merged = {x["id"]: x for x in reviewed_table(out, "train").to_pylist()}[rid]
    assert merged["clues"][0]["start"] == pytest.approx(clue["start"] - 2, abs=0.5 / fps + 1e-3)
    assert merged["clues"][0]["end"] == pytest.approx(clue["end"], abs=0.5 / fps + 1e-3)


def test_omni_keyframe_box_and_sound_spans(cli, env, ls, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from tests.test_omni import tiny_workspace

    out = tmp_path / "omni"
    build("omni", out, size=4, progress=False, workspace=tiny_workspace(tmp_path))
    r = cli("review", "push", out, "--project", "omni", "--media-root", env.media_root)
    assert r.exit_code == 0, r.stderr
    pid = project_id(ls, "omni")
    config = ls.projects.get(id=pid).label_config
    for tag in ('<Image name="keyframe_image"', '<Video name="videos"', '<RectangleLabels name="bbox"',
                '<BrushLabels name="keyframe_mask"', '<TimelineLabels name="sound_events" toName="videos"'):
        assert tag in config
    rows = {x["id"]: x for x in open_corpus(out).table("train").to_pylist()}
    rid, task = sorted(tasks_by_row(ls, pid).items())[0]
    row = rows[rid]
    pred = {}
    for p in ls.predictions.list(task=task.id)[0].result:
        pred.setdefault(p["from_name"], []).append(p)
    assert pred["bbox"][0]["value"]["x"] == pytest.approx(100 * row["bbox"][0] / row["width"])
    assert len(pred.get("sound_events", [])) == len(row["sound_events"])

    def edit(result: list[dict]) -> list[dict]:           # the box is moved 4 px right
        for x in result:
            if x["from_name"] == "bbox":
                x["value"]["x"] += 100 * 4 / row["width"]
        return result

    review(ls, task, reviewer(ls, "frank"), "fixed", edit)
    r = cli("review", "pull", out, "--project", "omni")
    assert r.exit_code == 0, r.stderr
    merged = {x["id"]: x for x in reviewed_table(out, "train").to_pylist()}[rid]
    assert merged["bbox"] == pytest.approx([row["bbox"][0] + 4, row["bbox"][1], row["bbox"][2] + 4, row["bbox"][3]], abs=0.01)
    assert merged["sound_events"] == row["sound_events"] and merged["keyframes"] == row["keyframes"]
