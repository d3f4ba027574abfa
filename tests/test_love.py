"""love (LOVE-R1): the zoom-in corpus built from procedural videos and from CG-Bench's release, the
released input protocol, and the per-step rewards of the decoupled GRPO.

Real builds (videos rendered by ffmpeg, read by decord), tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def tiny_workspace(root: Path, **procedural) -> Path:
    spec = yaml.safe_load((REPO / "pipelines" / "love.yaml").read_text())
    spec["sources"]["procedural"].update(duration=30, objects=[3, 4], **procedural)
    for s in spec["steps"]:
        if s["step"] == "render_procedural_video":
            s.update(width=96, height=72, fps=4)
    ws = root / "ws"
    (ws / "pipelines").mkdir(parents=True, exist_ok=True)
    (ws / "pipelines" / "love.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return ws


@pytest.fixture(scope="module")
def love_build(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    from r1data.engine.runner import build

    root = tmp_path_factory.mktemp("love")
    out = root / "love"
    build("love", out, size=12, progress=False, workspace=tiny_workspace(root))
    return out


def test_rows_hold_the_question_its_clues_and_both_cot_steps(love_build: Path) -> None:
    import r1data
    from r1data.corpora.love import protocol
    from r1data.rewards.love import ANSWER_PREFIX, ZOOM_PREFIX, iou_1d, parse_zoom

    corpus = r1data.open_corpus(love_build)
    rows = corpus.table("train").to_pylist()
    assert len(rows) == 12 and {r["task"] for r in rows} == {"multiple choice", "grounding"}
    for r in rows:
        assert (love_build / r["videos"]).is_file()
        assert r["problem_type"] == "multiple choice" and r["solution"] == f"<answer>{r['answer']}</answer>"
        assert r["options"][0].startswith("A. ") and len(r["options"]) == 4
        assert r["question_text"] == protocol.question_text(r["problem"], r["options"])
        assert r["question_text"].endswith("within \\boxed{[start_time, end_time]}.")
        # every clue lies in the video; grounding rows carry them as LOVE-R1's tgt, the others a null tgt
        assert r["clues"] and all(0 <= c["start"] < c["end"] <= r["duration"] for c in r["clues"])
        clues = [[c["start"], c["end"]] for c in r["clues"]]
        assert r["tgt"] == (clues if r["task"] == "grounding" else None)
        assert r["zoomin_intervals"] == []
        # the CoT: a valid zoom overlapping a clue, then the right letter after its clip
        assert r["has_cot"] and r["zoom_cot"].startswith(ZOOM_PREFIX) and r["answer_cot"].startswith(ANSWER_PREFIX)
        zoom = parse_zoom(r["zoom_cot"], r["duration"], [])
        assert zoom.kind == "zoom" and list(zoom.interval) == r["cot_zoom"]
        assert any(iou_1d(zoom.interval, c) > 0 for c in clues)
        assert r["answer_cot"].endswith(f"\\boxed{{{r['answer']}}}")
        assert f"{r['answer']}: " in r["answer_cot"]      # it names the right option
        # the frame plans are the released formulas'
        ids = protocol.fast_frame_ids(r["video_frames"], r["video_fps"])
        assert r["fast_frames"]["indices"] == ids == protocol.linspace_ids(0, r["video_frames"] - 1, int(r["duration"] * 2))
        assert r["fast_frames"]["seconds"] == [int(i / r["video_fps"]) for i in ids]
        (slow,) = r["slow_frames"]
        assert [slow["start"], slow["end"]] == r["cot_zoom"] and len(slow["indices"]) <= 16
        assert slow["height"] * slow["width"] == pytest.approx(256 * 28 * 28, rel=0.06)
        log = json.loads(r["event_log"])
        assert log["video_id"] == r["video_id"]


def test_the_answer_follows_from_the_event_log(love_build: Path) -> None:
    """Destination and edge questions: the option the answer names is what the log says."""
    import r1data
    from r1data.corpora.longvideo.questions import area
    from r1data.corpora.longvideo.script import Script

    rows = r1data.open_corpus(love_build).table("train").to_pylist()
    checked = 0
    for r in rows:
        script = Script.from_json(r["event_log"])
        answer_text = r["options"]["ABCD".index(r["answer"])][3:]
        if r["question_kind"] in ("entry_edge", "exit_edge"):
            kind = "enter" if r["question_kind"] == "entry_edge" else "leave"
            (event,) = [e for e in script.events if e.kind == kind and abs(e.start - r["clues"][0]["start"]) < 0.02]
            assert answer_text == f"The {event.edge} edge"
            checked += 1
        if r["question_kind"] == "destination":
            (event,) = [e for e in script.events if e.kind == "move" and abs(e.start - r["clues"][0]["start"]) < 0.02]
            assert answer_text == f"In the {area(event.region)}"
            checked += 1
    assert checked >= 3


@pytest.mark.slow
def test_rows_do_not_depend_on_workers_and_resume_is_exact(tmp_path: Path, love_build: Path) -> None:
    from r1data.engine.runner import build

    ws = tiny_workspace(tmp_path)
    out2 = tmp_path / "w2"
    build("love", out2, size=12, progress=False, workspace=ws, workers=2)
    for name in ("train-00000-of-00001.arrow",):
        assert (out2 / "data" / name).read_bytes() == (love_build / "data" / name).read_bytes()


def test_timestamps_are_red_at_the_bottom_right() -> None:
    from r1data.corpora.love import protocol

    frame = np.zeros((120, 160, 3), np.uint8)
    image = np.asarray(protocol.draw_timestamp(frame, 42))
    red = (image[..., 0] > 150) & (image[..., 1] < 80) & (image[..., 2] < 80)
    ys, xs = np.nonzero(red)
    assert len(ys) > 20
    assert xs.min() > 160 * 0.6 and ys.min() > 120 * 0.55      # bottom right only
    # resized to the budget: multiples of 28, about the pixels asked for
    (small,) = protocol.prepare_frames(frame[None], [3], 32 * 28 * 28)
    assert small.width % 28 == 0 and small.height % 28 == 0
    assert small.width * small.height == pytest.approx(32 * 28 * 28, rel=0.1)


def test_frame_plans_follow_the_released_formulas() -> None:
    from r1data.corpora.love import protocol

    # 10 minutes at 25 fps: min(int(600 * 2), 768) = 768 fast frames over the whole video
    ids = protocol.fast_frame_ids(15000, 25.0)
    assert len(ids) == 768 and ids[0] == 0 and ids[-1] == 14999
    # a 40 s video gets 80 frames and the doubled budget (under 60 s)
    assert len(protocol.fast_frame_ids(1000, 25.0)) == 80
    assert protocol.FramePlanConfig().fast_budget(40) == 2 * 32 * 28 * 28
    assert protocol.FramePlanConfig().fast_budget(300) == 32 * 28 * 28
    # a clip [100, 104]: min(int(4 * 2), 16) = 8 frames from int(100 * fps) to int(104 * fps)
    clip = protocol.slow_frame_ids(100, 104, 15000, 25.0, 16)
    assert len(clip) == 8 and clip[0] == 2500 and clip[-1] == 2600
    assert len(protocol.slow_frame_ids(100, 160, 15000, 25.0, 16)) == 16
    # SFT: short CoT intervals widen to 6 s around their middle; slow frames 32 / 24 / 16
    assert protocol.widen_for_sft([[10, 12]], 100) == [[8, 14]]
    assert [protocol.sft_slow_frames(n, protocol.FramePlanConfig.sft()) for n in (1, 2, 3)] == [32, 24, 16]
    assert protocol.full_video_text(125.7) == "Full video [0, 125]:"
    assert protocol.clip_text(3, 9) == "Subset zoom-in video clip [3, 9]:"


# -- the decoupled per-step rewards (r1data.rewards.love.decoupled) ---------------------------------

Z, A = "I need to zoom in on the video.\n\n", "I get the answer.\n\n"


@pytest.mark.parametrize("step1, step2, expected", [
    # a direct right answer: step 1 scores its letter; step 2 (the same prompt) is read leniently
    (A + "so \\boxed{B}", A + "\\boxed{B}", ((1, 1), (1, 1), False)),
    # a valid zoom: step 1's accuracy is the answer after the clip
    (Z + "\\boxed{[10, 20]}", "it is \\boxed{B}", ((1, 1), (1, 1), False)),
    (Z + "\\boxed{[10, 20]}", A + "\\boxed{C}", ((1, 0), (1, 0), False)),
    # an invalid zoom (longer than D/2 = 50): format 0 and accuracy 0, whatever step 2 says
    (Z + "\\boxed{[0, 80]}", A + "\\boxed{B}", ((0, 0), (1, 1), False)),
    # a second zoom masks the rollout: accuracies 0
    (Z + "\\boxed{[10, 20]}", Z + "\\boxed{[30, 40]}", ((1, 0), (1, 0), True)),
    # an answer without a box: format 0
    (A + "B", A + "\\boxed{B}", ((0, 0), (1, 1), False)),
    # no prefix: format 1, accuracy 0
    ("\\boxed{B}", A + "\\boxed{B}", ((1, 0), (1, 1), False)),
])
def test_decoupled_multiple_choice_rewards_replay_the_trainer(step1: str, step2: str, expected: tuple) -> None:
    from r1data.rewards.love import decoupled

    d = decoupled(step1, step2, 100.0, [], "<answer>B</answer>", None)
    assert (d.first, d.second, d.masked) == expected


def test_decoupled_grounding_rewards_and_the_clips_step_two_sees() -> None:
    from r1data.rewards.love import decoupled, step2_intervals

    tgt = [[40.0, 45.0]]
    # each step is a zoom scored by overlap with tgt; step 2 against the row's own zoomed intervals
    d = decoupled("...\\boxed{[38, 50]}", "\\boxed{[0, 10]}", 100.0, [[0, 9]], None, tgt)
    assert d.first == (1, 1) and d.second == (0, 0)       # [0, 10] has IoU 0.9 > 0.7 with [0, 9]: invalid
    assert step2_intervals("...\\boxed{[38, 50]}", 100.0, [[0, 9]], tgt) == [[0, 9]]
    # multiple choice: the valid zoom is appended (sorted); an invalid one leaves no clip at all
    assert step2_intervals(Z + "\\boxed{[50, 40]}", 100.0, [[60, 70]], None) == [[40, 50], [60, 70]]
    assert step2_intervals(Z + "\\boxed{[0, 99]}", 100.0, [[60, 70]], None) == []
    assert step2_intervals(A + "\\boxed{A}", 100.0, [[60.4, 70.6]], None) == [[60, 71]]


# -- CG-Bench, as released, and bad input --------------------------------------------------------------

def write_cgbench(root: Path, entries: list[dict], uids: list[str]) -> Path:
    from r1data.corpora.longvideo.render import render_video
    from r1data.corpora.longvideo.script import make_script
    from r1data.steps.base import record_rng

    videos = root / "cg_videos_720p"
    for i, uid in enumerate(uids):
        script = make_script(record_rng(1, "cg", i), uid, 20, 3)
        render_video(script, videos / f"{uid}.mp4", width=64, height=48, fps=4)
    (root / "cgbench.json").write_text(json.dumps(entries))
    return root


def cg(qid: int, uid: str, clues: list, **kw: object) -> dict:
    return {"qid": qid, "video_uid": uid, "question": f"What is on the table at question {qid}?",
            "choices": ["a cup", "a plate", "a knife", "a spoon"], "right_answer": "B", "clue_intervals": clues,
            "duration": 20.0, "domain": "Life", "sub_category": "Object Recognition", **kw}


def test_cgbench_questions_are_rl_rows_and_bad_entries_are_rejected_with_the_reason(tmp_path: Path, cli) -> None:
    import r1data

    root = write_cgbench(tmp_path / "CG-Bench", [
        cg(1, "vid_a", [[2.0, 5.5]]),
        cg(2, "vid_a", [[3.0, 4.0], [8.0, 9.5]]),
        cg(3, "vid_b", [[12.0, 95.0]]),                  # a clue interval past the end of a 22 s video
        cg(4, "vid_b", [[5.0, 2.0]]),                    # not an interval
        cg(5, "vid_b", [[1, 2]], right_answer="F"),      # no option F
        cg(6, "vid_b", [[1, 2]], choices="a cup"),       # choices not a list
        cg(7, "missing_video", [[1, 2]]),                # no such video
        "not an object",
    ], ["vid_a", "vid_b"])
    out = tmp_path / "out"
    ws = tiny_workspace(tmp_path)
    r = cli("build", "love", "--source", "cgbench", "--source-dir", root, "-o", out, "--size", "8", "--workspace", ws)
    assert r.exit_code == 0, r.stderr
    corpus = r1data.open_corpus(out)
    rows = [row for split in corpus.splits for row in corpus.table(split).to_pylist()]
    assert sorted(row["id"] for row in rows) == ["cgbench-1", "cgbench-2"]
    two = next(row for row in rows if row["id"] == "cgbench-2")
    assert [[c["start"], c["end"]] for c in two["clues"]] == [[3.0, 4.0], [8.0, 9.5]]
    assert two["answer"] == "B" and two["options"][1] == "B. a plate" and two["source"] == "cgbench"
    assert two["has_cot"] is False and two["zoom_cot"] == ""       # offline: an RL row; --annotator writes CoT
    assert two["question_text"].startswith("What is on the table at question 2?\nOptions:\nA. a cup\n")
    con = corpus.duckdb()
    got = {row[0]: (row[1], row[2]) for row in con.sql("SELECT id, reason, detail FROM rejects").fetchall()}
    assert got["cgbench-3"][0] == "clue_past_end" and "ends after the video's" in got["cgbench-3"][1]
    assert got["cgbench-4"][0] == "bad_clue"
    assert got["cgbench.json[4]"][0] == "bad_field" and "'right_answer'" in got["cgbench.json[4]"][1]
    assert got["cgbench.json[5]"][0] == "bad_field" and "'choices'" in got["cgbench.json[5]"][1]
    assert got["cgbench-7"][0] == "unreadable_path"
    assert got["cgbench.json[7]"][0] == "bad_json"
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(f.endswith("cgbench.json") for f in json.dumps(manifest.get("source_files", {})).split('"'))


def test_a_missing_release_file_is_one_line(tmp_path: Path, cli) -> None:
    (tmp_path / "CG").mkdir()
    (tmp_path / "CG" / "cgbench_mini.json").write_text("[]")
    r = cli("build", "love", "--source", "cgbench", "--source-dir", tmp_path / "CG", "-o", tmp_path / "o")
    assert r.exit_code == 2
    assert "no cgbench.json" in r.stderr and "annotations=NAME" in r.stderr and "cgbench_mini.json" in r.stderr


# -- hard RL rows by rollout pass rate (the rollout step, issue 16) ----------------------------------

def test_rollout_zooms_in_a_second_turn_and_keeps_rows_of_mixed_correctness(love_build, tmp_path, monkeypatch, cli) -> None:  # type: ignore[no-untyped-def]
    """LOVE-R1's hard examples: N samples a row; a sample that asks to zoom in is shown its clip and
    answers in a second turn; rows whose samples are right sometimes but not always are kept."""
    import re

    import r1data
    from r1data.rewards.love import ANSWER_PREFIX, ZOOM_PREFIX
    from tests.servers import OpenAIChatServer
    from tests.test_models_eval import profile_file

    monkeypatch.setenv("R1DATA_MODEL_KEY", "sk-love-rollout-test")
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    rows = {r["id"]: r for r in r1data.open_corpus(love_build).table("train").to_pylist()}
    first_turns: dict[str, int] = {}
    seen: list[tuple[str, int]] = []

    def respond(prompt: str, n_images: int) -> str:
        rid = re.search(r"Row (\S+):", prompt).group(1)  # type: ignore[union-attr]
        row = rows[rid]
        seen.append((prompt, n_images))
        if "Subset zoom-in video clip" in prompt:          # the second turn: the clip is there
            return f"{ANSWER_PREFIX}Now it is clear. \\boxed{{{row['answer']}}}"
        k = first_turns[rid] = first_turns.get(rid, 0) + 1
        if k % 2:                                          # half the samples zoom in on the clue
            s, e = row["cot_zoom"]
            return f"{ZOOM_PREFIX}I should look closer. \\boxed{{[{s}, {e}]}}"
        wrong = next(x for x in "ABCD" if x != row["answer"])
        return f"{ANSWER_PREFIX}I think \\boxed{{{wrong}}}"

    recipe = yaml.safe_load((REPO / "train" / "love.yaml").read_text())
    recipe["data"]["prompt"] = "Row {{ id }}: {{ question_text }}"
    recipe["data"]["zoom"].update(max_fast_frames=4, max_slow_frames=2)
    (tmp_path / "love.yaml").write_text(yaml.safe_dump(recipe))
    with OpenAIChatServer(respond=respond) as server:
        out = tmp_path / "hard"
        r = cli("rollout", love_build, "--model", profile_file(tmp_path, server), "--recipe", tmp_path / "love.yaml",
                "--samples", 4, "--keep-pass-rate", "0.01:0.99", "-o", out, "--no-progress")
        assert r.exit_code == 0, r.stderr
    mcq = [rid for rid, row in rows.items() if row["task"] == "multiple choice"]
    # four first turns a row; the two zooming samples of a multiple-choice row share one clip, asked twice
    assert server.calls == 4 * len(rows) + 2 * len(mcq)
    firsts = [(p, n) for p, n in seen if "Subset zoom-in" not in p]
    seconds = [(p, n) for p, n in seen if "Subset zoom-in" in p]
    for p, n in firsts:
        row = rows[re.search(r"Row (\S+):", p).group(1)]  # type: ignore[union-attr]
        assert p.startswith("You are a helpful assistant. The red numbers") and n == 4
        assert f"\nFull video [0, {int(row['duration'])}]:\nRow " in p
    assert len(seconds) == 2 * len(mcq) and all(n == 4 + 2 for _, n in seconds)   # fast frames + the clip's
    for p, _ in seconds:
        row = rows[re.search(r"Row (\S+):", p).group(1)]  # type: ignore[union-attr]
        assert "Subset zoom-in video clip [%d, %d]:" % tuple(row["cot_zoom"]) in p
    kept = r1data.open_corpus(out)
    got = {row["id"]: row for split in kept.splits for row in kept.table(split).to_pylist()}
    # multiple choice: right after zooming, wrong when answering directly; grounding: the zoom
    # overlaps a clue (right) or the answer is not a zoom (wrong). Every row: 2 of 4.
    assert set(got) == set(rows) and all(row["pass_rate"] == 0.5 for row in got.values())
    some = got[mcq[0]]
    assert sorted(some["rollout_rewards"]) == [0.0, 0.0, 1.0, 1.0]
    assert sum(c.startswith(ANSWER_PREFIX + "Now it is clear") for c in some["rollout_completions"]) == 2


def test_report_draws_the_clues_the_zoom_and_the_frames_the_model_sees(love_build: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    import r1data
    from r1data.registry import drawers
    from r1data.report import ANSWER, TARGET
    from r1data.report.panel import _rgb
    from r1data.report.view import RowView
    from r1data.schema import RecordSchema

    corpus = r1data.open_corpus(love_build)
    schema = RecordSchema.from_dict(corpus.manifest["schema"])
    row = corpus.table("train").to_pylist()[0]
    panels = drawers.get("love")(RowView(row, schema, corpus.path))
    line = np.asarray(panels[0].to_image())
    x = lambda t: int(960 * t / row["duration"])  # noqa: E731
    clue = row["clues"][0]
    near = lambda px, color: all(abs(int(a) - int(b)) < 60 for a, b in zip(px[:3], _rgb(color)))  # noqa: E731
    assert near(line[30, x((clue["start"] + clue["end"]) / 2)], ANSWER)          # the clue, red
    assert near(line[7, x(row["cot_zoom"][0]) + 1], TARGET)                       # the zoom's outline, yellow
    zoomed = [p for p in panels if p.title.startswith("zoom-in")]
    assert zoomed and len(panels) == 1 + 4 + len(zoomed)
    for panel in panels[1:]:                       # each frame carries its seconds in red, bottom right
        frame = np.asarray(panel.to_image()).astype(int)
        h, w = frame.shape[:2]
        corner = frame[int(h * 0.55):h - 6, int(w * 0.55):w - 6]                # inside a zoomed frame's border
        assert ((corner[..., 0] > 110) & (corner[..., 0] - np.maximum(corner[..., 1], corner[..., 2]) > 50)).sum() > 4
    r = cli("report", love_build, "-o", tmp_path / "love.html")
    assert r.exit_code == 0, r.stderr
    assert "Subset" not in r.stderr and (tmp_path / "love.html").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["love", "omni"])
def test_a_killed_build_resumes_to_the_uninterrupted_one(corpus: str, tmp_path: Path) -> None:
    """kill -9 at random moments, then rerun: the same shards, rejects and counts (issue 20: resumable)."""
    import random
    import subprocess

    from tests.test_fault_kills import ENV, kill_at
    from tests.test_omni import tiny_workspace as omni_workspace
    from tests.toyws import REPO as ROOT
    from tests.toyws import digest, r1data_cmd, run

    ws = tiny_workspace(tmp_path) if corpus == "love" else omni_workspace(tmp_path)
    spec = ws / "pipelines" / f"{corpus}.yaml"
    spec.write_text(spec.read_text().replace("batch_size: 4", "batch_size: 1"))
    base = ["build", corpus, "--workspace", ws, "--no-progress", "--size", "10"]
    r = run(*base, "-o", tmp_path / "full")
    assert r.returncode == 0, r.stderr
    cmd = r1data_cmd(*base, "-o", tmp_path / "killed")
    rng = random.Random(20)
    for _ in range(3):
        code, err = kill_at(cmd, rng.uniform(1.5, 5.0))
        if code is not None:
            assert code == 0, err
            break
    r = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    got, want = digest(tmp_path / "killed"), digest(tmp_path / "full")
    # a rejected record keeps its working fields, among them the video's absolute path under the
    # build folder ("killed" vs "full"): the rejects are compared by what they say, the rest whole
    for d in (got, want):
        d["rejects"] = {k: v for k, v in d["rejects"].items() if k != "shards"}
    assert got == want
    import r1data

    said = lambda out: sorted(r1data.open_corpus(out).duckdb().sql(  # noqa: E731
        "SELECT id, step, reason, detail FROM rejects").fetchall())
    assert said(tmp_path / "killed") == said(tmp_path / "full")


@pytest.mark.slow
def test_cot_steps_written_by_an_api_profile_are_kept_only_when_right(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``--annotator``: a stand-in OpenAI server (the real client, 127.0.0.1) captions the clips, writes the
    zoom step from the captions and the hint interval, and the answer step from 16 clue frames and the
    answer as a hint; the steps get LOVE-R1's prefixes and are cut after their first box; a zoom that
    misses the clues and a wrong letter are rejected, as LOVE-R1 filtered its CoT data."""
    import re

    import r1data
    from tests.servers import OpenAIChatServer

    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test")
    seen: dict[str, list[int]] = {"caption": [], "zoom": [], "answer": []}

    def respond(prompt: str, n_images: int) -> str:
        if prompt.startswith("Elaborate on the visual"):
            seen["caption"].append(n_images)
            return "A coloured shape moves across a dark frame."
        if "zoom in on a specific video segment" in prompt:
            seen["zoom"].append(n_images)
            s, e = (int(v) for v in re.search(r"Hint: the relevant video segment is \[(\d+), (\d+)\]", prompt).groups())
            if "entry_edge" in prompt or "come into" in prompt:          # misses the clue: rejected
                return "It happens at the very end. \\boxed{[%d, %d]}" % (max(0, s - 40), max(1, s - 38))
            return f"The question needs the moment it happens; the captions place it there. \\boxed{{[{s}, {e}]}} more"
        if "Hint: the answer is" in prompt:
            seen["answer"].append(n_images)
            letter = re.search(r"Hint: the answer is ([A-D])", prompt).group(1)
            if "leave the video" in prompt:                               # a wrong letter: rejected
                letter = "ABCD"[("ABCD".index(letter) + 1) % 4]
            return f"Watching the clip closely, the option that fits is {letter}. \\boxed{{{letter}}} trailing"
        raise AssertionError(prompt[:80])

    with OpenAIChatServer(respond=respond) as server:
        ws = tiny_workspace(tmp_path)
        (ws / "annotators").mkdir()
        (ws / "annotators" / "test-llm.yaml").write_text(
            f"provider: openai\nmodel: test-model\nbase_url: {server.url}\napi_key_env: TEST_LLM_KEY\n"
            "max_retries: 0\nparse_retries: 0\n")
        out = tmp_path / "out"
        r = cli("build", "love", "--workspace", ws, "--annotator", "test-llm", "--size", "6", "-o", out, "--no-progress")
    assert r.exit_code == 0, r.stderr
    corpus = r1data.open_corpus(out)
    rows = [row for s in corpus.splits for row in corpus.table(s).to_pylist()]
    assert rows and all(row["has_cot"] for row in rows)
    assert seen["caption"] and set(seen["caption"]) == {1} and set(seen["zoom"]) == {0}
    assert seen["answer"] and all(1 <= n <= 16 for n in seen["answer"])        # clue +-5 s, two a second at most
    for row in rows:
        assert row["zoom_cot"].startswith("I need to zoom in on the video.\n\nThe question needs")
        assert row["zoom_cot"].endswith("]}") and row["answer_cot"].endswith(f"\\boxed{{{row['answer']}}}")
        assert row["answer_cot"].startswith("I get the answer.\n\nWatching the clip")
    reasons = dict(corpus.duckdb().sql("SELECT reason, count(*) FROM rejects GROUP BY 1").fetchall())
    assert reasons.get("love_zoom_cot", 0) >= 1 and reasons.get("love_answer_cot", 0) >= 1, reasons
