"""Faults end in one clear line, r1data deletes only what it wrote, every record is accounted for.

Each case of issue 25 (and issue 17's accounting and verifier faults) as a regression test: the
exit code, the one line a user reads, and what is left on disk.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from r1data import open_corpus
from tests.toyws import digest, make_ws, run


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_ws(tmp_path / "ws")


def build(cli, ws: Path, out: Path, *args: object):  # type: ignore[no-untyped-def]
    return cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress", *args)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# -- --overwrite deletes only what r1data wrote -------------------------------------------------

def _users_folder(out: Path) -> dict[str, bytes]:
    files = {"data/mine.csv": b"a,b\n1,2\n", "data/deep/photo.jpg": b"\xff\xd8 not really a jpeg",
             "rejects/list.txt": b"keep me\n", ".r1data/notes": b"my notes\n",
             "manifest.json": b'{"my": "own manifest"}\n'}
    for name, data in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    return files


def test_overwrite_refuses_a_folder_that_is_not_an_r1data_build(ws: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "mine"
    files = _users_folder(out)
    for args in (("--overwrite",), ()):
        r = build(cli, ws, out, *args)
        assert r.exit_code == 2
        assert "manifest.json is not an r1data manifest" in one_line(r.stderr)
    (out / "manifest.json").unlink()
    del files["manifest.json"]
    r = build(cli, ws, out, "--overwrite")
    line = one_line(r.stderr)
    assert r.exit_code == 2 and "is not an r1data build" in line
    assert "data/" in line and ".r1data/notes" in line and "deletes only what it wrote" in line
    r = build(cli, ws, out)                      # without --overwrite: data/ and rejects/ are in the way
    assert r.exit_code == 2 and "not an r1data build" in one_line(r.stderr)
    for name, data in files.items():
        assert (out / name).read_bytes() == data, f"{name} was touched"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(files)


def test_overwrite_of_a_build_deletes_only_the_files_r1data_recorded(ws: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert build(cli, ws, out).exit_code == 0
    written = {p for p in out.rglob("*") if p.is_file()}
    (out / "data" / "mine.csv").write_text("a,b\n")
    (out / "notes.txt").write_text("mine\n")
    (out / "review").mkdir()
    (out / "review" / "tasks.json").write_text("[]")
    r = build(cli, ws, out, "--overwrite", "--size", "50")
    assert r.exit_code == 0, r.stderr
    assert "left what r1data did not write: data/mine.csv" in r.stdout
    assert (out / "data" / "mine.csv").read_text() == "a,b\n"
    assert (out / "notes.txt").exists() and (out / "review" / "tasks.json").exists()
    assert open_corpus(out).manifest["rows"] == 50
    now = {p for p in out.rglob("*") if p.is_file()}
    assert not {p for p in written - now if p.suffix not in (".arrow", ".json")}, "only shards and the manifest go"


def test_a_damaged_manifest_or_checkpoint_is_one_line(ws: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert build(cli, ws, out).exit_code == 0
    (out / "manifest.json").write_bytes(b'{"corpus": "toy", "spec_ha')          # cut short
    r = build(cli, ws, out)
    assert r.exit_code == 2 and "manifest.json is not an r1data manifest (not JSON" in one_line(r.stderr)
    for command in (("inspect", out), ("query", out, "SELECT 1")):
        r = cli(*command)
        assert r.exit_code == 2 and "is not an r1data manifest" in one_line(r.stderr)
    shutil.rmtree(out)
    (out / ".r1data").mkdir(parents=True)
    (out / ".r1data" / "checkpoint.json").write_bytes(b"\x00\x01garbage")
    r = build(cli, ws, out)
    assert r.exit_code == 2 and "checkpoint.json is damaged" in one_line(r.stderr) and "--overwrite" in r.stderr
    (out / ".r1data" / "checkpoint.json").write_text('{"spec_hash": "x"}')   # valid JSON, not ours
    r = build(cli, ws, out, "--overwrite")
    assert r.exit_code == 0, r.stderr


def test_a_checkpoint_with_wrong_fields_is_one_line(ws: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    r = build(cli, ws, out)
    assert r.exit_code == 0
    spec_hash = open_corpus(out).manifest["spec_hash"]
    shutil.rmtree(out)
    (out / ".r1data").mkdir(parents=True)
    (out / ".r1data" / "checkpoint.json").write_text(json.dumps({"spec_hash": spec_hash, "cursor": "many"}))
    r = build(cli, ws, out)
    assert r.exit_code == 2 and "checkpoint.json is damaged" in one_line(r.stderr)


def test_an_output_that_is_a_file_is_refused(ws: Path, tmp_path: Path) -> None:
    from r1data import build as api_build
    from r1data.errors import UsageError

    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        api_build("toy", tmp_path / "f", workspace=ws, progress=False)
    assert (tmp_path / "f").read_text() == "x"


def test_a_build_that_fails_at_once_leaves_nothing_behind(ws: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (ws / "pipelines" / "toy.yaml").write_text((ws / "pipelines" / "toy.yaml").read_text().replace(
        "reader: synthetic", "reader: toy_gz\n      dir: /nonexistent/file.jsonl.gz"))
    out = tmp_path / "out"
    r = build(cli, ws, out)
    assert r.exit_code != 0
    assert not out.exists(), "a folder r1data created for a build that never started is removed"


# -- faults of the machine and of input files -------------------------------------------------

def test_a_truncated_jsonl_gz_names_the_file_and_the_cause(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = make_ws(tmp_path / "ws", sources={"gz": {"reader": "toy_gz"}}, source="gz",
                 steps=[{"step": "split", "by": "id"}], size=None)
    path = tmp_path / "records.jsonl.gz"
    lines = "".join(json.dumps({"id": f"r-{i}", "text": f"text {i} " * 20, "value": 1.0, "label": i, "tags": []}) + "\n"
                    for i in range(3000))
    data = gzip.compress(lines.encode())
    path.write_bytes(data[: len(data) // 2])
    r = cli("build", "toy", "--workspace", ws, "--source-dir", path, "-o", tmp_path / "out", "--no-progress")
    line = one_line(r.stderr)
    assert r.exit_code == 1, r.stderr
    assert str(path) in line and "ends early" in line and "aborted" not in line


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-r", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt && echo ok"],
                           capture_output=True, text=True)
    return probe.stdout.strip() == "ok"


@pytest.mark.slow
@pytest.mark.skipif(not _unshare_works(), reason="needs unprivileged user+mount namespaces (unshare -r -m)")
def test_disk_full_is_one_line_and_the_build_resumes_once_there_is_space(tmp_path: Path) -> None:
    import os
    import sys

    from tests.toyws import REPO

    ws = make_ws(tmp_path / "ws", output={"shard_size_mb": 0.2, "batch_size": 50},
                 sources={"syn": {"reader": "synthetic", "text_words": 200}}, size=4000,
                 steps=[{"step": "dedup", "key": ["text"]}, {"step": "split", "by": "id"}])
    full = tmp_path / "full"
    assert run("build", "toy", "--workspace", ws, "-o", full, "--no-progress").returncode == 0
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    build = f"{sys.executable} -m r1data build toy --workspace {ws} -o {mnt}/out --no-progress"
    # inside a private mount namespace: a 3 MB disk that fills up, then room to finish
    script = (f"mount -t tmpfs -o size=3m tmpfs {mnt} && cd {REPO} && "
              f"{{ {build} 2> {tmp_path}/err1; echo $? > {tmp_path}/rc1; }}; "
              f"mount -o remount,size=64m {mnt} && "
              f"{{ {build} > /dev/null 2> {tmp_path}/err2; echo $? > {tmp_path}/rc2; }}; "
              f"cp {mnt}/out/manifest.json {tmp_path}/manifest.json")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(["unshare", "-r", "-m", "sh", "-c", script], env=env, timeout=600, check=False)
    err1 = (tmp_path / "err1").read_text()
    assert (tmp_path / "rc1").read_text().strip() == "1", err1
    line = one_line(err1)
    assert line.startswith("error: disk full") and "resumable" in line and "rerun the same command" in line
    assert (tmp_path / "rc2").read_text().strip() == "0", (tmp_path / "err2").read_text()
    resumed = json.loads((tmp_path / "manifest.json").read_text())
    assert resumed["splits"] == digest(full)["splits"], "the rows written before the disk filled up survive"


# -- the rejects table survives what records hold ----------------------------------------------

@pytest.mark.parametrize("workers", [1, 2])
def test_lone_surrogates_in_records_land_in_the_rejects_table(workers: int, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = make_ws(tmp_path / "ws", size=60, steps=[{"step": "toy_surrogates"}, {"step": "split", "by": "id"}])
    out = tmp_path / "out"
    r = cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress", "--workers", workers,
            "--max-read-multiple", "5")
    assert r.exit_code == 0, r.stderr
    rejects = open_corpus(out).rejects().to_pylist()
    bad_file = [x for x in rejects if x["reason"] == "bad_file"]
    schema = [x for x in rejects if x["step"] == "write" and x["reason"] == "schema"]
    assert bad_file and schema
    record = json.loads(bad_file[0]["record"])
    assert record["path"] == "video-\udcff.mp4", "the JSON escape gives the original string back"
    assert bad_file[0]["id"].endswith("\\ud800")
    assert json.loads(schema[0]["record"])["text"] == "broken \ud800 text"
    assert open_corpus(out).manifest["accounting"]["ok"]


# -- every record accounted for ------------------------------------------------------------------

def test_a_step_that_drops_records_silently_fails_the_build_loudly(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = make_ws(tmp_path / "ws", size=100, steps=[{"step": "toy_drop", "every": 5}, {"step": "split", "by": "id"}])
    out = tmp_path / "out"
    r = cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress")
    line = one_line(r.stderr)
    assert r.exit_code == 1
    assert "do not add up" in line and "step toy_drop" in line and "neither kept nor rejected" in line
    m = open_corpus(out).manifest
    assert m["accounting"]["ok"] is False and m["accounting"]["problems"]
    again = cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress")
    assert again.exit_code == 1 and "do not add up" in again.stderr, "rerunning does not make it pass"


def test_a_step_that_makes_rows_it_did_not_declare_fails_and_declared_expansion_is_counted(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = make_ws(tmp_path / "ws", size=100, steps=[{"step": "toy_twice"}, {"step": "split", "by": "id"}])
    r = cli("build", "toy", "--workspace", ws, "-o", tmp_path / "a", "--no-progress")
    assert r.exit_code == 1 and "rows more than it was given" in r.stderr and "expands=True" in r.stderr
    make_ws(tmp_path / "ws", size=100, steps=[{"step": "toy_twice_declared"}, {"step": "dedup", "key": ["id"]},
                                              {"step": "split", "by": "id"}])
    r = cli("build", "toy", "--workspace", ws, "-o", tmp_path / "b", "--no-progress")
    assert r.exit_code == 0, r.stderr
    m = open_corpus(tmp_path / "b").manifest
    acc = m["accounting"]
    assert acc["ok"] and not acc["problems"]
    stages = {s["stage"]: s for s in acc["stages"]}
    assert stages["toy_twice_declared"]["expanded"] == stages["toy_twice_declared"]["in"]
    assert stages["source"]["in"] == m["source"]["items_read"] == 50
    assert stages["write"]["out"] == 100 and stages["write"]["in"] == 100
    step = next(s for s in m["steps"] if s["step"] == "toy_twice_declared")
    assert step["in"] + step["expanded"] == step["out"] + step["rejected"]


def test_every_stage_of_a_shipped_corpus_adds_up(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("build", "scene30k", "--size", "40", "-o", tmp_path / "s", "--no-progress")
    assert r.exit_code == 0, r.stderr
    acc = open_corpus(tmp_path / "s").manifest["accounting"]
    assert acc["ok"], acc
    stages = {s["stage"]: s for s in acc["stages"]}
    assert stages["generate_questions"]["expanded"] > 0
    for s in acc["stages"][1:-1]:
        assert s["in"] + s.get("expanded", 0) - s.get("merged", 0) == s["out"] + s["rejected"], s


# -- a verifier that raises or hangs ------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 2])
def test_a_verifier_that_raises_or_hangs_rejects_the_record_and_the_build_goes_on(workers: int, tmp_path: Path,
                                                                                  cli) -> None:  # type: ignore[no-untyped-def]
    import time

    ws = make_ws(tmp_path / "ws", size=12, output={"shard_size_mb": 1, "batch_size": 8},
                 steps=[{"step": "verify", "verifiers": ["toy_raises", "toy_hangs", "toy_forgets"], "timeout_s": 0.3},
                        {"step": "split", "by": "id"}])
    t0 = time.monotonic()
    r = cli("build", "toy", "--workspace", ws, "-o", tmp_path / "out", "--no-progress", "--workers", workers,
            "--max-read-multiple", "10")
    assert r.exit_code == 0, r.stderr
    assert time.monotonic() - t0 < 60, "a hanging verifier must not hang the build"
    c = open_corpus(tmp_path / "out")
    by_reason: dict[str, list[dict]] = {}
    for x in c.rejects().to_pylist():
        by_reason.setdefault(x["reason"], []).append(x)
    assert "toy_raises: ZeroDivisionError: the verifier divided by zero" in by_reason["verifier_error"][0]["detail"]
    assert any("toy_forgets: returned NoneType" in x["detail"] for x in by_reason["verifier_error"])
    assert "toy_hangs: no result within 0.3 s" in by_reason["timeout"][0]["detail"]
    v = c.manifest["verifiers"]
    assert v["toy_raises"]["errors"] > 0 and v["toy_hangs"]["timeouts"] > 0
    # never a silent pass: the faulty runs are not counted as passed
    assert v["toy_raises"]["total"] + v["toy_raises"]["errors"] == c.manifest["steps"][0]["in"]
    assert c.manifest["rows"] == 12
