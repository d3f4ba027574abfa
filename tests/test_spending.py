"""Spending safely: builds bounded by yield, the bill known before paying it, the key kept secret."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from r1data import open_corpus
from tests.test_annotators_build import KEY, model_of, profile_file, programmatic, serve  # noqa: F401
from tests.toyws import make_ws


def toy(tmp_path: Path, every: int, **over: object) -> Path:
    steps = [{"step": "toy_keep_every", "every": every}, {"step": "split", "by": "id"}]
    return make_ws(tmp_path / "ws", steps=steps, **over)


# -- bounded by yield ------------------------------------------------------------------------

def test_a_low_yield_stops_early_resumably_and_goes_on_with_a_higher_multiple(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = toy(tmp_path, every=50, size=100)
    out = tmp_path / "out"
    r = cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress")
    assert r.exit_code == 1
    line = r.stderr.strip()
    assert line.startswith("error: stopped early") and "\n" not in line
    assert "toy_keep_every/wrong_answer" in line and 'e.g. "row 1 answered wrong"' in line
    m = re.search(r"100 rows need about ([\d,]+) source records, over the limit of 20 x size = 2,000", line)
    assert m and 4000 <= int(m.group(1).replace(",", "")) <= 6000, line
    ckpt = json.loads((out / ".r1data" / "checkpoint.json").read_text())
    assert ckpt["cursor"] < 2000, "it stopped long before reading 20 x size records"
    assert not (out / "manifest.json").exists()
    # the same command stops again at once; a higher multiple goes on from the checkpoint
    again = cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress")
    assert again.exit_code == 1 and json.loads((out / ".r1data" / "checkpoint.json").read_text())["cursor"] == \
        ckpt["cursor"], "a rerun pays for nothing more"
    r = cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress", "--max-read-multiple", "100")
    assert r.exit_code == 0, r.stderr
    fresh = tmp_path / "fresh"
    assert cli("build", "toy", "--workspace", ws, "-o", fresh, "--no-progress", "--max-read-multiple", "100"
               ).exit_code == 0
    assert open_corpus(out).manifest["splits"] == open_corpus(fresh).manifest["splits"]
    assert open_corpus(out).manifest["rows"] == 100


def test_nothing_kept_stops_after_a_few_hundred_records_whatever_the_multiple(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = make_ws(tmp_path / "ws", size=50, steps=[{"step": "toy_refuse_all"}, {"step": "split", "by": "id"}])
    out = tmp_path / "out"
    r = cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress", "--max-read-multiple", "100000")
    assert r.exit_code == 1
    assert "no row kept from the first 300 source records" in r.stderr and "toy_refuse_all/refused 300" in r.stderr
    assert json.loads((out / ".r1data" / "checkpoint.json").read_text())["cursor"] == 300


def test_a_finite_source_is_read_out_without_a_yield_stop(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = toy(tmp_path, every=40, size=100, sources={"syn": {"reader": "synthetic", "count": 1000}})
    r = cli("build", "toy", "--workspace", ws, "-o", tmp_path / "out", "--no-progress")
    assert r.exit_code == 0, r.stderr
    m = open_corpus(tmp_path / "out").manifest
    assert m["rows"] == 25 and "source ran out" in m["warnings"][0]


@pytest.mark.slow
def test_an_api_build_whose_answers_are_all_rejected_stops_after_few_calls(env, cli) -> None:  # type: ignore[no-untyped-def]
    """Issue 17's accident: every reply rejected, and 8,516 API calls before it stopped."""
    with serve("openai", {}) as server:                # every answer "unknown": all rejected
        profile = profile_file(env, server)
        out = env / "out"
        r = cli("build", "scene30k", "--size", "60", "-o", out, "--annotator", profile, "--no-progress")
        assert r.exit_code == 1
        line = r.stderr.strip()
        assert line.startswith("error: stopped early") and "verify/" in line and "API requests" in line and "$" in line
        assert server.calls < 1000, f"{server.calls} API calls before stopping"
        assert (out / ".r1data" / "checkpoint.json").exists()
        assert KEY not in r.stdout + r.stderr


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("R1DATA_BUILD_KEY", KEY)
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


# -- know the bill before paying it ---------------------------------------------------------------

def _numbers(text: str) -> dict[str, float]:
    m = re.search(r"annotate \(\S+, stand-in\): ([\d,]+) requests, .* \$([\d,.]+) at .*; ([\d.]+) min at 600 "
                  r"requests/min", text)
    assert m, text
    records = re.search(r"source records needed: ([\d,]+)", text)
    assert records, text
    return {"requests": float(m.group(1).replace(",", "")), "cost": float(m.group(2).replace(",", "")),
            "minutes": float(m.group(3)), "records": float(records.group(1).replace(",", ""))}


@pytest.mark.slow
def test_estimate_projects_the_bill_and_the_real_build_reuses_its_answers(programmatic, env, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, answers = programmatic
    with serve("openai", answers) as server:
        profile = profile_file(env, server, requests_per_minute=600)
        out = env / "real"
        args = ("build", "scene30k", "--size", "96", "-o", out, "--annotator", profile)
        r = cli(*args, "--estimate", "16", "--no-progress")
        assert r.exit_code == 0, r.stderr
        est = _numbers(r.stdout)
        assert "estimate for scene30k at 96 rows, from a real build of 16 rows" in r.stdout
        assert not out.exists() and not list(env.glob(".real-estimate-*")), "the estimate builds nothing else"
        asked = server.calls
        assert asked > 0

        # a second estimate is free and says the same (cached answers count what they cost)
        r2 = cli(*args, "--estimate", "16", "--no-progress")
        assert server.calls == asked and _numbers(r2.stdout) == est

        # the real build (with its bar) reuses the estimate's answers and costs what was estimated
        r = cli(*args)
        assert r.exit_code == 0, r.stderr
        assert "cost=$" in r.stderr and " of ~$" in r.stderr, "the bar shows the cost and the projected total"
        prompts = [s.prompt for s in server.seen]
        assert len(prompts) == len(set(prompts)), "nothing asked twice"
        usage = next(s for s in open_corpus(out).manifest["steps"] if s["step"] == "annotate")["usage"]
        assert usage["cache_hits"] > 0
        requests = usage["api_calls"] - usage["api_retries"] + usage["cache_hits"]
        total_cost = usage["cost_usd"] + (usage.get("cached_tokens_in", 0) * 1.0 + usage.get("cached_tokens_out", 0)
                                          * 4.0) / 1e6
        assert abs(est["requests"] - requests) / requests < 0.35, (est, requests)
        assert abs(est["cost"] - total_cost) / total_cost < 0.35, (est, total_cost)
        assert abs(est["minutes"] - requests / 600) < 0.2

        # the key: sent, but written nowhere
        assert any(KEY in s.auth for s in server.seen)
        for path in env.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path
        assert KEY not in r.stdout + r.stderr + r2.stdout + r2.stderr


def test_estimate_of_an_offline_build_says_there_is_nothing_to_pay(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("build", "scene30k", "--estimate", "8", "--size", "800", "-o", tmp_path / "o", "--no-progress")
    assert r.exit_code == 0, r.stderr
    assert "source records needed" in r.stdout and "no API calls" in r.stdout
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o-estimate-*"))
