"""The engine on a small workspace corpus: shards, rejects, resume, workers, errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from r1data import build, open_corpus
from r1data.errors import SpecError, UsageError

SCHEMA = """\
name: toy
fields:
  id: string
  text: {type: string, role: question}
  value: float32
  label: int32
  tags: list<string>
  note: {type: string, required: false}
"""

PLUGIN = '''\
from r1data.steps import Reject, step

@step("toy_faults")
def toy_faults(rows, ctx, *, every: int = 0):
    """Reject every `every`-th row and break the type of another (a bad record)."""
    for row in rows:
        n = int(row["id"].split("-")[1])
        if every and n % every == 0:
            yield Reject(row, "unlucky", f"row {n} is a multiple of {every}")
        elif every and n % every == 1:
            yield {**row, "label": "not a number"}
        else:
            yield row
'''


def spec_text(**over: object) -> str:
    spec = {
        "name": "toy", "description": "Toy corpus for engine tests.", "schema": "toy", "seed": 7,
        "size": 400, "source": "syn", "sources": {"syn": {"reader": "synthetic"}},
        "output": {"shard_size_mb": 0.02, "batch_size": 25},
        "steps": [{"step": "toy_faults", "every": 0}, {"step": "dedup", "key": ["text"]},
                  {"step": "split", "by": "id", "ratios": {"train": 0.75, "test": 0.25}}],
    }
    spec.update(over)
    return yaml.safe_dump(spec, sort_keys=False)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "pipelines").mkdir(parents=True)
    (root / "schemas").mkdir()
    (root / "plugins").mkdir()
    (root / "schemas" / "toy.yaml").write_text(SCHEMA)
    (root / "plugins" / "toy_plugin.py").write_text(PLUGIN)
    (root / "pipelines" / "toy.yaml").write_text(spec_text())
    return root


def rows_of(out: Path) -> dict[str, list[dict]]:
    c = open_corpus(out)
    return {s: c.table(s).to_pylist() for s in c.splits}


def test_build_writes_shards_manifest_and_splits(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build("toy", out, workspace=ws, progress=False)
    m = result.manifest
    assert m["rows"] == 400
    assert set(m["splits"]) == {"train", "test"}
    assert sum(s["rows"] for s in m["splits"].values()) == 400
    shards = sorted(p.name for p in (out / "data").glob("*.arrow"))
    n_train = len(m["splits"]["train"]["shards"])
    assert n_train > 1, "a 20 KB shard target must roll over"
    assert f"train-00000-of-{n_train:05d}.arrow" in shards
    assert not list((out / "data").glob(".*tmp")), "no temporary files left"
    # every shard is a valid Arrow IPC file with the declared schema and its checksum
    assert open_corpus(out).verify_checksums() == []
    with pa.memory_map(str(out / m["splits"]["train"]["shards"][0]["file"])) as f:
        schema = pa.ipc.open_file(f).schema
    assert schema.field("tags").type == pa.list_(pa.string())
    assert b"huggingface" in schema.metadata
    assert m["spec_hash"] and m["seed"] == 7 and m["r1data_version"]


def test_same_seed_same_rows_other_seed_other_split(ws: Path, tmp_path: Path) -> None:
    a = build("toy", tmp_path / "a", workspace=ws, progress=False).manifest
    b = build("toy", tmp_path / "b", workspace=ws, progress=False).manifest
    c = build("toy", tmp_path / "c", workspace=ws, progress=False, seed=8).manifest
    assert [s["sha256"] for s in a["splits"]["train"]["shards"]] == \
           [s["sha256"] for s in b["splits"]["train"]["shards"]]
    assert a["splits"]["train"]["rows"] != c["splits"]["train"]["rows"] or \
        rows_of(tmp_path / "a") != rows_of(tmp_path / "c")


def test_rejects_hold_every_dropped_record_with_step_and_reason(ws: Path, tmp_path: Path) -> None:
    (ws / "pipelines" / "toy.yaml").write_text(spec_text(steps=[
        {"step": "toy_faults", "every": 10}, {"step": "split", "by": "id"}]))
    out = tmp_path / "out"
    m = build("toy", out, workspace=ws, progress=False).manifest
    rejects = open_corpus(out).rejects().to_pylist()
    by = {(r["step"], r["reason"]) for r in rejects}
    assert ("toy_faults", "unlucky") in by
    assert ("write", "schema") in by, "a row whose type is wrong is rejected at write, not a crash"
    assert m["rows"] == 400, "rejected rows do not count toward --size"
    assert m["rejects"]["rows"] == len(rejects)
    kept_ids = {r["id"] for rows in rows_of(out).values() for r in rows}
    assert not kept_ids & {r["id"] for r in rejects}
    sample = next(r for r in rejects if r["reason"] == "unlucky")
    assert json.loads(sample["record"])["id"] == sample["id"]
    assert sample["source_index"] is not None


def test_overwrite_of_a_fresh_folder_and_of_an_unfinished_build(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert build("toy", out, workspace=ws, progress=False, overwrite=True).manifest["rows"] == 400
    (out / ".r1data").mkdir()
    (out / ".r1data" / "checkpoint.json").write_text('{"spec_hash": "other"}')
    (out / "manifest.json").unlink()
    with pytest.raises(UsageError, match="unfinished build of another spec"):
        build("toy", out, workspace=ws, progress=False)
    assert build("toy", out, workspace=ws, progress=False, overwrite=True).manifest["rows"] == 400


def test_workers_give_identical_output(ws: Path, tmp_path: Path) -> None:
    a = build("toy", tmp_path / "a", workspace=ws, progress=False).manifest
    b = build("toy", tmp_path / "b", workspace=ws, progress=False, workers=2).manifest
    assert a["splits"] == b["splits"]


def test_rerun_of_finished_build_is_a_no_op_and_other_spec_is_refused(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build("toy", out, workspace=ws, progress=False)
    again = build("toy", out, workspace=ws, progress=False)
    assert again.already_complete
    with pytest.raises(UsageError, match="--overwrite"):
        build("toy", out, workspace=ws, progress=False, size=50)
    fresh = build("toy", out, workspace=ws, progress=False, size=50, overwrite=True)
    assert fresh.manifest["rows"] == 50


def test_kill_and_resume_gives_the_rows_of_an_uninterrupted_build(ws: Path, tmp_path: Path) -> None:
    # a slow-ish build with many small shards, so checkpoints happen before the kill
    (ws / "pipelines" / "toy.yaml").write_text(spec_text(size=30000, output={"shard_size_mb": 0.05, "batch_size": 50},
                                                          steps=[{"step": "toy_faults", "every": 97},
                                                                 {"step": "dedup", "key": ["text"]},
                                                                 {"step": "split", "by": "id"}]))
    full = tmp_path / "full"
    build("toy", full, workspace=ws, progress=False)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "r1data", "build", "toy", "-o", str(out), "--workspace", str(ws), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        done = list((out / "data").glob("train-*.arrow")) if (out / "data").exists() else []
        if len(done) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists(), "the build must have been killed mid-way"
    ckpt = json.loads((out / ".r1data" / "checkpoint.json").read_text())
    assert ckpt["cursor"] > 0
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout
    a, b = json.loads((full / "manifest.json").read_text()), json.loads((out / "manifest.json").read_text())
    assert a["splits"] == b["splits"], "same shards, byte for byte"
    assert a["rejects"]["shards"] == b["rejects"]["shards"]
    assert a["steps"] == b["steps"]
    assert rows_of(full) == rows_of(out)


def test_datasets_loads_the_shards_with_declared_features(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build("toy", out, workspace=ws, progress=False)
    import datasets

    ds = datasets.load_dataset("arrow", data_files={"train": [str(p) for p in open_corpus(out).files("train")]},
                               cache_dir=str(tmp_path / "hf"))
    assert ds["train"].features["tags"] == datasets.List(datasets.Value("string"))
    assert ds["train"].features["value"] == datasets.Value("float32")
    assert ds["train"].num_rows == open_corpus(out).manifest["splits"]["train"]["rows"]


# -- bad specs: file, key, what was expected, exit code 2 --------------------------------------

def _set(path: list, value: object):  # type: ignore[no-untyped-def]
    def mutate(spec: dict) -> dict:
        node = spec
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return spec
    return mutate


@pytest.mark.parametrize("mutation, expected", [
    (_set(["seed"], "seven"), r"toy\.yaml:4: seed: expected an integer, got 'seven'"),
    (_set(["steps", 1, "step"], "dedupe"),
     r"toy\.yaml:\d+: steps\[1\]\.step: unknown step 'dedupe'; did you mean 'dedup'\?"),
    (_set(["steps", 1, "nonsense"], 1), r"toy\.yaml:\d+: steps\[1\]\.nonsense: unknown key"),
    (_set(["steps", 2, "ratios"], "half"), r"steps\[2\]\.ratios: expected a mapping"),
    (_set(["sources", "syn", "reader"], "synthetik"),
     r"toy\.yaml:\d+: sources\.syn\.reader: unknown source 'synthetik'"),
    (_set(["schema"], "nope"), r"toy\.yaml:3: schema: a schema in schemas/"),
    (_set(["source"], "other"), r"source: expected one of the names under 'sources' \(syn\)"),
    (_set(["output", "shard_size_mb"], -1), r"output\.shard_size_mb: expected a value greater than 0"),
])
def test_bad_spec_names_file_key_and_expectation(ws: Path, cli, mutation, expected) -> None:  # type: ignore[no-untyped-def]
    import re

    spec_path = ws / "pipelines" / "toy.yaml"
    spec_path.write_text(yaml.safe_dump(mutation(yaml.safe_load(spec_path.read_text())), sort_keys=False))
    result = cli("build", "toy", "--workspace", ws, "-o", ws / "out", "--no-progress")
    assert result.exit_code == 2
    assert re.search(expected, result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_yaml_names_the_line(ws: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (ws / "pipelines" / "toy.yaml").write_text("name: toy\nschema: [toy\nseed: 1\n")
    result = cli("validate", "toy", "--workspace", ws)
    assert result.exit_code == 2
    assert "toy.yaml:" in result.stderr and "valid YAML" in result.stderr


def test_bad_schema_names_file_line_and_key(ws: Path) -> None:
    (ws / "schemas" / "toy.yaml").write_text(SCHEMA.replace("tags: list<string>", "tags: list<strin>"))
    from r1data.assets import Assets
    from r1data.spec import load_spec

    with pytest.raises(SpecError) as err:
        load_spec("toy", Assets.from_workspace(ws))
    assert "toy.yaml:7: fields.tags: expected a type: unknown type 'strin'" in str(err.value)


def test_workspace_overrides_a_shipped_spec(ws: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    listed = cli("list", "--workspace", ws)
    assert listed.exit_code == 0
    assert "toy" in listed.stdout and "scene30k" in listed.stdout
    # a workspace spec named like a shipped one replaces it
    (ws / "pipelines" / "scene30k.yaml").write_text(spec_text(name="scene30k", size=10))
    result = cli("build", "scene30k", "--workspace", ws, "-o", tmp_path / "o", "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert open_corpus(tmp_path / "o").manifest["rows"] == 10


def test_query_and_inspect(ws: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (ws / "pipelines" / "toy.yaml").write_text(spec_text(steps=[{"step": "toy_faults", "every": 10},
                                                                {"step": "split", "by": "id"}]))
    out = tmp_path / "out"
    assert cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress").exit_code == 0
    q = cli("query", out, "SELECT split, count(*) AS n FROM data GROUP BY split", "--format", "json")
    assert q.exit_code == 0
    assert [json.loads(line) for line in q.stdout.splitlines()] == [{"split": "train", "n": 400}]
    r = cli("query", out, "SELECT reason, count(*) AS n FROM rejects GROUP BY reason ORDER BY reason", "--format", "csv")
    assert r.stdout.splitlines()[0] == "reason,n" and "unlucky" in r.stdout
    bad = cli("query", out, "SELECT nope FROM data")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: SQL error")
    shown = cli("inspect", out)
    assert "rows: 400" in shown.stdout and "unlucky" in shown.stdout and "sample rows" in shown.stdout


def test_inspect_of_an_unfinished_build_says_how_to_finish(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "o" / ".r1data").mkdir(parents=True)
    (tmp_path / "o" / ".r1data" / "checkpoint.json").write_text("{}")
    result = cli("inspect", tmp_path / "o")
    assert result.exit_code == 2 and "rerun the same `r1data build`" in result.stderr


def _peak_rss_mb(ws: Path, out: Path, size: int) -> float:
    code = ("import resource, sys; from r1data import build; "
            f"build('toy', {str(out)!r}, workspace={str(ws)!r}, size={size}, progress=False); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_memory_stays_flat_as_size_grows(ws: Path, tmp_path: Path) -> None:
    (ws / "pipelines" / "toy.yaml").write_text(spec_text(output={"shard_size_mb": 4, "batch_size": 500},
                                                          steps=[{"step": "split", "by": "id"}]))
    small = _peak_rss_mb(ws, tmp_path / "small", 20_000)
    large = _peak_rss_mb(ws, tmp_path / "large", 200_000)
    assert large < small * 1.15 + 10, f"peak RSS {small:.0f} MB at 20k rows, {large:.0f} MB at 200k rows"


def test_a_build_that_keeps_no_row_fails_and_says_why(ws: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    # a small finite source read to its end: the build completes, with nothing kept
    (ws / "pipelines" / "toy.yaml").write_text(spec_text(size=10, sources={"syn": {"reader": "synthetic", "count": 40}},
                                                          steps=[{"step": "toy_faults", "every": 1}]))
    out = tmp_path / "none"
    result = cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress")
    assert result.exit_code == 1
    assert "no row survived" in result.stderr and "toy_faults/unlucky" in result.stderr
    assert open_corpus(out).manifest["rows"] == 0          # the build itself is complete and inspectable
    assert open_corpus(out).rejects().num_rows > 0
    again = cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress")
    assert again.exit_code == 1 and "no row survived" in again.stderr, "a 0-row build never exits 0, even rerun"


@pytest.mark.parametrize("corpus, module, extra", [("xiangqi", "pyffish", "xiangqi"),     # the source's import
                                                   ("longvideo", "ffmpeg", "video")])     # a step's import
def test_a_missing_extra_is_one_line_naming_what_to_install(corpus, module, extra, cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            monkeypatch) -> None:
    """A light install (`pip install r1data`) building a corpus whose extra is missing: not a
    traceback, and not every record rejected as bad: one line that says what to install."""
    monkeypatch.setitem(sys.modules, module, None)        # import of it fails as if not installed
    r = cli("build", corpus, "--size", "4", "-o", tmp_path / "out", "--no-progress")
    assert r.exit_code == 2, r.stderr
    assert f"pip install 'r1data[{extra}]'" in r.stderr and module in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
