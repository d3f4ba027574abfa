"""Human review against a real Label Studio server started on 127.0.0.1 (label-studio in its own venv).

A reviewer's work is simulated through the API exactly as the UI would submit it: an annotation
that starts from the pre-annotation (the pipeline's output), edited, with a verdict chosen.
"""

from __future__ import annotations

import copy
import io
import json
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from r1data import build, open_corpus
from r1data.review import load_reviews, reviewed_table

sys.path.insert(0, str(Path(__file__).parent))
from test_review_shapes import write_workspace  # noqa: E402
from servers.labelstudio import TEST_TOKEN, start_label_studio  # noqa: E402

# no label-studio executable: skipped, or failed when R1DATA_REQUIRE_LABEL_STUDIO=1 (CI)
pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    s = start_label_studio(tmp_path_factory.mktemp("labelstudio"))
    yield s
    s.stop()


@pytest.fixture
def env(server, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LABEL_STUDIO_URL", server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TEST_TOKEN)
    return server


@pytest.fixture(scope="module")
def ls(server):  # type: ignore[no-untyped-def]
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=server.url, api_key=TEST_TOKEN)


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scene") / "out"
    build("scene30k", out, size=20, progress=False)
    return out


def project_id(ls, title: str) -> int:  # type: ignore[no-untyped-def]
    return next(p.id for p in ls.projects.list(title=title) if p.title == title)


def tasks_by_row(ls, pid: int) -> dict:  # type: ignore[no-untyped-def]
    return {t.data["r1data_id"]: t for t in ls.tasks.list(project=pid, fields="all")}


def review(ls, task, reviewer_id: int, verdict: str | None, edit=None) -> None:  # type: ignore[no-untyped-def]
    """Submit an annotation as a reviewer would: start from the prediction, edit, choose."""
    pred = ls.predictions.list(task=task.id)[0]
    result = copy.deepcopy(pred.result)
    if edit:
        result = edit(result)
    if verdict:
        result.append({"from_name": "r1data_verdict", "to_name": result[0]["to_name"] if result else "images_0",
                       "type": "choices", "value": {"choices": [verdict]}})
    ls.annotations.create(id=task.id, result=result, completed_by=reviewer_id, parent_prediction=pred.id)


def reviewer(ls, name: str) -> int:  # type: ignore[no-untyped-def]
    for u in ls.users.list():
        if u.email == f"{name}@example.com":
            return u.id
    return ls.users.create(email=f"{name}@example.com", username=name).id


def set_text(name: str, text: str):  # type: ignore[no-untyped-def]
    def edit(result: list[dict]) -> list[dict]:
        for r in result:
            if r["from_name"] == name:
                r["value"]["text"] = [text]
        return result
    return edit


# -- scene30k: text and JSON fields ----------------------------------------------------------------

def test_push_derives_config_and_is_idempotent(cli, env, ls, scene: Path) -> None:
    r = cli("review", "push", scene, "--project", "scene-idem", "--sample", "6")
    assert r.exit_code == 0, r.stderr
    assert "6 new tasks" in r.stdout
    r = cli("review", "push", scene, "--project", "scene-idem", "--sample", "8")
    assert r.exit_code == 0, r.stderr
    assert "2 new tasks, 6 already there" in r.stdout
    pid = project_id(ls, "scene-idem")
    tasks = tasks_by_row(ls, pid)
    assert len(tasks) == 8                               # no duplicates after two pushes
    config = ls.projects.get(id=pid).label_config
    for tag in ('<TextArea name="cot"', '<TextArea name="question"', '<Image name="images_2"',
                '<Choices name="r1data_verdict"'):
        assert tag in config
    rows = {r["id"]: r for r in open_corpus(scene).table().to_pylist()}
    rid, task = next(iter(tasks.items()))
    assert task.data["images_0"].startswith("data:image/png;base64,")
    pred = {p["from_name"]: p for p in ls.predictions.list(task=task.id)[0].result}
    assert pred["cot"]["value"]["text"] == [rows[rid]["cot"]]   # the pipeline's output as pre-annotation
    # a project whose config drifted (edited by hand, older r1data) is brought back up to date
    ls.projects.update(id=pid, label_config='<View><Text name="q" value="$question"/></View>')
    r = cli("review", "push", scene, "--project", "scene-idem", "--sample", "8")
    assert r.exit_code == 0, r.stderr
    assert "config updated" in r.stdout and "0 new tasks" in r.stdout
    assert ls.projects.get(id=pid).label_config.strip() == config.strip()


def test_review_loop_merges_verdicts_without_touching_shards(cli, env, ls, scene: Path) -> None:
    corpus = open_corpus(scene)
    before = {s: corpus.table(s).num_rows for s in corpus.splits}
    r = cli("review", "push", scene, "--project", "scene-loop", "--where", "split = 'train'")
    assert r.exit_code == 0, r.stderr
    pid = project_id(ls, "scene-loop")
    tasks = tasks_by_row(ls, pid)
    train = corpus.table("train").to_pylist()
    referring = next(r for r in train if r["target_box"] is not None)
    others = [r["id"] for r in train if r["id"] != referring["id"]]
    alice, bob = reviewer(ls, "alice"), reviewer(ls, "bob")
    review(ls, tasks[others[0]], alice, "accept")
    review(ls, tasks[others[1]], alice, "reject")
    review(ls, tasks[others[2]], alice, "fixed", set_text("cot", "<think>Fixed by a person.</think><answer>no</answer>"))
    new_box = [0.5, 0.5, 0.0, 1.5, 1.25, 0.75]
    review(ls, tasks[referring["id"]], alice, "fixed", set_text("target_box", json.dumps(new_box)))
    review(ls, tasks[others[3]], alice, "fixed", set_text("target_box", "[1, 2,"))       # not JSON
    review(ls, tasks[others[0]], bob, "accept")                                          # agrees with alice
    review(ls, tasks[others[1]], bob, "accept")                                          # disagrees, but earlier...
    r = cli("review", "pull", scene, "--project", "scene-loop")
    assert r.exit_code == 0, r.stderr
    assert f"task {tasks[others[3]].id} (row {others[3]}" in r.stderr and "not JSON" in r.stderr
    reviews = load_reviews(scene)
    assert reviews.num_rows == 6
    assert set(reviews.column_names) >= {"id", "verdict", "corrected", "reviewer", "reviewed_at", "task_id", "project"}
    by = {(x["id"], x["reviewer"]): x for x in reviews.to_pylist()}
    assert by[(others[2], "alice@example.com")]["verdict"] == "fixed"
    assert json.loads(by[(referring["id"], "alice@example.com")]["corrected"]) == {"target_box": new_box}

    merged = {r["id"]: r for r in reviewed_table(scene, "train").to_pylist()}
    # bob's accept of others[1] came after alice's reject: the latest review decides
    assert others[1] in merged
    assert merged[others[2]]["cot"] == "<think>Fixed by a person.</think><answer>no</answer>"
    assert merged[referring["id"]]["target_box"] == pytest.approx(new_box)
    assert merged[others[3]]["target_box"] == next(r for r in train if r["id"] == others[3])["target_box"]
    assert len(merged) == len(train)
    assert corpus.verify_checksums() == []                              # shards untouched
    assert {s: open_corpus(scene).table(s).num_rows for s in corpus.splits} == before

    # a second reject by bob makes others[2] the latest-reject -> out of the reviewed view
    review(ls, tasks[others[2]], bob, "reject")
    r = cli("review", "pull", scene, "--project", "scene-loop")
    assert r.exit_code == 0, r.stderr
    assert "1 new, 6 updated, 0 kept" in r.stdout
    assert load_reviews(scene).num_rows == 7                           # pulled twice: no duplicates
    merged = {r["id"] for r in reviewed_table(scene, "train").to_pylist()}
    assert others[2] not in merged and others[1] in merged
    only = reviewed_table(scene, "train", reviewed_only=True)
    assert set(only.column("id").to_pylist()) == {others[0], others[1], referring["id"]}

    r = cli("inspect", scene, "--samples", "0")
    assert "review (Label Studio):" in r.stdout
    assert "agreement   1 of 3 rows reviewed more than once" in r.stdout


# -- an image corpus: boxes, points, masks, local files ---------------------------------------------

def test_image_geometry_round_trip_with_local_files(cli, env, ls, tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws")
    out = tmp_path / "shapes"
    build("shapes", out, workspace=ws, progress=False)
    r = cli("review", "push", out, "--project", "shapes", "--sample", "4", "--media-root", env.media_root)
    assert r.exit_code == 0, r.stderr
    pid = project_id(ls, "shapes")
    tasks = tasks_by_row(ls, pid)
    rid, task = sorted(tasks.items())[0]
    url = task.data["image"]
    assert url.startswith("/data/local-files/?d=r1data/shapes/")
    req = urllib.request.Request(env.url + url, headers={"Authorization": f"Token {TEST_TOKEN}"})
    with urllib.request.urlopen(req) as resp:                # the server really serves the image
        assert Image.open(io.BytesIO(resp.read())).size == (64, 48)
    pred = {}
    for p in ls.predictions.list(task=task.id)[0].result:
        pred.setdefault(p["from_name"], []).append(p)
    assert len(pred["boxes"]) == 2 and len(pred["trace"]) == 2 and len(pred["mask"]) == 1
    i = int(rid.split("-")[1])                                # row i's red box is x 4+i..24+i, y 6..30
    assert pred["box"][0]["value"]["x"] == pytest.approx(100 * (4 + i) / 64)

    from label_studio_sdk.converter.brush import mask2rle

    painted = np.zeros((48, 64), np.uint8)
    painted[10:20, 30:50] = 255

    def edit(result: list[dict]) -> list[dict]:
        for x in result:
            if x["from_name"] == "box":        # the reviewer drags the box 16 px right, 6 px down
                x["value"]["x"] += 100 * 16 / 64
                x["value"]["y"] += 100 * 6 / 48
            if x["from_name"] == "mask":
                x["value"]["rle"] = mask2rle(painted)
            if x["from_name"] == "trace" and x["id"].endswith("_1"):
                x["value"]["x"], x["value"]["y"] = 50.0, 50.0
        return result

    me = reviewer(ls, "carol")
    review(ls, task, me, "fixed", edit)
    tasks_sorted = sorted(tasks.items())
    review(ls, tasks_sorted[1][1], me, "accept")

    def rotate(result: list[dict]) -> list[dict]:
        for x in result:
            if x["from_name"] == "box":
                x["value"]["rotation"] = 30
        return result

    review(ls, tasks_sorted[2][1], me, "fixed", rotate)
    r = cli("review", "pull", out, "--project", "shapes")
    assert r.exit_code == 0, r.stderr
    assert f"task {tasks_sorted[2][1].id}" in r.stderr and "rotated" in r.stderr
    reviews = {x["id"]: x for x in load_reviews(out).to_pylist()}
    assert set(reviews) == {rid, tasks_sorted[1][0]}
    corrected = json.loads(reviews[rid]["corrected"])
    assert set(corrected) == {"box", "mask", "trace"}          # unchanged fields are not "corrections"
    merged = {x["id"]: x for x in reviewed_table(out, "train").to_pylist()}
    assert merged[rid]["box"] == pytest.approx([20.0 + i, 12.0, 40.0 + i, 36.0], abs=0.01)   # pixels, not percent
    assert merged[rid]["trace"][1] == pytest.approx([32.0, 24.0], abs=0.01)
    original = {x["id"]: x for x in open_corpus(out).table("train").to_pylist()}[rid]
    assert merged[rid]["boxes"] == original["boxes"] and merged[rid]["question"] == original["question"]
    mask = np.asarray(Image.open(io.BytesIO(merged[rid]["mask"]["bytes"]))) > 0
    assert (mask == (painted > 0)).all()


# -- errors a user can cause -------------------------------------------------------------------------

def test_errors_are_one_line(cli, env, ls, scene: Path, monkeypatch) -> None:
    r = cli("review", "pull", scene, "--project", "nope")
    assert r.exit_code == 2 and "no Label Studio project 'nope'" in r.stderr
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "not-a-token")
    r = cli("review", "push", scene, "--project", "x", "--sample", "1")
    assert r.exit_code == 2 and "rejected the token (HTTP 401" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TEST_TOKEN)
    r = cli("review", "push", scene, "--project", "x", "--sample", "1", "--url", "http://127.0.0.1:9")
    assert r.exit_code == 2 and "cannot reach Label Studio at http://127.0.0.1:9" in r.stderr
    monkeypatch.delenv("LABEL_STUDIO_API_KEY")
    r = cli("review", "push", scene, "--project", "x", "--sample", "1")
    assert r.exit_code == 2 and "LABEL_STUDIO_API_KEY" in r.stderr
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TEST_TOKEN)
    assert cli("review", "push", scene, "--project", "drift", "--sample", "1").exit_code == 0
    ls.projects.update(id=project_id(ls, "drift"),
                       label_config='<View><Text name="r1data_id" value="$r1data_id"/>'
                                    '<TextArea name="note" toName="r1data_id"/></View>')
    r = cli("review", "pull", scene, "--project", "drift")
    assert r.exit_code == 2 and "no longer matches the corpus schema" in r.stderr and "TextArea 'cot'" in r.stderr


def test_personal_access_token_works(env, scene: Path, cli, monkeypatch) -> None:
    from r1data.review.server import ADMIN_EMAIL, personal_access_token
    from servers.labelstudio import TEST_PASSWORD

    pat = personal_access_token(env.url, ADMIN_EMAIL, TEST_PASSWORD)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", pat)
    r = cli("review", "push", scene, "--project", "pat", "--sample", "2")
    assert r.exit_code == 0, r.stderr
    assert "2 new tasks" in r.stdout


# -- a video corpus: time spans on a timeline ---------------------------------------------------------

def test_video_spans_round_trip_in_frames(cli, env, ls, tmp_path: Path) -> None:
    out = tmp_path / "lv"
    build("longvideo", out, size=4, progress=False)
    r = cli("review", "push", out, "--project", "longvideo", "--media-root", env.media_root)
    assert r.exit_code == 0, r.stderr
    pid = project_id(ls, "longvideo")
    config = ls.projects.get(id=pid).label_config
    for tag in ('<TimelineLabels name="clips" toName="videos"', '<TimelineLabels name="captions" toName="videos"',
                'framerate="$r1data_fps"', '<TextArea name="captions__caption"', '<Text name="ctx_options"'):
        assert tag in config
    rows = {x["id"]: x for x in open_corpus(out).table("train").to_pylist()}
    tasks = tasks_by_row(ls, pid)
    (rid, task), (rid2, task2) = sorted(tasks.items())[:2]
    row = rows[rid]
    assert task.data["r1data_fps"] == pytest.approx(row["video_fps"])
    assert task.data["ctx_options"].splitlines() == row["options"]
    req = urllib.request.Request(env.url + task.data["videos"], headers={"Authorization": f"Token {TEST_TOKEN}"})
    with urllib.request.urlopen(req) as resp:                 # the server really serves the video
        assert resp.read(12)[4:8] == b"ftyp"
    fps = row["video_fps"]
    pred = {(p["from_name"], p["id"]): p for p in ls.predictions.list(task=task.id)[0].result}
    first = row["captions"][0]
    assert pred[("captions", "captions_0")]["value"]["ranges"] == [
        {"start": round(first["start"] * fps) + 1, "end": round(first["end"] * fps)}]      # 1-based frames
    assert pred[("captions__caption", "captions_0")]["value"]["text"] == [first["caption"]]

    def edit(result: list[dict]) -> list[dict]:
        for x in result:
            if x["id"] == "captions_1":                       # the span starts 1 s later, with a new caption
                x["value"]["ranges"][0]["start"] += int(fps)
                if x["from_name"] == "captions__caption":
                    x["value"]["text"] = ["Corrected by a person."]
        # the reviewer draws a new clip from frame 9 to 24 (1 s to 3 s)
        result.append({"id": "drawn1", "from_name": "clips", "to_name": "videos", "type": "timelinelabels",
                       "value": {"ranges": [{"start": int(fps) + 1, "end": 3 * int(fps)}], "timelinelabels": ["clips"]}})
        return result

    me = reviewer(ls, "dave")
    review(ls, task, me, "fixed", edit)
    review(ls, task2, me, "accept")
    r = cli("review", "pull", out, "--project", "longvideo")
    assert r.exit_code == 0, r.stderr + r.stdout
    reviews = {x["id"]: x for x in load_reviews(out).to_pylist()}
    assert reviews[rid2]["verdict"] == "accept" and json.loads(reviews[rid2]["corrected"]) == {}
    assert set(json.loads(reviews[rid]["corrected"])) == {"captions", "clips"}
    merged = {x["id"]: x for x in reviewed_table(out, "train").to_pylist()}[rid]
    old = row["captions"][1]
    assert merged["captions"][1] == {"start": pytest.approx(old["start"] + 1), "end": pytest.approx(old["end"]),
                                     "caption": "Corrected by a person."}
    assert merged["captions"][0] == row["captions"][0] and merged["captions"][2:] == row["captions"][2:]
    assert merged["clips"][:-1] == row["clips"]                                 # seconds, not frames
    assert merged["clips"][-1] == {"start": pytest.approx(1.0), "end": pytest.approx(3.0)}


# -- the server script -------------------------------------------------------------------------------

def test_server_script_prints_the_exports(tmp_path: Path) -> None:
    import os
    import re
    import shutil
    import signal
    import subprocess

    from label_studio_sdk import LabelStudio
    from servers.labelstudio import TEST_PASSWORD, migrated_template

    data = tmp_path / "ls"
    shutil.copytree(migrated_template(), data)               # an existing data dir: no migrations
    env = {**os.environ, "R1DATA_LABEL_STUDIO_PASSWORD": TEST_PASSWORD, "PYTHONUNBUFFERED": "1"}
    from tests.toyws import as_terminal_job

    proc = subprocess.Popen([sys.executable, "-m", "r1data.review.server", "--data-dir", str(data), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=as_terminal_job)
    try:
        lines = [proc.stdout.readline().strip() for _ in range(2)]   # type: ignore[union-attr]
        assert re.fullmatch(r"export LABEL_STUDIO_URL=http://127\.0\.0\.1:\d+", lines[0]), lines
        assert re.fullmatch(r"export LABEL_STUDIO_API_KEY=\S+", lines[1]), lines
        url, token = (line.split("=", 1)[1] for line in lines)
        assert isinstance(LabelStudio(base_url=url, api_key=token).projects.list().items, list)   # the token works
    finally:
        proc.send_signal(signal.SIGINT)                      # the script stops its server on Ctrl-C
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
