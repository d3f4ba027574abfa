"""A small workspace corpus for the engine's fault and spending tests (``toy``): a synthetic
source, a few plugin steps that misbehave on purpose, and helpers to build and compare."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

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
import gzip, json, os, time
from r1data.steps import Reject, Source, source, step
from r1data.steps.checks import verifier


def _n(row):
    return int(row["id"].split("-")[1])


@step("toy_keep_every")
def toy_keep_every(rows, ctx, *, every: int = 1):
    """Keep one row in `every`; reject the others (a weak annotator, in effect)."""
    for row in rows:
        if _n(row) % every == 0:
            yield row
        else:
            yield Reject(row, "wrong_answer", f"row {_n(row)} answered wrong")


@step("toy_refuse_all")
def toy_refuse_all(rows, ctx):
    """A model that refuses everything."""
    for row in rows:
        yield Reject(row, "refused", "the model refused")


@step("toy_slow")
def toy_slow(rows, ctx, *, seconds: float = 0.0):
    """Sleep per batch (so that kills land at many moments of a build)."""
    time.sleep(seconds)
    return rows


@step("toy_drop")
def toy_drop(rows, ctx, *, every: int = 5):
    """A buggy step: drops rows without saying so."""
    return [r for r in rows if _n(r) % every]


@step("toy_twice")
def toy_twice(rows, ctx):
    """Two rows from each record, without declaring it."""
    for r in rows:
        yield r
        yield {**r, "id": r["id"] + "-b"}


@step("toy_twice_declared", expands=True)
def toy_twice_declared(rows, ctx):
    """Two rows from each record, declared."""
    for r in rows:
        yield r
        yield {**r, "id": r["id"] + "-b"}


@step("toy_surrogates")
def toy_surrogates(rows, ctx):
    """Lone surrogates (from a bad JSON escape, a non-UTF-8 file name) in kept and rejected rows."""
    for r in rows:
        n = _n(r)
        if n % 3 == 0:
            yield Reject({**r, "path": "video-\\udcff.mp4", "id": r["id"] + "\\ud800"}, "bad_file",
                         "cannot open video-\\udcff.mp4")
        elif n % 3 == 1:
            yield {**r, "text": "broken \\ud800 text"}
        else:
            yield r


@verifier("toy_raises")
def toy_raises(row):
    if _n(row) % 4 == 0:
        raise ZeroDivisionError("the verifier divided by zero")
    return True


@verifier("toy_hangs")
def toy_hangs(row):
    if _n(row) % 4 == 1:
        time.sleep(60)
    return True


@verifier("toy_forgets")
def toy_forgets(row):
    if _n(row) % 4 == 2:
        return None
    return True


@source("toy_gz")
class ToyGz(Source):
    """One JSON object per line of a .jsonl.gz file."""

    takes_dir = True

    def __init__(self, ctx, *, dir: str):
        self.dir = dir

    def read(self, start=0):
        with gzip.open(self.dir, "rt") as f:
            for i, line in enumerate(f):
                if i >= start:
                    yield {**json.loads(line)}
'''


def spec_text(**over: object) -> str:
    spec = {
        "name": "toy", "description": "Toy corpus for fault tests.", "schema": "toy", "seed": 7,
        "size": 400, "source": "syn", "sources": {"syn": {"reader": "synthetic"}},
        "output": {"shard_size_mb": 0.02, "batch_size": 25},
        "steps": [{"step": "dedup", "key": ["text"]},
                  {"step": "split", "by": "id", "ratios": {"train": 0.75, "test": 0.25}}],
    }
    spec.update(over)
    return yaml.safe_dump(spec, sort_keys=False)


def make_ws(root: Path, **over: object) -> Path:
    (root / "pipelines").mkdir(parents=True, exist_ok=True)
    (root / "schemas").mkdir(exist_ok=True)
    (root / "plugins").mkdir(exist_ok=True)
    (root / "schemas" / "toy.yaml").write_text(SCHEMA)
    (root / "plugins" / "toy_plugin.py").write_text(PLUGIN)
    (root / "pipelines" / "toy.yaml").write_text(spec_text(**over))
    return root


def r1data_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "r1data", *map(str, args)]


def run(*args: object, timeout: float = 300, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(r1data_cmd(*args), cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)


def digest(out: Path) -> dict:
    """What must equal between an uninterrupted build and a killed-and-resumed one."""
    m = json.loads((out / "manifest.json").read_text())
    return {"splits": m["splits"], "rejects": m["rejects"], "steps": m["steps"],
            "accounting": m["accounting"], "items_read": m["source"]["items_read"], "rows": m["rows"]}


def as_terminal_job() -> None:
    """``preexec_fn`` for a child that a test stops with Ctrl-C (SIGINT): Ctrl-C's default action, as
    in a terminal's foreground job. A shell without job control starts background commands with
    SIGINT ignored and children inherit that (Python then installs no KeyboardInterrupt handler), so
    a suite launched with ``cmd &`` or under some CI runners would otherwise see Ctrl-C do nothing."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
