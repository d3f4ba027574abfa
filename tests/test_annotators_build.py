"""scene30k built with API annotators (local stand-in servers) as a user would: same rows as
the programmatic build, faults survived, nothing paid twice, the key nowhere, a budget kept."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from r1data import open_corpus
from tests.servers import SERVERS

KEY = "sk-r1data-build-test-91c2e4-SECRET"
SIZE = 48
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def programmatic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The offline build, and what its annotator wrote for each question (kept or rejected)."""
    from r1data.cli import main

    out = tmp_path_factory.mktemp("prog") / "out"
    assert main(["build", "scene30k", "--size", str(SIZE), "-o", str(out), "--no-progress"]) == 0
    # the answers of a larger build, for the tests that build more rows
    big = tmp_path_factory.mktemp("prog") / "big"
    assert main(["build", "scene30k", "--size", str(3 * SIZE), "-o", str(big), "--no-progress"]) == 0
    corpus = open_corpus(big)
    answers = {}
    for row in corpus.table("train").to_pylist() + _all_splits(corpus):
        answers[(row["scene_id"], row["question"].strip(), (row["situation"] or "").strip())] = row["cot"]
    for rec in corpus.rejects().column("record").to_pylist():
        row = json.loads(rec)
        if row.get("cot"):
            answers.setdefault((row["scene_id"], row["question"].strip(), (row["situation"] or "").strip()),
                               row["cot"])
    return out, answers


def _all_splits(corpus) -> list[dict]:  # type: ignore[no-untyped-def]
    return [r for s in ("validation", "test") if s in corpus.manifest["splits"] for r in corpus.table(s).to_pylist()]


def model_of(answers: dict):  # type: ignore[no-untyped-def]
    """A server's ``respond``: the answer a perfect model would give, read off the prompt."""

    def respond(prompt: str, n_images: int) -> str:
        scene = re.search(r"## Scene ID\n(\S+)", prompt).group(1)  # type: ignore[union-attr]
        question = re.search(r"## Question\n(.*?)\n## Instructions", prompt, re.S).group(1)  # type: ignore[union-attr]
        situation = re.search(r"## Situation\n(.*?)\n", prompt)
        return answers.get((scene, question.strip(), situation.group(1).strip() if situation else ""),
                           "<think>I do not know.</think><answer>unknown</answer>")

    return respond


def profile_file(tmp_path: Path, server, **extra) -> Path:  # type: ignore[no-untyped-def]
    settings = {"provider": server.kind, "model": "stand-in", "base_url": server.url, "api_key_env": "R1DATA_BUILD_KEY",
                "max_concurrency": 16, "backoff_initial_s": 0.02, "backoff_max_s": 0.2, "timeout_s": 0.5,
                "max_retries": 8, "price_input_per_million": 1.0, "price_output_per_million": 4.0, **extra}
    path = tmp_path / f"{server.kind}-test.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("R1DATA_BUILD_KEY", KEY)
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def serve(kind: str, answers: dict, **kw):  # type: ignore[no-untyped-def]
    server = SERVERS[kind](respond=model_of(answers), timeout_s=1.0, **kw)
    server.kind = kind
    return server


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_api_build_gives_the_programmatic_rows_through_faults_and_pays_once(kind, programmatic, env, cli) -> None:  # type: ignore[no-untyped-def]
    prog_out, answers = programmatic
    # one call in six fails, cycling through what real services do
    cycle = ["429", "500", "timeout", "drop", "malformed", "503"]
    faults = lambda n, prompt: cycle[(n // 6) % len(cycle)] if n % 6 == 0 else None  # noqa: E731
    with serve(kind, answers, faults=faults) as server:
        profile = profile_file(env, server)
        out = env / "api"
        r = cli("build", "scene30k", "--size", SIZE, "-o", out, "--annotator", profile, "--no-progress")
        assert r.exit_code == 0, r.stderr
        assert "API calls" in r.stdout
        calls = server.calls
        assert server.faults_served and calls > len(server.faults_served)

        prog, api = open_corpus(prog_out), open_corpus(out)
        assert api.manifest["rows"] == prog.manifest["rows"] == SIZE
        assert api.table("train").column("cot").to_pylist() == prog.table("train").column("cot").to_pylist()
        assert "annotate" not in api.manifest["rejects"]["by_step"]    # every fault was retried away
        usage = next(s for s in api.manifest["steps"] if s["step"] == "annotate")["usage"]
        assert usage["api_calls"] == calls and usage["tokens_in"] > 0 and usage["cost_usd"] > 0
        assert api.manifest["annotator"] == str(profile)

        # a second build (another folder) makes no call: every answer comes from the cache
        r = cli("build", "scene30k", "--size", SIZE, "-o", env / "again", "--annotator", profile, "--no-progress")
        assert r.exit_code == 0 and server.calls == calls
        again = open_corpus(env / "again")
        assert again.table("train").column("cot").to_pylist() == api.table("train").column("cot").to_pylist()
        usage = next(s for s in again.manifest["steps"] if s["step"] == "annotate")["usage"]
        assert usage["api_calls"] == 0 and usage["cost_usd"] == 0 and usage["cache_hits"] > 0

        # the key was sent (the server saw it) but is written nowhere
        assert any(KEY in s.auth for s in server.seen)
        for path in [*env.rglob("*")]:
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path
        assert KEY not in r.stdout + r.stderr


@pytest.mark.slow
def test_max_cost_stops_cleanly_and_a_rerun_continues_without_paying_twice(programmatic, env, cli) -> None:  # type: ignore[no-untyped-def]
    _, answers = programmatic
    with serve("openai", answers) as server:
        # about 1,500 tokens in per call at $100 per million: 15 cents a call, $10 a batch of 64
        profile = profile_file(env, server, price_input_per_million=100.0)
        out = env / "budget"
        size = 3 * SIZE                                            # three batches
        r = cli("build", "scene30k", "--size", size, "-o", out, "--annotator", profile, "--max-cost", "5",
                "--no-progress")
        assert r.exit_code == 3 and "--max-cost $5.00 reached" in r.stderr and "rerun" in r.stderr
        assert not (out / "manifest.json").exists()
        ckpt = json.loads((out / ".r1data" / "checkpoint.json").read_text())
        assert 0 < ckpt["kept"] < size
        spent = sum(v for k, v in ckpt["stats"]["counters"].items() if k.startswith("cost_usd"))
        assert 5 <= spent < 30                                     # stopped soon after the limit
        calls = server.calls

        r = cli("build", "scene30k", "--size", size, "-o", out, "--annotator", profile, "--max-cost", "1000",
                "--no-progress")
        assert r.exit_code == 0, r.stderr
        assert open_corpus(out).manifest["rows"] == size
        prompts = [s.prompt for s in server.seen]
        assert len(prompts) == len(set(prompts)) and server.calls > calls   # nothing asked twice


@pytest.mark.slow
def test_workers_share_the_cache_and_give_the_same_rows(programmatic, env, cli) -> None:  # type: ignore[no-untyped-def]
    prog_out, answers = programmatic
    with serve("openai", answers) as server:
        profile = profile_file(env, server)
        r = cli("build", "scene30k", "--size", SIZE, "-o", env / "w2", "--annotator", profile, "--workers", "2",
                "--no-progress")
        assert r.exit_code == 0, r.stderr
        api = open_corpus(env / "w2")
        assert api.table("train").column("cot").to_pylist() == \
            open_corpus(prog_out).table("train").column("cot").to_pylist()
        prompts = [s.prompt for s in server.seen]
        assert len(prompts) == len(set(prompts))


@pytest.mark.slow
def test_killed_api_build_resumes_without_asking_anything_twice(programmatic, env) -> None:
    _, answers = programmatic
    with serve("openai", answers, latency_s=0.05) as server:
        profile = profile_file(env, server, max_concurrency=4)
        out = env / "killed"
        cmd = [sys.executable, "-m", "r1data", "build", "scene30k", "--size", "96", "-o", str(out),
               "--annotator", str(profile), "--no-progress"]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while server.answered < 100 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the build ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert open_corpus(out).manifest["rows"] == 96
        prompts = [s.prompt for s in server.seen]
        # only the calls in flight at the kill (at most max_concurrency) were asked again
        assert len(prompts) - len(set(prompts)) <= 4
        assert KEY not in done.stderr + done.stdout


def _usage(out: Path) -> dict:
    return next(s for s in open_corpus(out).manifest["steps"] if s["step"] == "annotate")["usage"]


def test_refresh_asks_the_api_again_where_a_plain_rebuild_asks_nothing(programmatic, env, cli) -> None:  # type: ignore[no-untyped-def]
    _, answers = programmatic
    with serve("openai", answers) as server:
        profile = profile_file(env, server)
        args = ("build", "scene30k", "--size", SIZE, "--annotator", profile, "--no-progress")
        assert cli(*args, "-o", env / "first").exit_code == 0
        first_calls = server.calls
        assert first_calls >= SIZE

        server.reset_counts()                      # a new folder, no --refresh: all from the cache
        r = cli(*args, "-o", env / "cached")
        assert r.exit_code == 0, r.stderr
        assert server.calls == 0 and _usage(env / "cached")["api_calls"] == 0

        server.reset_counts()                      # a new folder with --refresh: every request again
        r = cli(*args, "-o", env / "refreshed", "--refresh")
        assert r.exit_code == 0, r.stderr
        assert server.calls == first_calls
        usage = _usage(env / "refreshed")
        assert usage["api_calls"] == first_calls and usage["cache_hits"] == 0 and usage["cost_usd"] > 0
        assert open_corpus(env / "refreshed").table("train").column("cot").to_pylist() == \
            open_corpus(env / "first").table("train").column("cot").to_pylist()
