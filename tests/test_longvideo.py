"""longvideo end to end: build tiny corpora as a user would, load them, check what a user would notice."""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from r1data import open_corpus
from r1data.corpora.longvideo.questions import CATEGORIES, area
from r1data.corpora.longvideo.script import COLORS, REGIONS, Script

REPO = Path(__file__).resolve().parents[1]


def tiny_workspace(root: Path, *, frames_cached: int = 8, annotator: str | None = None) -> Path:
    """A workspace whose longvideo spec makes short, small videos (the shipped one makes 3-minute ones)."""
    spec = yaml.safe_load((REPO / "pipelines/longvideo.yaml").read_text())
    spec["sources"]["procedural"].update(duration=30, objects=[3, 4])
    spec["output"]["batch_size"] = 2
    for s in spec["steps"]:
        if s["step"] == "render_procedural_video":
            s.update(width=96, height=72, fps=4)
        if s["step"] == "cut_clips":
            s.update(frames_per_clip=2)
        if s["step"] == "cache_frames":
            s.update(frames=frames_cached, height=36)
    ws = root / "ws"
    (ws / "pipelines").mkdir(parents=True)
    (ws / "pipelines" / "longvideo.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return ws


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    import contextlib
    import io

    from r1data.cli import main

    root = tmp_path_factory.mktemp("lv")
    ws = tiny_workspace(root)
    out = root / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["build", "longvideo", "--workspace", str(ws), "--size", "24", "-o", str(out), "--no-progress"])
    assert code == 0
    return out, buf.getvalue()


def test_builds_offline_with_the_released_columns(built: tuple[Path, str], tmp_path: Path) -> None:
    out, summary = built
    assert "built longvideo: 24 rows kept" in summary
    ds = open_corpus(out).to_datasets(cache_dir=str(tmp_path / "hf"))
    rows = [r for split in ds.values() for r in split]
    assert len(rows) == 24
    for r in rows:
        assert r["data_type"] == "video" and r["problem_type"] in CATEGORIES
        assert re.fullmatch(r"<answer>[ABCD]</answer>", r["answer"])
        lines = r["problem"].splitlines()
        assert lines[0] == r["question"] and lines[1:] == [f"{k}. {o}" for k, o in zip("ABCD", r["options"])]
        assert len(set(r["options"])) == 4
        assert not re.search(r"\d:\d\d|caption", r["reasoning"], re.I)
        assert r["reasoning"].endswith(f"the answer is {r['answer'][8]}.")
        assert re.match(r"##### From \d:\d\d:\d\d to \d:\d\d:\d\d:\n- ", r["timestamped_reasons"])
    assert len({r["problem_id"] for r in rows}) == 24
    assert Counter(r["problem_type"] for r in rows) == {c: 6 for c in CATEGORIES}


def test_answer_letters_are_balanced_across_the_corpus(built: tuple[Path, str]) -> None:
    out, _ = built
    corpus = open_corpus(out)
    letters = Counter(r["answer"][8] for r in corpus.table().to_pylist())
    assert letters == {"A": 6, "B": 6, "C": 6, "D": 6}
    assert corpus.manifest["counters"]["answer_A"] == 6


def test_videos_decode_and_show_what_the_log_says(built: tuple[Path, str]) -> None:
    """Each video is a real mp4 that decord reads; at rest, each object's colour is where the log puts it."""
    import decord

    out, _ = built
    rows = {r["video_id"]: r for r in open_corpus(out).table().to_pylist()}
    assert len(rows) == 6
    for vid, r in list(rows.items())[:3]:
        vr = decord.VideoReader(str(out / r["videos"]))
        assert re.fullmatch(rf"videos/{vid}-[0-9a-f]{{8}}\.mp4", r["videos"]) and abs(len(vr) / vr.get_avg_fps() - r["video_duration"]) < 0.5
        script = Script.from_json(r["event_log"])
        checked = 0
        for e in script.events:
            t = e.end + 0.5
            for o in script.objects:
                region = script.region_at(o.id, t)
                pos = script.position(o.id, t)
                if region is None or pos is None:
                    continue
                frame = vr[min(len(vr) - 1, int(t * vr.get_avg_fps()))].asnumpy().astype(int)
                y, x = int(pos[1] * frame.shape[0]), int(pos[0] * frame.shape[1])
                assert np.abs(frame[y, x] - COLORS[o.color]).max() < 60, (vid, o, t)
                cx, cy = REGIONS[region]
                assert abs(pos[0] - cx) < 1 / 6 and abs(pos[1] - cy) < 1 / 6
                checked += 1
        assert checked >= 5


def test_goal_answers_follow_from_the_event_log(built: tuple[Path, str]) -> None:
    out, _ = built
    for r in open_corpus(out).table().to_pylist():
        if r["problem_type"] != "goal":
            continue
        script = Script.from_json(r["event_log"])
        pusher, pushed = re.fullmatch(r"Why did (the \w+ \w+) go over to (the \w+ \w+)\?", r["question"]).groups()
        push = next(e for e in script.events if e.kind == "push" and script.obj(e.obj).name == pusher
                    and script.obj(e.other).name == pushed)
        letter = r["answer"][8]
        assert r["options"]["ABCD".index(letter)] == f"To push {pushed} to the {area(push.region)}"


def test_clips_captions_and_frame_cache(built: tuple[Path, str]) -> None:
    out, _ = built
    r = open_corpus(out).table().to_pylist()[0]
    assert [c["start"] for c in r["clips"]] == [10.0 * i for i in range(len(r["clips"]))]
    assert r["clips"][-1]["end"] == pytest.approx(r["video_duration"], abs=0.01)
    assert [(c["start"], c["end"]) for c in r["captions"]] == [(c["start"], c["end"]) for c in r["clips"]]
    assert "enters from the" in r["captions"][0]["caption"]
    frames = np.load(out / r["frame_cache"])
    assert frames.shape == (8, 36, 48, 3) and frames.dtype == np.uint8 and frames.max() > 100


def test_rewards_score_the_built_answers(built: tuple[Path, str]) -> None:
    from r1data.rewards.longvideo import total

    out, _ = built
    rows = open_corpus(out).table().to_pylist()[:4]
    good = [f"<think>{r['reasoning']}</think><answer>{r['answer'][8]}</answer>" for r in rows]
    wrong = [f"<think>x</think><answer>{'B' if r['answer'][8] == 'A' else 'A'}</answer>" for r in rows]
    assert total(completions=good, answer=[r["answer"] for r in rows]) == pytest.approx([1.0] * 4)
    assert total(completions=wrong, answer=[r["answer"] for r in rows]) == pytest.approx([0.1] * 4)
    spec = yaml.safe_load((REPO / "pipelines/longvideo.yaml").read_text())
    import r1data.rewards as rewards

    assert all(entry["reward"] in rewards.names() for entry in spec["rewards"])


def test_any_folder_of_videos_with_bad_files_rejected_by_reason(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from r1data.corpora.longvideo.render import write_procedural_folder

    folder = tmp_path / "videos"
    paths = write_procedural_folder(folder, 3, seed=3, duration=40, width=96, height=72, fps=4)
    (folder / "proc0002.events.json").unlink()            # a video with no log: measured from frames
    data = paths[0].read_bytes()
    (folder / "cut.mp4").write_bytes(data[: len(data) // 3])
    (folder / "empty.mkv").write_bytes(b"")
    (folder / "junk.webm").write_bytes(os.urandom(2000))
    av1 = subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                          "testsrc=duration=2:size=64x64:rate=8", "-c:v", "libsvtav1", "-preset", "12",
                          str(folder / "av1.mp4")], capture_output=True)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(paths[1]), "-c", "copy",
                    str(folder / "remux.mkv")], check=True)   # the same H.264 stream in Matroska
    ws = tiny_workspace(tmp_path, frames_cached=0)
    out = tmp_path / "out"
    result = cli("build", "longvideo", "--workspace", ws, "--source", "folder", "--source-dir", folder,
                 "-o", out, "--size", "12", "--no-progress")
    assert result.exit_code == 0, result.stderr
    corpus = open_corpus(out)
    reasons = {r["id"]: r["reason"] for r in corpus.rejects().to_pylist() if r["step"] == "probe_video"}
    expected = {"cut": "truncated_video", "empty": "zero_length", "junk": "corrupt_video"}
    if av1.returncode == 0:
        expected["av1"] = "unsupported_codec"
    assert reasons == expected
    rows = corpus.table().to_pylist()
    assert {r["video_id"] for r in rows} >= {"proc0000", "proc0001", "proc0002"}
    assert "remux" not in {r["id"] for r in corpus.rejects().to_pylist()}
    assert all(r["videos"] == str(folder / f"{r['video_id']}.mp4") for r in rows if r["video_id"] != "remux")
    no_log = [r for r in rows if r["video_id"] == "proc0002"]
    assert [r["problem_type"] for r in no_log] == ["temporal"]
    assert no_log[0]["question"] == "During which part of the video is there the most motion?"
    assert "most motion" in no_log[0]["reasoning"] and no_log[0]["event_log"] is None


def test_missing_folder_is_a_one_line_usage_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("build", "longvideo", "--source", "folder", "--source-dir", tmp_path / "nope", "-o", tmp_path / "o")
    assert result.exit_code == 2
    assert "no such folder or list file" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_list_of_videos_is_a_source_too(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """`--source-dir LIST.txt`: the listed videos in the list's order; unreadable entries rejected."""
    from r1data.corpora.longvideo.render import write_procedural_folder

    folder = tmp_path / "videos"
    paths = write_procedural_folder(folder, 3, seed=5, duration=40, width=96, height=72, fps=4)
    (folder / "dir.mp4").mkdir()
    (folder / "gone.mp4").symlink_to(folder / "missing.mp4")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# two of the three, one absolute\nvideos/{paths[2].name}\n{paths[0]}\n\n"
                       "videos/dir.mp4\nvideos/gone.mp4\n")
    ws = tiny_workspace(tmp_path, frames_cached=0)
    out = tmp_path / "out"
    result = cli("build", "longvideo", "--workspace", ws, "--source", "folder", "--source-dir", listing,
                 "-o", out, "--size", "12", "--no-progress")
    assert result.exit_code == 0, result.stderr
    corpus = open_corpus(out)
    assert {r["videos"] for r in corpus.table().to_pylist()} == {str(paths[2]), str(paths[0])}   # not paths[1]
    rejects = {r["id"]: (r["reason"], r["detail"]) for r in corpus.rejects().to_pylist() if r["step"] == "probe_video"}
    assert [v[0] for v in rejects.values()] == ["unreadable_path", "unreadable_path"]
    details = " ".join(v[1] for v in rejects.values())
    assert "is a directory" in details and "broken link" in details


def test_letter_balancing_resumes_exactly(tmp_path: Path) -> None:
    """A build resumed from the balancer's checkpoint permutes the same rows as one that ran through."""
    from r1data.corpora.longvideo.qa_format import parse_qa
    from r1data.corpora.longvideo.qa_steps import BalanceAnswerLetters
    from r1data.steps.base import StepContext
    from tests.test_longvideo_parser import GOOD

    def rows(a: int, b: int) -> list[dict]:
        return [{"id": f"q{i}", "qa": parse_qa(GOOD.replace("ANSWER: A", f"ANSWER: {'ABCD'[i % 3]}"))}
                for i in range(a, b)]

    ctx = StepContext(seed=1, corpus="longvideo", step="balance_answer_letters")
    whole = [r["qa"].answer for r in BalanceAnswerLetters(ctx)(rows(0, 40))]
    first = BalanceAnswerLetters(ctx)
    head = [r["qa"].answer for r in first(rows(0, 17))]
    info = first.save_state(tmp_path)
    again = BalanceAnswerLetters(ctx)
    again.load_state(tmp_path, info)
    assert head + [r["qa"].answer for r in again(rows(17, 40))] == whole
    assert Counter(whole) == {"A": 10, "B": 10, "C": 10, "D": 10}


def test_clip_files_cut_by_ffmpeg_at_the_clip_boundaries(built: tuple[Path, str], tmp_path: Path) -> None:
    import decord

    from r1data.corpora.longvideo.video import clip_spans, write_clips

    out, _ = built
    r = open_corpus(out).table().to_pylist()[0]
    files = write_clips(out / r["videos"], tmp_path / "clips", 10)
    spans = clip_spans(r["video_duration"], 10, min_last=0.0)
    assert len(files) == len(spans)
    for f, (start, end) in zip(files, spans):
        vr = decord.VideoReader(str(f))
        assert abs(len(vr) / vr.get_avg_fps() - (end - start)) <= 0.5


def test_renders_with_imageio_ffmpeg_when_no_system_ffmpeg(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Without ffmpeg on PATH the bundled imageio-ffmpeg binary encodes; decord reads the result."""
    import shutil

    from r1data.corpora.longvideo import render
    from r1data.corpora.longvideo.script import make_script
    from r1data.corpora.longvideo.video import probe_video

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    assert "imageio_ffmpeg" in render.ffmpeg_exe()
    script = make_script(np.random.default_rng(5), "solo", 10, 3)
    path = render.render_video(script, tmp_path / "solo.mp4", width=64, height=48, fps=4)
    info = probe_video(path)
    assert (info.width, info.height, info.fps) == (64, 48, 4.0)
    assert abs(info.duration - script.duration) < 0.3
    assert not list(tmp_path.glob(".*part*"))
