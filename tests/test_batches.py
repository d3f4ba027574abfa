"""Batch mode (OpenAI's Batch API, Gemini's batch mode) in a build, as a user runs it: the real
openai and google-genai clients against stand-in servers on 127.0.0.1 that speak the files and
batches endpoints (tests/servers/batches.py). Half price, answers in the shared cache, expired
and failed items sent again alone, a kill -9 after submitting resumed by polling (never by
submitting again), --max-cost kept, the key written nowhere."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from r1data import open_corpus
from tests.servers import SERVERS
from tests.toyq import toyq_workspace

KEY = "sk-r1data-batch-test-0b6e27-SECRET"
REPO = Path(__file__).resolve().parents[1]
SIZE = 40

@pytest.fixture
def ws(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    """A workspace with a small corpus whose rows are annotated by an API profile."""
    monkeypatch.setenv("R1DATA_BATCH_KEY", KEY)
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    return toyq_workspace(tmp_path / "ws", size=SIZE)


def profile(tmp_path: Path, server, **extra) -> Path:  # type: ignore[no-untyped-def]
    settings = {"provider": server.kind, "model": "stand-in", "base_url": server.url, "api_key_env": "R1DATA_BATCH_KEY",
                "batch": True, "batch_poll_s": 0.05, "price_input_per_million": 2.0, "price_output_per_million": 8.0,
                "max_retries": 3, "backoff_initial_s": 0.02, "backoff_max_s": 0.1, **extra}
    path = tmp_path / f"{server.kind}-{'batch' if settings['batch'] else 'direct'}.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
    return path


def serve(kind: str, **kw):  # type: ignore[no-untyped-def]
    server = SERVERS[kind](**{"batch_latency_s": 0.05, **kw})
    server.kind = kind
    return server


def no_for(*ids: int):  # type: ignore[no-untyped-def]
    """A model that answers no about the given rows (the corpus's verifier rejects them)."""
    def respond(prompt: str, n_images: int) -> str:
        row = int(prompt.split("row syn-")[1][:9])
        return f"<think>I look at row {row}.</think><answer>{'no' if row in ids else 'yes'}</answer>"
    return respond


def usage(out: Path) -> dict:
    return next(s for s in open_corpus(out).manifest["steps"] if s["step"] == "annotate")["usage"]


def build(cli, ws: Path, out: Path, prof: Path, *more: str):  # type: ignore[no-untyped-def]
    return cli("build", "toyq", "-o", out, "--annotator", prof, "--workspace", ws, "--no-progress", *more)


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_a_batch_build_pays_half_and_a_later_direct_build_asks_nothing(kind, ws, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    with serve(kind, respond=no_for(3, 7)) as server:
        r = build(cli, ws, tmp_path / "batch", profile(tmp_path, server))
        assert r.exit_code == 0, r.stderr
        assert server.calls == 0 and server.batches_created >= 1        # no direct call at all
        u = usage(tmp_path / "batch")
        assert open_corpus(tmp_path / "batch").manifest["rows"] == SIZE
        assert u["batch_requests"] == sum(len(k) for k in server.batch_keys) and u["cache_hits"] >= SIZE
        # half the profile's prices (the default batch prices)
        assert u["cost_usd_batch"] == pytest.approx((u["tokens_in_batch"] * 1.0 + u["tokens_out_batch"] * 4.0) / 1e6)
        assert u["cost_usd"] == 0 and u["api_calls"] == 0
        assert "batch API:" in r.stdout
        rejects = open_corpus(tmp_path / "batch").rejects().to_pylist()
        assert sorted(rj["reason"] for rj in rejects) == ["answered_no", "answered_no"]   # no batch_pending left
        # the same requests through direct calls: every answer comes from the cache
        r = build(cli, ws, tmp_path / "direct", profile(tmp_path, server, batch=False))
        assert r.exit_code == 0, r.stderr
        assert server.calls == 0 and usage(tmp_path / "direct")["cache_hits"] >= SIZE
    assert open_corpus(tmp_path / "direct").table("train").to_pylist() == \
        open_corpus(tmp_path / "batch").table("train").to_pylist()
    _no_key_in(tmp_path)                           # outputs, manifests, rejects, cache


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_an_error_body_echoing_the_key_never_reaches_a_file(kind, ws, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    faults = lambda n, prompt: "401" if "syn-000000004" in prompt else None  # noqa: E731
    with serve(kind, batch_item_faults=faults) as server:
        r = build(cli, ws, tmp_path / "out", profile(tmp_path, server))
        assert r.exit_code == 0, r.stderr
    [reject] = open_corpus(tmp_path / "out").rejects().to_pylist()
    assert reject["reason"] == "refused" and "R1DATA_BATCH_KEY" in reject["detail"]
    assert KEY not in r.stdout + r.stderr
    _no_key_in(tmp_path)


def test_refresh_in_batch_mode_asks_every_request_again_through_a_batch(ws, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    with serve("openai") as server:
        prof = profile(tmp_path, server, batch_max_requests=1000)
        assert build(cli, ws, tmp_path / "a", prof).exit_code == 0
        first = sorted(k for batch in server.batch_keys for k in batch)
        assert build(cli, ws, tmp_path / "b", prof).exit_code == 0      # from the cache: nothing sent
        assert sorted(k for batch in server.batch_keys for k in batch) == first
        before = len(server.batch_keys)
        r = build(cli, ws, tmp_path / "c", prof, "--refresh")
        assert r.exit_code == 0, r.stderr
        again = sorted(k for batch in server.batch_keys[before:] for k in batch)
        assert again == first and server.calls == 0


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_an_expired_batch_keeps_its_answers_and_sends_the_rest_again_alone(kind, ws, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    with serve(kind, batch_expire={1: 10}) as server:
        r = build(cli, ws, tmp_path / "out", profile(tmp_path, server, batch_max_requests=1000))
        assert r.exit_code == 0, r.stderr
        first, second = server.batch_keys[:2]
        assert second == first[10:]                # exactly the requests the expiry left unanswered
        assert server.calls == 0 and open_corpus(tmp_path / "out").manifest["rows"] == SIZE


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_a_failed_item_is_sent_again_alone_and_a_refused_one_fails_its_record(kind, ws, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    def faults(n: int, prompt: str) -> str | None:
        if "syn-000000005" in prompt:
            return "500" if n <= SIZE else None    # a server error the first time only
        return "400" if "syn-000000009" in prompt else None
    with serve(kind, batch_item_faults=faults) as server:
        r = build(cli, ws, tmp_path / "out", profile(tmp_path, server, batch_max_requests=1000))
        assert r.exit_code == 0, r.stderr
        assert len(server.batch_keys[1]) == 1 and server.batch_keys[1][0] in server.batch_keys[0]
        assert server.calls == 0                   # the refused record was not asked directly either
        rejects = open_corpus(tmp_path / "out").rejects().to_pylist()
        assert [(rj["id"], rj["reason"]) for rj in rejects] == [("syn-000000009", "bad_request")]


def test_max_cost_holds_in_batch_mode_and_a_rerun_continues(ws, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    with serve("openai") as server:
        # at $2,000 per million tokens, a request costs about 10 cents at batch prices; the
        # estimate before any answer assumes max_output_tokens (1,024): about $1 a request
        prof = profile(tmp_path, server, price_input_per_million=2000, price_output_per_million=2000,
                       batch_max_requests=8)
        out = tmp_path / "out"
        r = build(cli, ws, out, prof, "--max-cost", "1.5")
        assert r.exit_code == 3 and "--max-cost $1.50 reached" in r.stderr and "rerun" in r.stderr, r.stderr
        assert server.batches_created >= 1 and server.calls == 0
        assert not (out / "manifest.json").exists()
        ckpt = json.loads((out / ".r1data" / "checkpoint.json").read_text())
        spent = sum(v for k, v in ckpt["stats"]["counters"].items() if k.startswith("cost_usd"))
        assert 0.5 < spent <= 1.5                  # what the batches cost, counted, within the limit
        sent = server.batches_created
        r = build(cli, ws, out, prof, "--max-cost", "100")
        assert r.exit_code == 0, r.stderr
        assert open_corpus(out).manifest["rows"] == SIZE and server.batches_created > sent
        keys = [k for batch in server.batch_keys for k in batch]
        assert len(keys) == len(set(keys))         # nothing paid for twice
        assert usage(out)["cost_usd_batch"] == pytest.approx(sum(
            v for k, v in open_corpus(out).manifest["counters"].items() if k.startswith("cost_usd")))


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_a_refused_key_in_batch_mode_is_one_line_naming_the_variable_never_the_key(kind, ws, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    with serve(kind, batch_create_faults=["401"]) as server:
        r = build(cli, ws, tmp_path / "out", profile(tmp_path, server))
    assert r.exit_code == 1 and "R1DATA_BATCH_KEY" in r.stderr and KEY not in r.stderr + r.stdout
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_batch_refused_as_a_whole_stops_with_one_line_and_a_bad_line_fails_its_record(ws, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    with serve("openai", batch_fail={1: ("invalid_request", "Model stand-in is not available for batches", None)}) as server:
        r = build(cli, ws, tmp_path / "a", profile(tmp_path, server))
    assert r.exit_code == 1 and "not available for batches" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    with serve("openai", batch_fail={1: ("invalid_request", "Line 3: max_tokens is too large", 3)}) as server:
        r = build(cli, ws, tmp_path / "b", profile(tmp_path, server, batch_max_requests=1000))
        assert r.exit_code == 0, r.stderr
        assert server.batch_keys[1] == [k for i, k in enumerate(server.batch_keys[0]) if i != 2]   # the rest again
    rejects = open_corpus(tmp_path / "b").rejects().to_pylist()
    assert [(rj["reason"], "max_tokens" in rj["detail"]) for rj in rejects] == [("bad_request", True)]


# -- kill -9 and resume ------------------------------------------------------------------------------

def _start(ws: Path, out: Path, prof: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "r1data", "build", "toyq", "-o", str(out), "--annotator", str(prof),
           "--workspace", str(ws), "--no-progress"]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(cond, proc: subprocess.Popen, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _journal(out: Path) -> list[dict]:
    path = out / ".r1data" / "batches" / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _no_key_in(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_kill_minus_9_after_submitting_resumes_by_polling_never_by_paying_again(kind, ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    release = threading.Event()
    with serve(kind, batch_release=release) as server:
        prof = profile(tmp_path, server, batch_max_requests=1000)
        out = tmp_path / "out"
        proc = _start(ws, out, prof)
        _wait_for(lambda: any(e["event"] == "submitted" for e in _journal(out)), proc)
        time.sleep(0.3)                            # polling now
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert server.batches_created == 1
        _no_key_in(tmp_path / "out")               # the journal and what else the kill left behind
        proc = _start(ws, out, prof)
        _wait_for(lambda: server.batch_polls >= 3, proc)   # the resumed build polls the batch it found
        assert server.batches_created == 1
        release.set()
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        assert server.batches_created == 1 and server.calls == 0      # paid once, asked nothing directly
        assert open_corpus(out).manifest["rows"] == SIZE
        assert KEY not in stdout + stderr
    _no_key_in(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_kill_minus_9_while_the_provider_creates_the_batch_adopts_it_by_its_tag(kind, ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with serve(kind, batch_create_delay_s=3.0) as server:
        prof = profile(tmp_path, server, batch_max_requests=1000)
        out = tmp_path / "out"
        proc = _start(ws, out, prof)
        _wait_for(lambda: server.batches_created >= 1, proc)   # the provider has it; its answer is on its way
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        events = [e["event"] for e in _journal(out)]
        assert events == ["submitting"]            # recorded before asking; the id never came back
        _no_key_in(tmp_path / "out")               # nor in the input file left behind
        server.batch_create_delay_s = 0.0
        done = subprocess.run([sys.executable, "-m", "r1data", "build", "toyq", "-o", str(out), "--annotator",
                               str(prof), "--workspace", str(ws), "--no-progress"], cwd=REPO, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert server.batches_created == 1         # found by its tag and adopted, not sent again
        assert open_corpus(out).manifest["rows"] == SIZE
    _no_key_in(tmp_path)


def test_estimate_of_a_batch_profile_prices_the_batch_api_and_the_build_reuses_its_answers(ws, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    with serve("openai") as server:
        prof = profile(tmp_path, server)
        out = tmp_path / "out"
        r = cli("build", "toyq", "-o", out, "--annotator", prof, "--workspace", ws, "--no-progress",
                "--size", "400", "--estimate", "16")
        assert r.exit_code == 0, r.stderr
        assert "through the batch API" in r.stdout and "$1 / $4 per million" in r.stdout, r.stdout
        asked = {k for batch in server.batch_keys for k in batch}
        assert asked and server.calls == 0
        r = build(cli, ws, out, prof, "--size", "16")
        assert r.exit_code == 0, r.stderr
        assert {k for batch in server.batch_keys for k in batch} == asked     # the estimate's answers, reused
    assert KEY not in r.stdout + r.stderr
    _no_key_in(tmp_path)
