"""`--executor ray`: the same spec on a local Ray cluster gives the local build's shards, and a
killed driver resumes like a local build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
sys.path.insert(0, str(Path(__file__).parent))
from conftest import REPO, run_r1data  # noqa: E402

pytestmark = pytest.mark.slow

RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def xiangqi_workspace(root: Path) -> Path:
    """The shipped xiangqi spec with a tiny engine budget and short games."""
    import yaml

    spec = yaml.safe_load((REPO / "pipelines" / "xiangqi.yaml").read_text())
    steps = {s["step"]: s for s in spec["steps"]}
    steps["xiangqi_selfplay"].update(max_plies=30, levels=[{"name": "strong", "nodes": 300, "weight": 1}])
    steps["xiangqi_evaluate"]["nodes"] = 300
    (root / "pipelines").mkdir(parents=True)
    (root / "pipelines" / "xiangqi.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


@pytest.mark.parametrize("corpus,size", [("scene30k", 60),
                                         pytest.param("xiangqi", 60, marks=pytest.mark.engine)])
def test_ray_build_equals_local_build(corpus, size, tmp_path):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    ws = ["--workspace", xiangqi_workspace(tmp_path / "ws")] if corpus == "xiangqi" else []
    r = run_r1data("build", corpus, "--size", size, "-o", local, "--no-progress", *ws)
    assert r.returncode == 0, r.stderr
    r = run_r1data("build", corpus, "--size", size, "-o", on_ray, "--no-progress", *ws,
                   "--executor", "ray", "--workers", "2", env=RAY_ENV)
    assert r.returncode == 0, r.stderr
    a, b = manifest(local), manifest(on_ray)
    assert a["rows"] == b["rows"] == size
    assert a["splits"] == b["splits"]               # same shards, byte for byte (checksums)
    assert a["rejects"]["shards"] == b["rejects"]["shards"]
    assert a["steps"] == b["steps"]


def test_killed_ray_driver_resumes_to_the_local_rows(tmp_path):
    ws = tmp_path / "ws"
    (ws / "pipelines").mkdir(parents=True)
    spec = (REPO / "pipelines" / "scene30k.yaml").read_text()
    spec = spec.replace("shard_size_mb: 256", "shard_size_mb: 0.3")   # many small shards
    (ws / "pipelines" / "scene30k.yaml").write_text(spec)
    args = ["build", "scene30k", "--size", "900", "--workspace", ws, "--no-progress"]

    full = tmp_path / "full"
    assert run_r1data(*args, "-o", full).returncode == 0
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "r1data", *map(str, args), "-o", str(out), "--executor", "ray", "--workers", "2"]
    env = {**os.environ, **RAY_ENV}
    # its own session, so killing the group also kills the local Ray cluster it started
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        done = list((out / "data").glob("train-*.arrow")) if (out / "data").exists() else []
        if len(done) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists(), "the driver must have been killed mid-way"
    assert json.loads((out / ".r1data" / "checkpoint.json").read_text())["cursor"] > 0

    resumed = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout
    a, b = manifest(full), manifest(out)
    assert a["splits"] == b["splits"]
    assert a["rejects"]["shards"] == b["rejects"]["shards"]
