"""The kill -9 fault suite: builds, and resumes of builds, killed at random moments end equal to
the uninterrupted build, byte for byte; and nothing of a killed build keeps running.

Random moments come from a seeded generator (the seed is in the test id), so a failure can be
replayed. Every corpus builds into a workspace copy with small shards, so that kills land
between many checkpoints; one more test kills resumes at the moment they take up a large open
shard (the window in which an older engine destroyed the build).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from r1data.procs import alive, descendants
from tests.toyws import REPO, as_terminal_job, digest, make_ws, r1data_cmd, run

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def shipped_ws(root: Path, corpus: str, shard_size_mb: float) -> Path:
    """A workspace holding a shipped spec with smaller shards (same steps, same rows)."""
    (root / "pipelines").mkdir(parents=True, exist_ok=True)
    text = (REPO / "pipelines" / f"{corpus}.yaml").read_text()
    text = re.sub(r"shard_size_mb: [0-9.]+", f"shard_size_mb: {shard_size_mb}", text)
    (root / "pipelines" / f"{corpus}.yaml").write_text(text)
    return root


def kill_at(cmd: list[str], delay: float) -> tuple[int | None, str]:
    """Run ``cmd``; SIGKILL it after ``delay`` seconds unless it ended. (returncode, stderr)"""
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(delay)
    except subprocess.TimeoutExpired:
        kids = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _wait_gone(kids, 15)
        return None, ""
    return proc.returncode, proc.stderr.read() if proc.stderr else ""


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left


CASES = [
    # corpus, extra args, workers, kills, (min, max) seconds before a kill, seed
    ("toy", ("--size", "1500"), 1, 4, (0.3, 2.0), 11),
    ("toy", ("--size", "1500"), 2, 3, (0.6, 2.5), 12),
    ("scene30k", ("--size", "300"), 1, 3, (0.5, 4.0), 14),
    ("scene30k", ("--size", "300"), 2, 2, (0.8, 5.0), 15),
    ("vqa_verify", ("--size", "100"), 1, 2, (1.0, 5.0), 16),
    ("trance", ("--size", "24"), 2, 2, (2.0, 6.0), 17),
    ("got", ("--size", "120"), 2, 2, (1.5, 5.0), 18),
]


@pytest.mark.slow
@pytest.mark.parametrize("corpus, args, workers, kills, window, seed", CASES,
                         ids=[f"{c[0]}-w{c[2]}-seed{c[5]}" for c in CASES])
def test_random_kills_of_builds_and_resumes_end_equal_to_the_uninterrupted_build(
        corpus, args, workers, kills, window, seed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if corpus == "toy":
        ws = make_ws(tmp_path / "ws", steps=[{"step": "toy_slow", "seconds": 0.01},
                                             {"step": "toy_keep_every", "every": 3},
                                             {"step": "dedup", "key": ["text"]},
                                             {"step": "split", "by": "id", "ratios": {"train": 0.8, "test": 0.2}}])
        name = "toy"
    else:
        ws = shipped_ws(tmp_path / "ws", corpus, 0.25)
        name = corpus
    base = ["build", name, "--workspace", ws, "--no-progress", "--workers", workers, *args]
    full = tmp_path / "full"
    r = run(*base, "-o", full)
    assert r.returncode == 0, r.stderr
    expected = digest(full)

    out = tmp_path / "killed"
    cmd = r1data_cmd(*base, "-o", out)
    rng = random.Random(seed)
    finished_early = 0
    for _ in range(kills):
        code, err = kill_at(cmd, rng.uniform(*window))
        if code is not None:          # it ended before the kill: a finished build, nothing to resume
            assert code == 0, err
            finished_early += 1
            break
    r = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert digest(out) == expected, "a killed and resumed build must equal the uninterrupted one, byte for byte"
    assert not list(out.rglob("*.tmp")) and not (out / ".r1data").exists()


@pytest.mark.slow
def test_a_resume_killed_while_it_reads_back_a_large_open_shard_can_still_be_resumed(tmp_path: Path) -> None:
    """The regression of issue 25: a resume reopened the open shard for writing (truncating it)
    and wrote its checkpointed part again; a kill in that window lost the build for good."""
    ws = make_ws(tmp_path / "ws", output={"shard_size_mb": 256, "batch_size": 200},
                 sources={"syn": {"reader": "synthetic", "text_words": 400}},
                 steps=[{"step": "toy_slow", "seconds": 0.2}, {"step": "split", "by": "id"}])
    base = ["build", "toy", "--workspace", ws, "--no-progress", "--size", "8000"]
    full = tmp_path / "full"
    assert run(*base, "-o", full).returncode == 0
    out = tmp_path / "out"
    cmd = r1data_cmd(*base, "-o", out)
    # a first build killed once its open shard holds a few MB (checkpointed every few seconds)
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = out / ".r1data" / "checkpoint.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists() and '"bytes": ' in ckpt.read_text() and _open_bytes(ckpt) > 2_000_000:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the build ended before the kill"
    proc.kill()
    proc.wait()
    before = _open_bytes(ckpt)
    shard = next((out / "data").glob(".train-*.arrow.tmp"))
    # resumes killed while they take the open shard up again: at the moment its file changes (an
    # older engine truncated it there, to write it again), or a little later, mid-replay
    for extra in (0.0, 0.1):
        proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stat = shard.stat()
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            now = shard.stat() if shard.exists() else None
            if now is None or (now.st_size, now.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                time.sleep(extra)
                break
            time.sleep(0.001)
        proc.kill()
        proc.wait()
        assert _open_bytes(ckpt) >= before
    r = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert digest(out) == digest(full)


def _open_bytes(ckpt: Path) -> int:
    import json

    try:
        state = json.loads(ckpt.read_text())
    except (OSError, ValueError):
        return 0
    return sum((s.get("open") or {}).get("bytes", 0) for s in state.get("series", {}).values())


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_and_the_resource_tracker_exit_when_the_build_is_killed(workers: int, tmp_path: Path) -> None:
    ws = make_ws(tmp_path / "ws", size=100000, steps=[{"step": "toy_slow", "seconds": 0.2},
                                                      {"step": "split", "by": "id"}])
    cmd = r1data_cmd("build", "toy", "--workspace", ws, "--no-progress", "--workers", workers, "-o", tmp_path / "o")
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    kids: list[int] = []
    while time.monotonic() < deadline:
        kids = descendants(proc.pid)
        if len(kids) >= workers + 1 and (tmp_path / "o" / "data").exists():   # workers + resource tracker, working
            break
        time.sleep(0.1)
    assert len(kids) >= workers + 1, f"expected {workers} workers and the resource tracker, found {kids}"
    proc.kill()
    proc.wait()
    left = _wait_gone(kids, 10)
    assert not left, f"processes left running after the build was killed: {left}"


@pytest.mark.slow
def test_ctrl_c_during_worker_start_up_is_one_line_and_leaves_no_process(tmp_path: Path) -> None:
    ws = make_ws(tmp_path / "ws", size=100000, steps=[{"step": "toy_slow", "seconds": 0.2},
                                                      {"step": "split", "by": "id"}])
    cmd = r1data_cmd("build", "toy", "--workspace", ws, "--workers", "3", "-o", tmp_path / "o")
    # its own process group, as a terminal's foreground job: Ctrl-C goes to every process in it
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=as_terminal_job)
    deadline = time.monotonic() + 60
    kids: list[int] = []
    while time.monotonic() < deadline and not kids:
        kids = descendants(proc.pid)
        time.sleep(0.01)
    assert kids, "no worker started"
    time.sleep(0.2)                       # the workers are importing (start-up takes about a second)
    kids = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("build toy")]
    assert lines == ["interrupted; rerun the same command to resume"], err
    assert not _wait_gone(kids, 10)
    assert (tmp_path / "o" / ".r1data" / "checkpoint.json").exists(), "the same command resumes it"
