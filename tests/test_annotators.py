"""API annotators against local servers: the real google-genai and openai clients, pointed
through ``base_url`` at stand-in servers on 127.0.0.1 that inject the failures of real ones."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from r1data.annotators.cache import ResponseCache
from r1data.annotators.client import AnnotatorClient
from r1data.annotators.limits import RateLimiter, backoff_delay
from r1data.annotators.profile import AnnotatorProfile, providers
from r1data.annotators.request import AnnotationRequest, AnnotatorUnusable, Media, PermanentError
from r1data.assets import Assets
from r1data.errors import UsageError
from tests.servers import SERVERS

KEY = "sk-r1data-test-7f3a9c-SECRET"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND"
       b"\xaeB`\x82")


@pytest.fixture(params=["openai", "gemini"])
def server(request):  # type: ignore[no-untyped-def]
    with SERVERS[request.param](timeout_s=1.0) as s:
        s.kind = request.param
        yield s


def make_client(server, tmp_path: Path, monkeypatch, *, cache: bool = False, **overrides) -> AnnotatorClient:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("R1DATA_TEST_KEY", KEY)
    settings = dict(provider=server.kind, model="test-model", base_url=server.url, api_key_env="R1DATA_TEST_KEY",
                    max_concurrency=8, backoff_initial_s=0.01, backoff_max_s=0.05, timeout_s=0.5,
                    price_input_per_million=2.0, price_output_per_million=8.0, name="test")
    settings.update(overrides)
    profile = AnnotatorProfile(**settings)
    backend = providers.get(profile.provider)(profile)
    return AnnotatorClient(profile, backend, cache=ResponseCache(tmp_path / "cache.sqlite") if cache else None)


def ask(text: str = "Is there a chair?") -> tuple[AnnotationRequest, str]:
    return AnnotationRequest.user(text, [Media(PNG, "image/png")]), "think_answer"


def test_an_answer_carries_text_tokens_cost_and_the_image(server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client = make_client(server, tmp_path, monkeypatch)
    [answer] = client.run([ask()])
    client.close()
    assert answer.parsed.answer == "yes" and "<think>" in answer.text
    assert answer.tokens_in > 258 and answer.tokens_out > 10 and answer.latency_s > 0
    assert server.seen[0].image_sizes == [len(PNG)]          # the image arrived intact
    assert KEY in server.seen[0].auth                        # sent in the header, nowhere else
    assert client.usage.cost_usd == pytest.approx((answer.tokens_in * 2 + answer.tokens_out * 8) / 1e6)


def test_retries_recover_from_429_5xx_timeouts_drops_and_malformed_bodies(server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    faults = ["429", "500", "503", "timeout", "drop", "malformed"]
    server.set_faults(list(faults))
    client = make_client(server, tmp_path, monkeypatch, max_retries=6)
    [answer] = client.run([ask()])
    client.close()
    assert not isinstance(answer, Exception), answer
    assert answer.parsed.answer == "yes"
    assert server.faults_served == faults and server.calls == len(faults) + 1
    assert client.usage.retries == len(faults)


def test_retry_after_is_honoured(server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.retry_after = 0.4
    server.set_faults(["429"])
    client = make_client(server, tmp_path, monkeypatch)
    t0 = time.monotonic()
    [answer] = client.run([ask()])
    client.close()
    assert not isinstance(answer, Exception) and time.monotonic() - t0 >= 0.4


@pytest.mark.parametrize("faults, reason, calls", [
    (["400"], "bad_request", 1),
    (["safety"], "safety_block", 1),
    (["bad_output"] * 3, "unparsable_output", 3),             # 1 answer + 2 re-asks
    (["500"] * 3, "gave_up_http_500", 3),                     # max_retries=2: 3 attempts
])
def test_permanent_failures_fail_the_record_with_a_reason(server, tmp_path, monkeypatch, faults, reason, calls) -> None:  # type: ignore[no-untyped-def]
    server.set_faults(faults)
    client = make_client(server, tmp_path, monkeypatch, max_retries=2, parse_retries=2)
    [failed] = client.run([ask()])
    client.close()
    assert isinstance(failed, PermanentError) and failed.reason == reason, failed
    assert server.calls == calls
    assert KEY not in str(failed)


def test_a_reask_after_bad_output_recovers(server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.set_faults(["bad_output"])
    client = make_client(server, tmp_path, monkeypatch)
    [answer] = client.run([ask()])
    client.close()
    assert answer.parsed.answer == "yes" and server.calls == 2
    assert "not in the required format" in server.seen[1].prompt    # the re-ask says what was wrong


def test_a_refused_key_stops_with_the_variable_name_never_the_key(server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.set_faults(["401"])                 # the server's message echoes the key it got
    client = make_client(server, tmp_path, monkeypatch)
    with pytest.raises(AnnotatorUnusable) as e:
        client.run([ask()])
    client.close()
    assert "R1DATA_TEST_KEY" in e.value.message and KEY not in e.value.message


def test_a_missing_key_is_a_one_line_error_naming_the_variable(monkeypatch) -> None:
    monkeypatch.delenv("R1DATA_NOT_SET", raising=False)
    profile = AnnotatorProfile(provider="openai", model="m", api_key_env="R1DATA_NOT_SET", name="p")
    with pytest.raises(UsageError, match="R1DATA_NOT_SET"):
        providers.get("openai")(profile)


def test_concurrency_stays_within_the_profile(server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.latency_s = 0.1
    client = make_client(server, tmp_path, monkeypatch, max_concurrency=4)
    t0 = time.monotonic()
    answers = client.run([ask(f"question {i}") for i in range(16)])
    wall = time.monotonic() - t0
    client.close()
    assert all(a.parsed.answer == "yes" for a in answers)
    assert server.max_in_flight == 4
    # 16 calls, 4 at a time, 0.1 s each: never faster than 4 rounds (an upper bound on the wall
    # time would test the machine's load, not the client; max_in_flight shows the 4 in flight)
    assert wall >= 0.4


def test_second_run_is_served_from_the_cache_and_refresh_asks_again(server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    requests = [ask(f"question {i}") for i in range(5)]
    first = make_client(server, tmp_path, monkeypatch, cache=True)
    a = first.run(requests)
    first.close()
    assert server.calls == 5
    second = make_client(server, tmp_path, monkeypatch, cache=True)
    b = second.run(requests)
    second.close()
    assert server.calls == 5 and second.usage.cache_hits == 5 and second.usage.cost_usd == 0
    assert [x.text for x in a] == [x.text for x in b] and all(x.cached for x in b)
    third = make_client(server, tmp_path, monkeypatch, cache=True)
    third.refresh = True
    third.run(requests[:2])
    third.close()
    assert server.calls == 7
    assert KEY.encode() not in (tmp_path / "cache.sqlite").read_bytes()


def test_the_rate_limiter_paces_requests() -> None:
    limiter = RateLimiter(requests_per_minute=600)      # 10/s, a 1 s burst of 10

    async def go() -> float:
        t0 = time.monotonic()
        for _ in range(20):
            await limiter.acquire(1)
        return time.monotonic() - t0

    assert 0.9 <= asyncio.run(go()) < 1.6             # 10 beyond the burst at 10/s


def test_backoff_grows_jitters_and_respects_retry_after() -> None:
    delays = [backoff_delay(k, 1.0, 60.0) for k in range(6)]
    assert all(2 ** k / 2 <= d <= 2 ** k for k, d in enumerate(delays))
    assert backoff_delay(10, 1.0, 60.0) <= 60
    assert backoff_delay(0, 0.01, 1.0, retry_after=3.0) >= 3.0


def test_the_cache_survives_kill_minus_9(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    writer = textwrap.dedent(f"""
        import itertools, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from r1data.annotators.cache import ResponseCache
        from r1data.annotators.request import AnnotationResponse
        cache = ResponseCache({str(path)!r})
        for i in itertools.count():
            cache.put(f"key{{i}}", "openai", AnnotationResponse(text="answer " * 200 + str(i), tokens_in=i))
            if i == 200:
                print("ready", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cache = ResponseCache(path)
    n = len(cache)
    assert cache.check() == "ok" and n > 200
    for i in range(n):                        # every committed answer reads back whole
        hit = cache.get(f"key{i}")
        assert hit is not None and hit.text.endswith(str(i)) and hit.tokens_in == i
    cache.close()


def test_shipped_profiles_load() -> None:
    from r1data.annotators import load_profile

    assets = Assets.from_workspace()
    for name, provider in [("gemini-2.5-pro", "gemini"), ("gpt-4o", "openai"), ("vllm-local", "openai"),
                           ("programmatic", "programmatic")]:
        p = load_profile(name, assets)
        assert p.provider == provider and (p.model or provider == "programmatic")
    assert load_profile("gpt-4o", assets).share(4).max_concurrency == 8


# -- structured output (a profile's response_schema) ---------------------------------------------

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["label", "count"],
          "properties": {"label": {"type": "string", "enum": ["chair", "table"]},
                         "count": {"type": "integer", "minimum": 0}}}
VALID = '{"label": "chair", "count": 2}'
VIOLATING = '{"label": "sofa", "count": -1}'      # JSON, but not what the schema allows


def schema_request(tmp_path: Path, client: AnnotatorClient) -> tuple[AnnotationRequest, str]:
    """The request the annotate step would build: a template rendered with the profile's schema."""
    from r1data.annotators.prompt import PromptTemplate

    template = tmp_path / "count.jinja"
    template.write_text('{%- set media = "image" -%}\nName the {{ thing }} and count them, as JSON.')
    p = client.profile
    request, fmt = PromptTemplate(template).request({"thing": "furniture", "image": PNG}, temperature=p.temperature,
                                                    max_output_tokens=p.max_output_tokens,
                                                    response_schema=p.response_schema)
    assert fmt == "json"              # a schema makes the answer JSON, whatever the template says
    return request, fmt


def schema_sent(server, body: dict) -> dict | None:  # type: ignore[no-untyped-def]
    """The JSON schema a call carried, in the provider's wire format."""
    if server.kind == "openai":
        fmt = body.get("response_format") or {}
        return fmt.get("json_schema", {}).get("schema") if fmt.get("type") == "json_schema" else None
    config = body.get("generationConfig") or {}
    assert config.get("responseMimeType") == "application/json"
    return config.get("responseJsonSchema")


def test_an_answer_violating_the_schema_is_asked_again_and_parsed(server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the model gets it right once told what was wrong
    server.respond = lambda prompt, n: VALID if "not in the required format" in prompt else VIOLATING
    client = make_client(server, tmp_path, monkeypatch, response_schema=SCHEMA)
    [answer] = client.run([schema_request(tmp_path, client)])
    client.close()
    assert not isinstance(answer, Exception), answer
    assert answer.parsed == {"label": "chair", "count": 2} and server.calls == 2
    assert schema_sent(server, server.seen[0].body) == SCHEMA           # structured output was asked for
    assert "does not match the schema" in server.seen[1].prompt         # the re-ask says why
    assert VIOLATING in server.seen[1].prompt                           # ... after the model's own answer
    assert server.seen[1].image_sizes == [len(PNG)]


def test_an_answer_always_violating_the_schema_fails_as_unparsable_output(server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.respond = lambda prompt, n: VIOLATING
    client = make_client(server, tmp_path, monkeypatch, response_schema=SCHEMA, parse_retries=2)
    [failed] = client.run([schema_request(tmp_path, client)])
    client.close()
    assert isinstance(failed, PermanentError) and failed.reason == "unparsable_output", failed
    assert "schema" in failed.detail and server.calls == 3               # 1 answer + 2 re-asks
    assert client.usage.failed == 1


# -- the tokens-per-minute limit -------------------------------------------------------------------

def test_the_rate_limiter_paces_tokens() -> None:
    limiter = RateLimiter(tokens_per_minute=6000)      # 100 tokens/s, a 1 s burst of 100

    async def go() -> float:
        t0 = time.monotonic()
        for _ in range(20):
            await limiter.acquire(10)                   # 200 tokens: 100 beyond the burst
        return time.monotonic() - t0

    assert 0.9 <= asyncio.run(go()) < 1.6


def test_tokens_per_minute_paces_calls_by_the_tokens_they_used(server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # one call at a time, so every call has settled its real token count before the next
    # waits: n calls using T tokens in all cannot finish before (T - burst - 1 call) / rate
    tpm = 3000.0                                        # 50 tokens/s, a burst of 50
    client = make_client(server, tmp_path, monkeypatch, max_concurrency=1, tokens_per_minute=tpm,
                         max_output_tokens=64)
    requests = [(AnnotationRequest.user(f"question {i}", max_output_tokens=64), "think_answer") for i in range(4)]
    t0 = time.monotonic()
    answers = client.run(requests)
    wall = time.monotonic() - t0
    client.close()
    assert all(a.parsed.answer == "yes" for a in answers)
    per_call = (client.usage.tokens_in + client.usage.tokens_out) / len(requests)
    rate = tpm / 60
    floor = (per_call * (len(requests) - 1) - rate) / rate
    assert floor >= 1.0, f"{per_call} tokens a call: the limit would not bind"
    assert floor <= wall < floor + 1.5, (wall, floor)


def test_only_closed_schemas_are_sent_as_strict_to_openai() -> None:
    from r1data.annotators.openai_chat import strict_compatible

    closed = {"type": "object", "additionalProperties": False, "required": ["label", "box"],
              "properties": {"label": {"type": "string", "enum": ["a", "b"]},
                             "box": {"type": "array", "items": {"type": "number"}}}}
    assert strict_compatible(closed)
    assert not strict_compatible({**closed, "required": ["label"]})          # a property not required
    assert not strict_compatible({k: v for k, v in closed.items() if k != "additionalProperties"})
    nested = {**closed, "properties": {**closed["properties"], "meta": {"type": "object", "properties": {"x": {}}}},
              "required": ["label", "box", "meta"]}
    assert not strict_compatible(nested)                                    # an open inner object


def test_the_programmatic_backend_answers_the_same_request_with_the_same_response() -> None:
    """The offline annotator behind the API backends' interface: request in, response out
    (text, parsed output, tokens, latency); a ValueError is a permanent, per-record failure."""
    from r1data.annotators.programmatic import ProgrammaticBackend

    def count_chairs(row: dict, ctx: object) -> str:
        if row["n"] < 0:
            raise ValueError("a negative count in the scene graph")
        return f"<think>I count {row['n']} chairs.</think><answer>{row['n']}</answer>"

    def fields(row: dict, ctx: object) -> dict:
        return {"caption": "a red mug", "box": [1, 2, 3, 4]}

    request = AnnotationRequest.user("How many chairs?", [Media(PNG, "image/png")], row={"n": 3})
    answer = asyncio.run(ProgrammaticBackend(count_chairs, None).generate(request))
    assert answer.text == answer.parsed == "<think>I count 3 chairs.</think><answer>3</answer>"
    assert answer.tokens_in == answer.tokens_out == 0 and answer.latency_s >= 0
    # a reask (followed_by) keeps the record; the record never enters the cache key
    from r1data.annotators.cache import request_key
    assert request.followed_by().row == {"n": 3}
    assert request_key("p", "m", request) == request_key("p", "m", AnnotationRequest.user(
        "How many chairs?", [Media(PNG, "image/png")], row={"n": 99}))

    several = ProgrammaticBackend(fields, None).answer(AnnotationRequest((), row={}))
    assert several.parsed == {"caption": "a red mug", "box": [1, 2, 3, 4]}
    assert '"caption": "a red mug"' in several.text

    with pytest.raises(PermanentError) as e:
        ProgrammaticBackend(count_chairs, None).answer(AnnotationRequest((), row={"n": -1}))
    assert e.value.reason == "annotator_error" and "negative count" in e.value.detail


def _open_cache_at(args: tuple[str, float]) -> str:
    path, start = args
    time.sleep(max(0.0, start - time.time()))
    try:
        cache = ResponseCache(path)
        cache.close()
        return "ok"
    except Exception as e:  # what a worker's initializer would die of
        return f"{type(e).__name__}: {e}"


def test_workers_opening_a_new_cache_at_the_same_moment_all_get_it(tmp_path: Path) -> None:
    """A build's workers open the shared response cache together. SQLite answers one of two
    connections that both switch a new file to WAL "database is locked" at once (no busy wait);
    that killed a worker's start-up in a CI run (BrokenProcessPool). Eight processes, one moment,
    rounds on fresh files: every one opens it."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(8) as pool:
        pool.map(time.sleep, [0] * 8)                      # started and imported before the rounds
        for round_ in range(5):
            path, start = str(tmp_path / f"c{round_}" / "cache.sqlite"), time.time() + 0.3
            assert pool.map(_open_cache_at, [(path, start)] * 8) == ["ok"] * 8
