"""One quota for a build: rates shared by worker processes (a locked file) and Ray actors (an
actor), learned from 429s, Retry-After capped by max_wait_s, and a one-line stop ("rate
limited", "quota exhausted") instead of a silent stall. The clients are the real openai and
google-genai ones against stand-in servers on 127.0.0.1 (tests/servers/)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from pathlib import Path

import pytest

from r1data.annotators.client import AnnotatorClient
from r1data.annotators.profile import AnnotatorProfile, providers
from r1data.annotators.quota import FileQuota, LocalQuota, QuotaState
from r1data.annotators.quota_status import StatusTicker, quota_status
from r1data.annotators.request import AnnotationRequest, PermanentError, RateLimited
from tests.servers import SERVERS

KEY = "sk-r1data-quota-test-5d81e2-SECRET"


@pytest.fixture(params=["openai", "gemini"])
def server(request):  # type: ignore[no-untyped-def]
    with SERVERS[request.param](timeout_s=1.0) as s:
        s.kind = request.param
        yield s


def make_client(server, monkeypatch, quota=None, **overrides) -> AnnotatorClient:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("R1DATA_QUOTA_KEY", KEY)
    settings = dict(provider=server.kind, model="test-model", base_url=server.url, api_key_env="R1DATA_QUOTA_KEY",
                    max_concurrency=8, backoff_initial_s=0.01, backoff_max_s=0.05, timeout_s=0.5, name="quota-test")
    settings.update(overrides)
    profile = AnnotatorProfile(**settings)
    return AnnotatorClient(profile, providers.get(profile.provider)(profile), quota=quota)


def ask(text: str) -> tuple[AnnotationRequest, str]:
    return AnnotationRequest.user(text), "think_answer"


# -- the state: reservations, holds, what it learns (a fake clock) -----------------------------------

def test_reservations_queue_callers_at_the_rate() -> None:
    s = QuotaState()
    s.configure(0.0, 600, None)                 # 10 requests/s, a 1 s burst of 10
    waits = [s.reserve(0.0, 0)[0] for _ in range(15)]
    assert waits[:10] == [0.0] * 10             # the burst goes at once
    assert waits[10:] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])   # then one every 0.1 s, in order


def test_a_429_pauses_everyone_and_drains_the_burst() -> None:
    s = QuotaState()
    s.configure(0.0, 6000, None)                # 100/s
    for i in range(100):
        s.done(i / 100, 0, 0)
    s.on_limited(1.0, 3.0, "HTTP 429, Retry-After 3 s")
    wait, held = s.reserve(1.0, 0)
    assert held == pytest.approx(3.0) and wait >= 3.0      # nobody goes during the pause ...
    later = [s.reserve(1.0, 0)[0] for _ in range(3)]       # ... nor in a burst after it
    assert later[2] - later[1] == pytest.approx(1 / s.req_rate(), rel=0.01)
    assert s.status(1.5) == "rate limited: waiting 2 s (HTTP 429, Retry-After 3 s)"


def test_the_rate_that_gets_through_is_learned_when_the_profile_overstates_it() -> None:
    s = QuotaState()
    s.configure(0.0, 6000, None)                # the profile says 100/s; the server allows 20/s
    t, tick, rates, credit, allowed = 0.0, 0.05, [], 0.0, 0.0
    while t < 30:                               # send at the rate in force; 20/s get through
        credit += (s.req_rate() or 0) * tick
        allowed = min(allowed + 20 * tick, 1.0)
        n = int(credit)
        credit -= n
        ok = min(n, int(allowed))
        allowed -= ok
        for _ in range(n):
            s.reserve(t, 0)
        for _ in range(ok):
            s.done(t, 0, 0)
        for _ in range(n - ok):
            s.on_limited(t, 0.0, "HTTP 429")
        t += tick
        rates.append(s.req_rate())
    assert min(rates) > 0.75 * 20 * 0.9         # never far under the quota ...
    assert 18 <= sum(rates[-100:]) / 100 <= 26  # ... and close to it after a while
    # successes alone let the cap grow back, and it goes once it reaches the profile's rate
    t0 = t
    while s.learned_rps is not None and t < t0 + 400:
        s.done(t, 0, 0)
        t += 0.5
    assert s.learned_rps is None and 40 < t - t0 < 200


def test_a_429_when_the_profile_is_right_pauses_and_slows_down_only_a_little() -> None:
    s = QuotaState()
    s.configure(0.0, 1200, None)                # 20/s, and 20/s get through
    for i in range(100):
        s.done(i / 20, 0, 0)
    s.on_limited(5.0, 0.5, "HTTP 429")
    assert 19 < s.learned_rps < 20 and s.hold_left(5.0) == pytest.approx(0.5)   # one 429 in 41 calls


def test_a_second_429_of_the_same_bunch_does_not_cut_again() -> None:
    s = QuotaState()
    s.configure(0.0, 600, None)
    s.on_limited(1.0, 0.0, "HTTP 429")
    first = s.learned_rps
    s.on_limited(1.5, 0.0, "HTTP 429")
    assert s.learned_rps == first == pytest.approx(7.5)   # nothing got through: a quarter off, once
    assert s.limited == 2 and s.limited_for(4.0) == pytest.approx(3.0) and not s.getting_through(4.0)
    s.done(4.0, 0, 0)
    assert s.limited_for(5.0) == 0 and s.getting_through(5.0)


# -- one quota across worker processes -----------------------------------------------------------

def _acquire_many(path: str, n: int, start: float, out: mp.Queue) -> None:
    quota = FileQuota(path, 1200, None)        # 20 requests/s for all processes together
    time.sleep(max(0.0, start - time.time()))

    async def go() -> None:
        for _ in range(n):
            await quota.acquire(0)

    asyncio.run(go())
    out.put(time.time())


@pytest.mark.slow
def test_worker_processes_share_one_file_quota(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start = time.time() + 4.0                   # after every process has imported and opened the file
    procs = [ctx.Process(target=_acquire_many, args=(str(tmp_path / "q.json"), 30, start, out)) for _ in range(3)]
    for p in procs:
        p.start()
    ends = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join()
    # 90 requests at 20/s after a burst of 20 take 3.5 s: the rate held for all of them together
    # (three private quotas of 20/s would have let them through at once)
    assert 3.2 <= max(ends) - start < 4.5, max(ends) - start


def test_the_file_quota_survives_a_damaged_file_and_reports_its_pauses(tmp_path: Path) -> None:
    path = tmp_path / "quota" / "p.json"
    path.parent.mkdir()
    path.write_text('{"rpm": 60, "tok')         # a writer killed mid-write
    quota = FileQuota(path, 600, None)
    asyncio.run(quota.acquire(0))
    assert quota_status(tmp_path) is None
    quota.limited(30.0, "HTTP 429, Retry-After 30 s")
    text, left = quota_status(tmp_path)  # type: ignore[misc]
    assert text.startswith("rate limited: waiting") and "Retry-After 30 s" in text and 29 < left <= 30
    quota.close()


def test_the_status_ticker_puts_the_reason_on_the_bar(tmp_path: Path) -> None:
    class Bar:
        desc = "build x"

        def set_description_str(self, desc: str, refresh: bool = True) -> None:
            self.desc = desc

    quota = FileQuota(tmp_path / "quota" / "p.json", 600, None)
    bar = Bar()
    ticker = StatusTicker(tmp_path, bar, "build x", interval_s=0.05)
    quota.limited(1.0, "HTTP 429, Retry-After 1 s")
    deadline = time.monotonic() + 2
    while "rate limited" not in bar.desc and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bar.desc.startswith("build x [rate limited: waiting")
    while bar.desc != "build x" and time.monotonic() < deadline + 2:   # the pause ends, the note goes
        time.sleep(0.05)
    ticker.stop()
    assert bar.desc == "build x"
    quota.close()


# -- what a client does with 429s ---------------------------------------------------------------

def test_retry_after_3600_with_nothing_getting_through_stops_with_one_line(server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.retry_after = 3600
    server.set_faults(lambda n, prompt: "429")
    client = make_client(server, monkeypatch, max_wait_s=120)
    t0 = time.monotonic()
    with pytest.raises(RateLimited) as e:
        client.run([ask(f"question {i}") for i in range(4)])
    client.close()
    assert time.monotonic() - t0 < 30                     # no silent three-hour stall (imports included)
    message = e.value.message
    assert "rate limited" in message and "3600 s" in message and "max_wait_s" in message and "\n" not in message
    assert "rerun" in message and KEY not in message


def test_a_long_retry_after_while_others_get_through_gives_up_that_record(server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.retry_after = 3600
    server.set_faults(lambda n, prompt: "429" if "unlucky" in prompt else None)
    client = make_client(server, monkeypatch, max_wait_s=120)
    assert all(a.parsed.answer == "yes" for a in client.run([ask(f"question {i}") for i in range(4)]))
    [failed] = client.run([ask("the unlucky question")])
    client.close()
    assert isinstance(failed, PermanentError) and failed.reason == "gave_up_rate_limited", failed
    assert "3600" in failed.detail


def test_continuous_429s_stop_with_quota_exhausted_after_max_wait(server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.retry_after = None                   # no Retry-After: backoff, retried past max_retries
    server.set_faults(lambda n, prompt: "429")
    client = make_client(server, monkeypatch, max_wait_s=1.0, max_retries=2)
    t0 = time.monotonic()
    with pytest.raises(RateLimited) as e:
        client.run([ask("question")])
    client.close()
    assert 0.9 <= time.monotonic() - t0 < 4
    assert "rate limited: quota exhausted" in e.value.message and server.calls > 3   # 429s are not max_retries


def test_short_429s_are_waited_out_without_counting_against_max_retries(server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.retry_after = 0.05
    server.set_faults(["429"] * 4)
    client = make_client(server, monkeypatch, max_retries=1)
    [answer] = client.run([ask("question")])
    client.close()
    assert not isinstance(answer, Exception), answer
    assert server.calls == 5 and client.usage.retries == 4


def test_an_account_out_of_credit_stops_at_once(server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.set_faults(lambda n, prompt: "insufficient_quota")
    client = make_client(server, monkeypatch, max_wait_s=2)
    with pytest.raises(RateLimited) as e:
        client.run([ask("question")])
    client.close()
    if server.kind == "openai":                 # OpenAI says so: no wait at all
        assert "insufficient_quota" in e.value.message and server.calls == 1
    else:                                       # Gemini's 429 looks like any other: max_wait_s bounds it
        assert "quota exhausted" in e.value.message


@pytest.mark.slow
def test_a_quota_the_profile_does_not_know_is_learned_from_429s(monkeypatch) -> None:
    # the server allows 20 requests/s and sends no Retry-After; the profile names no limit
    with SERVERS["openai"](quota_rpm=1200, quota_burst_s=1.0, quota_retry_after=False) as server:
        server.kind = "openai"
        quota = LocalQuota()
        client = make_client(server, monkeypatch, quota=quota, max_concurrency=16, backoff_initial_s=0.05,
                             backoff_max_s=0.5)
        # the 429s it learns from: one cut per 2 s, so ~12 s of them (with 120, ~6 s, a fast first
        # burst left it at up to 2.8x the limit in some runs: 30-35 refusals after, seen in CI)
        warm = client.run([ask(f"warm-up {i}") for i in range(240)])
        learned = quota.state.learned_rps
        server.reset_counts()
        t0 = time.monotonic()
        answers = client.run([ask(f"question {i}") for i in range(100)])
        wall = time.monotonic() - t0
        client.close()
    assert all(not isinstance(a, Exception) for a in warm + answers)    # every 429 was waited out
    # it found the limit (from no limit at all to within 3x of it: on a loaded machine the client
    # sends too slowly to see every 429, so how close it gets depends on the load) ...
    assert learned is not None and 12 < learned < 60, learned
    assert server.refused < 25, server.refused                           # ... and keeps to it
    assert 100 / wall > 0.7 * 20, wall                                   # using most of it


def test_the_annotate_step_of_a_build_uses_the_build_wide_file_quota(tmp_path: Path, monkeypatch) -> None:
    from r1data.annotators.quota import FileQuota as FQ
    from r1data.assets import Assets
    from r1data.steps.annotate import Annotate
    from r1data.steps.base import StepContext

    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("R1DATA_QUOTA_KEY", KEY)
    profile = tmp_path / "p.yaml"
    profile.write_text("provider: openai\nmodel: m\nbase_url: http://127.0.0.1:9/v1\napi_key_env: R1DATA_QUOTA_KEY\n"
                       "requests_per_minute: 600\nmax_concurrency: 8\n")
    ctx = StepContext(seed=0, corpus="c", step="annotate", assets=Assets.from_workspace(), output=tmp_path / "out",
                      options={"annotator": str(profile), "workers": 4})
    step = Annotate(ctx, template="scene30k_cot.jinja")
    assert isinstance(step.client.quota, FQ) and step.client.quota.path.parent == tmp_path / "out" / ".r1data" / "quota"
    assert step.client.profile.max_concurrency == 2              # concurrency is divided among workers ...
    state = QuotaState.from_json(step.client.quota.path.read_bytes())
    assert state.rpm == 600                                      # ... the rate is not: it is shared
    step.client.close()


# -- whole builds: worker processes and Ray actors share the quota -----------------------------------

RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _build_rate(tmp_path: Path, extra: list[str]) -> tuple[float, int, int]:
    """Build toyq with every API call on the stage that gets the even batches, against a server
    enforcing 10 requests/s; (answers per second, 429s, exit code)."""
    import json
    import os
    import subprocess
    import sys

    from tests.toyq import toyq_workspace

    ws = toyq_workspace(tmp_path / "ws", size=128, prefill=True)
    with SERVERS["openai"](latency_s=0.05, quota_rpm=600, quota_burst_s=1.0) as server:
        profile = tmp_path / "p.yaml"
        settings = {"provider": "openai", "model": "m", "base_url": server.url, "api_key_env": "R1DATA_QUOTA_KEY",
                    "requests_per_minute": 600, "max_concurrency": 16, "backoff_initial_s": 0.05, "backoff_max_s": 0.5}
        profile.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
        env = {**os.environ, **RAY_ENV, "R1DATA_QUOTA_KEY": KEY, "R1DATA_CACHE_DIR": str(tmp_path / "cache")}
        done = subprocess.run([sys.executable, "-m", "r1data", "build", "toyq", "-o", str(tmp_path / "out"),
                               "--annotator", str(profile), "--workspace", str(ws), "--no-progress", *extra],
                              cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        times = sorted(server.answer_times)
    return (len(times) - 1) / (times[-1] - times[0]), server.refused, done.returncode


@pytest.mark.slow
def test_ray_actors_share_one_quota_actor(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    # 64 calls, all on the actor that gets the even batches: with the quota divided statically
    # (5/s each) that actor would crawl at half the quota; sharing it gives it all 10/s
    rate, refused, _ = _build_rate(tmp_path, ["--executor", "ray", "--workers", "2"])
    assert 7.5 <= rate <= 12.5, rate
    assert refused <= 20, refused           # of 64 calls: the odd 429 when arrivals bunch up


@pytest.mark.slow
def test_worker_processes_of_a_build_share_one_quota(tmp_path: Path) -> None:
    rate, refused, _ = _build_rate(tmp_path, ["--workers", "2"])
    assert rate <= 12.5 and refused <= 20, (rate, refused)     # the two processes together keep to it
    assert rate >= 6.0, rate


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_a_build_meeting_retry_after_3600_stops_with_one_line_and_stays_resumable(kind, tmp_path, monkeypatch, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    from tests.toyq import toyq_workspace

    monkeypatch.setenv("R1DATA_QUOTA_KEY", KEY)
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    ws = toyq_workspace(tmp_path / "ws", size=20)
    with SERVERS[kind](retry_after=3600, faults=lambda n, prompt: "429") as server:
        profile = tmp_path / "p.yaml"
        settings = {"provider": kind, "model": "m", "base_url": server.url, "api_key_env": "R1DATA_QUOTA_KEY",
                    "max_wait_s": 120}
        profile.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
        t0 = time.monotonic()
        r = cli("build", "toyq", "-o", tmp_path / "out", "--annotator", profile, "--workspace", ws, "--no-progress")
    assert time.monotonic() - t0 < 30                        # no silent stall of hours
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "rate limited" in r.stderr and "3600 s" in r.stderr and "rerun" in r.stderr
    assert (tmp_path / "out" / ".r1data" / "checkpoint.json").exists()     # the same command continues later
    assert KEY not in r.stderr + r.stdout
