"""The gui corpus end to end with a real headless Chromium (Debian's, driven by Playwright).

Skipped where Playwright or Chromium is missing, unless R1DATA_REQUIRE_CHROMIUM=1 (CI sets it:
there these tests must run)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from r1data import open_corpus, rewards
from r1data.corpora.gui.prompts import system_prompt, user_message
from r1data.steps.base import Reject, StepContext

REPO = Path(__file__).resolve().parents[1]
SIZE = 40


def _need_chromium() -> None:
    required = os.environ.get("R1DATA_REQUIRE_CHROMIUM") == "1"
    try:
        import playwright  # noqa: F401
        from r1data.corpora.gui.browser import resolve_chromium

        resolve_chromium()
    except Exception as e:      # no playwright, no chromium
        if required:
            raise
        pytest.skip(f"needs playwright and chromium: {e}")


def _build(out: Path, size: int = SIZE, *extra: str) -> str:
    from r1data.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["build", "gui", "--size", str(size), "-o", str(out), "--no-progress", *extra])
    assert code == 0, buf.getvalue()
    return buf.getvalue()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    _need_chromium()
    out = tmp_path_factory.mktemp("gui") / "out"
    _build(out)
    corpus = open_corpus(out)
    return out, [r for s in corpus.splits for r in corpus.table(s).to_pylist()]


def test_the_prompts_are_the_evaluations() -> None:
    # sha256 of the system message android_control.py builds in thinking mode for a 1080x2400
    # screen (resized 1092x2408), computed from the released file (Reallm-Labs/InfiGUI-R1 d280ab8)
    text = system_prompt(1092, 2408)
    assert hashlib.sha256(text.encode()).hexdigest() == "40f66fc972f91f880e85cf259616c510ceb3a18667202148673401e380336488"
    assert "The screen's resolution is 1092x2408." in text
    tools = json.loads(text.split("<tools>\n")[1].split("\n</tools>")[0])
    assert tools["function"]["name"] == "mobile_use"
    assert user_message("Turn on Wi-Fi", None, ['{"action": "wait"}']) == (
        "The user query:  Turn on Wi-Fi\nTask progress (You have done the following operation on the current "
        'device): Step 1: {"action": "wait"}; ')


@pytest.mark.slow
def test_a_tiny_build_records_real_screens_and_actions(built: tuple[Path, list[dict]]) -> None:
    out, rows = built
    assert len(rows) == SIZE
    assert json.loads((out / "manifest.json").read_text())["rejects"]["rows"] == 0
    for r in rows:
        with Image.open(io.BytesIO(r["image"]["bytes"])) as im:
            assert im.size == (r["width"], r["height"])               # the device's pixels
        gt = json.loads(r["gt_action"])
        assert r["problem"] == user_message(r["goal"], r["step_instruction"] or None, r["history"])
        assert r["system"] == system_prompt(r["resized_width"], r["resized_height"])
        if gt["action"] in ("click", "long_press"):
            x, y = r["point"]
            assert any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in gt["candidate_bbox"])
        # the reference completion earns the full AndroidControl match and the format reward
        score = rewards.load("infigui.action")(completions=[r["solution"]], gt_action=[gt], width=[r["width"]],
                                               height=[r["height"]])
        assert score == [1.0] and "<step>" in r["solution"]
    tasks = {r["task"] for r in rows}
    assert {"low", "high", "grounding"} <= tasks
    clicks = [r for r in rows if r["task"] == "low" and r["action_type"] == "click" and not r["recovery"]]
    # the app reacted: the screen after a click is not the screen before it
    assert all(r["screen_after"]["bytes"] != r["image"]["bytes"] for r in clicks)


@pytest.mark.slow
def test_error_recovery_rows_follow_a_wrong_action(tmp_path: Path) -> None:
    _need_chromium()
    from r1data.corpora.gui.episodes import GuiApps, GuiEpisodes

    ctx = StepContext(seed=7, corpus="gui", step="gui_episodes")
    items = list(itertools.islice(GuiApps(StepContext(seed=7, corpus="gui", step="src")).read(0), 6))
    step = GuiEpisodes(ctx, recovery=1.0, launcher=1.0, levels=["low"], grounding=0)
    rows = [r for r in step(items) if not isinstance(r, Reject)]
    escapes = [r for r in rows if r["recovery"] == "escape"]
    assert escapes, "recovery=1.0 gives every episode with a click an error"
    for e in escapes:
        back = next(r for r in rows if r["recovery"] == "back_on_track" and r["episode_id"] == e["episode_id"])
        plain = next(r for r in rows if not r["recovery"] and r["episode_id"] == e["episode_id"] and r["step"] == e["step"])
        assert e["history"] == plain["history"] + [e["error_action"]]        # the wrong action, just taken
        assert back["history"] == e["history"] + [json.dumps(e["action"]) if isinstance(e["action"], dict)
                                                  else e["action"]]
        assert back["gt_action"] == plain["gt_action"]                        # then the right action
        assert e["recovery_kind"] in ("back", "close", "undo")
        if e["recovery_kind"] == "back":
            assert e["gt_action"] == {"action": "system_button", "button": "Back"}
        assert e["image"] != plain["image"]                                   # the error's screen
    opened = [r for r in rows if r["action_type"] == "open"]
    assert opened and all(r["gt_action"]["candidate_bbox"] for r in opened)   # the icon's box


@pytest.mark.slow
def test_same_rows_whatever_the_number_of_workers(tmp_path: Path) -> None:
    _need_chromium()
    _build(tmp_path / "w1", 24)
    _build(tmp_path / "w2", 24, "--workers", "2")
    for shard in sorted((tmp_path / "w1" / "data").iterdir()):
        assert shard.read_bytes() == (tmp_path / "w2" / "data" / shard.name).read_bytes(), shard.name


def _chromium_wrapper(tmp_path: Path) -> tuple[Path, Path]:
    """A chromium that records its pid (exec keeps it), to see whether it outlives the build."""
    from r1data.corpora.gui.browser import resolve_chromium

    pids = tmp_path / "pids"
    wrapper = tmp_path / "chromium"
    wrapper.write_text(f"#!/bin/sh\necho $$ >> {pids}\nexec {resolve_chromium()} \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper, pids


def _gone(pids: list[int], within: float = 10.0) -> bool:
    from r1data.procs import alive

    deadline = time.time() + within
    while time.time() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_the_browser_dies_with_the_build(tmp_path: Path) -> None:
    _need_chromium()
    wrapper, pids = _chromium_wrapper(tmp_path)
    env = {**os.environ, "R1DATA_CHROMIUM": str(wrapper), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "r1data", "build", "gui", "--size", "6", "-o", str(tmp_path / "a"),
                           "--workers", "2", "--no-progress"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    started = [int(p) for p in pids.read_text().split()]
    assert started and _gone(started), "chromium outlived a finished build"
    for workers in ("1", "2"):                  # the browser in the build's process, then in its workers
        pids.unlink()
        proc = subprocess.Popen([sys.executable, "-m", "r1data", "build", "gui", "--size", "400", "-o",
                                 str(tmp_path / f"b{workers}"), "--workers", workers, "--no-progress"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while (not pids.exists() or len(pids.read_text().split()) < int(workers)) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        proc.send_signal(signal.SIGKILL)                               # killed mid-build
        proc.wait(timeout=30)
        started = [int(p) for p in pids.read_text().split()]
        assert len(started) == int(workers) and _gone(started), f"chromium outlived a killed build (workers {workers})"


def test_bad_pages_and_apps_that_do_not_react_are_rejected_with_a_reason() -> None:
    _need_chromium()
    from r1data.corpora.gui.episodes import GuiEpisodes

    ctx = StepContext(seed=3, corpus="gui", step="gui_episodes")
    item = {"episode_id": "gui0000001", "app_kind": "settings", "device": "phone", "source": "procedural"}
    step = GuiEpisodes(ctx, recovery=0.0, launcher=0.0)
    real = step.plan

    def broken(html_edit):  # type: ignore[no-untyped-def]
        def plan(it):  # type: ignore[no-untyped-def]
            p = real(it)
            p.html = html_edit(p)
            return p
        return plan

    first = real(item).steps[0]            # settings: click a category row
    cases = {
        "render_failed": lambda p: p.html.replace("r1app.init(", "throw new Error('boom'); r1app.init("),
        "empty_box": lambda p: p.html.replace("</style>", f'[data-el="{first.target}"] {{ display: block; height: 0; '
                                                         "min-height: 0; padding: 0; overflow: hidden; border: 0 }</style>"),
        "no_effect": lambda p: p.html.replace(f'data-el="{first.target}"', f'data-el="{first.target}" data-nav-x'
                                              ).replace(f'data-nav="{real(item).app.elements[first.target].nav}"', ""),
        "app_error": lambda p: p.html.replace('document.addEventListener("click", function (e) {',
                                              'document.addEventListener("click", function (e) { throw new Error("bug");'),
    }
    for reason, edit in cases.items():
        step.plan = broken(edit)                # type: ignore[method-assign]
        out = list(step([dict(item)]))
        assert len(out) == 1 and isinstance(out[0], Reject), reason
        assert out[0].reason == reason, (reason, out[0].reason, out[0].detail)
    step.plan = real                            # type: ignore[method-assign]
    assert all(not isinstance(r, Reject) for r in step([dict(item)]))


def test_a_missing_chromium_is_a_one_line_error(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("playwright")
    monkeypatch.setenv("R1DATA_CHROMIUM", str(tmp_path / "no-chromium"))
    r = cli("build", "gui", "--size", "2", "-o", tmp_path / "out", "--no-progress")
    assert r.exit_code == 1
    assert "chromium not found" in r.stderr and "apt-get install chromium" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_review_push_draws_the_target_box_and_the_point(built: tuple[Path, list[dict]]) -> None:
    from r1data.review.convert import prediction_result
    from r1data.review.layout import config_controls
    from r1data.review.push import TaskBuilder, corpus_layout

    out, _ = built
    corpus = open_corpus(out)
    layout = corpus_layout(corpus)
    controls = config_controls(layout.label_config())
    assert {("Image", "image"), ("Image", "screen_after"), ("RectangleLabels", "target_box"),
            ("KeyPointLabels", "point"), ("TextArea", "solution"), ("TextArea", "gt_action")} <= controls
    assert layout.draw_on == "image"
    row = next(r for r in corpus.table("train").to_pylist() if r["point"] is not None and r["target_box"])
    size = TaskBuilder(layout, None, "v").image_size(row)  # type: ignore[arg-type]
    assert size == (row["width"], row["height"])
    result = {r["from_name"]: r["value"] for r in prediction_result(row, layout, size)}
    x1, y1, x2, y2 = row["target_box"]
    box = result["target_box"]
    assert box["x"] == pytest.approx(100 * x1 / row["width"]) and box["width"] == pytest.approx(100 * (x2 - x1) / row["width"])
    assert box["y"] == pytest.approx(100 * y1 / row["height"])
    assert result["point"]["x"] == pytest.approx(100 * row["point"][0] / row["width"])
    assert result["point"]["y"] == pytest.approx(100 * row["point"][1] / row["height"])


@pytest.mark.slow
def test_an_api_annotator_writes_the_reasoning_and_the_call_stays_the_ground_truth(
        tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _need_chromium()
    from r1data.parsing import tag_content
    from tests.servers import OpenAIChatServer

    seen: list[int] = []

    def model(prompt: str, n_images: int) -> str:
        seen.append(n_images)
        if "Tell " in prompt or "Text " in prompt:           # some tasks get a reply without a sub-goal
            return "<think>I would tap the chat.</think>"
        goal = prompt.split("Task of the user: ")[1].split("\n")[0]
        return f"<think>The screen shows the app. <step>Work towards: {goal}</step> I act now.</think>"

    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TEST_VLM_KEY", "sk-test")
    with OpenAIChatServer(respond=model) as server:
        profile = tmp_path / "vlm.yaml"
        profile.write_text(f"provider: openai\nmodel: test-vlm\nbase_url: {server.url}\napi_key_env: TEST_VLM_KEY\n"
                           "max_concurrency: 4\nmax_retries: 0\nparse_retries: 0\n")
        r = cli("build", "gui", "--size", "20", "-o", tmp_path / "out", "--annotator", profile, "--no-progress")
    assert r.exit_code == 0, r.stderr
    assert seen and all(n == 1 for n in seen)                          # the screenshot went along
    rows = [row for s in open_corpus(tmp_path / "out").splits for row in open_corpus(tmp_path / "out").table(s).to_pylist()]
    assert rows
    for row in rows:
        assert tag_content(tag_content(row["solution"], "think"), "step").startswith("Work towards: ")
        score = rewards.load("infigui.action")(completions=[row["solution"]], gt_action=[row["gt_action"]],
                                               width=[row["width"]], height=[row["height"]])
        assert score == [1.0]
    rejects = open_corpus(tmp_path / "out").rejects().to_pylist()
    assert all(rj["reason"] == "unparsable_reply" for rj in rejects)


@pytest.mark.slow
def test_eval_gui_reports_androidcontrol_numbers_per_level(built: tuple[Path, list[dict]], tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out, rows = built
    preds = tmp_path / "preds.jsonl"
    with preds.open("w") as f:
        for k, r in enumerate(rows):
            wrong = k % 2 == 1 and r["action_type"] == "click"            # every other click misses
            text = re.sub(r'"coordinate": \[\d+, \d+\]', '"coordinate": [0, 0]', r["solution"]) if wrong else r["solution"]
            f.write(json.dumps({"id": r["id"], "completion": text}) + "\n")
    r = cli("eval", "gui", "--data", out, "-p", preds, "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["scored"] == len(rows) and report["rewards"]["infigui.format"]["mean"] == 1.0
    m = report["metrics"]
    clicks = [k for k, row in enumerate(rows) if row["action_type"] == "click"]
    missed = sum(1 for k in clicks if k % 2 == 1)
    assert m["type_match_acc"] == 1.0 and m["errors"] == 0
    assert m["exact_match_acc"] == pytest.approx(1 - missed / len(rows))  # a click at (0, 0) never matches
    assert {"low_exact_match_acc", "high_exact_match_acc", "screenspot_acc"} <= set(m)
    assert report["rewards"]["infigui.subgoal"]["mean"] == 1.0            # the reference sub-goals
