"""Model-backed rewards (r1data.rewards.judged): the real openai client against the stand-in server
on 127.0.0.1. What a completion cannot be scored for (timeout, API error, unparsable answer) is
None with a counted reason, never 0; `r1data eval` reports the counts; TRL runs such rewards
concurrently."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from r1data import rewards
from r1data.rewards import judged
from r1data.rewards.evaluation import CorpusEvaluation, RewardUse, evaluate
from r1data.rewards.judged import Ask, ModelJudge, counting_unscored
from tests.servers import OpenAIChatServer

PLAN = "A <|obj_start|>red cat<|obj_end|> <|box_start|>(0,0),(500,500)<|box_end|> <begin_of_image>"


def write_profile(tmp_path: Path, server, **extra) -> str:  # type: ignore[no-untyped-def]
    settings = {"provider": "openai", "model": "judge-model", "base_url": server.url, "api_key_env": "R1DATA_TEST_KEY",
                "max_concurrency": 8, "max_retries": 0, "parse_retries": 0, "backoff_initial_s": 0.01,
                "backoff_max_s": 0.05, "timeout_s": 5, "temperature": 0, **extra}
    path = tmp_path / f"judge-{len(list(tmp_path.glob('judge-*.yaml')))}.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
    return str(path)


@pytest.fixture
def env(tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("R1DATA_TEST_KEY", "sk-test")
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path
    from r1data.rewards.got_judge import forget_judges

    forget_judges()


def score_of(prompt: str, n_images: int) -> str:
    """The stand-in judge: a score read off the caption ("... score 7"), prose for "prose"."""
    if "prose" in prompt:
        return "I would give it a seven."
    digits = [w for w in prompt.split() if w.isdigit()]
    return json.dumps({"score": int(digits[0]) if digits else 5})


def test_a_judge_that_times_out_scores_none_and_counts_it(env) -> None:  # type: ignore[no-untyped-def]
    with OpenAIChatServer(respond=score_of, latency_s=30.0) as server:
        judge = ModelJudge(write_profile(env, server), timeout_s=0.5, cache=None)
        asks = [Ask("got_judge_semantic", {"caption": "a cat", "reasoning": PLAN, "scale": "10"})] * 3
        t0 = time.monotonic()
        with counting_unscored() as counts:
            got = judge.ask(asks + [None], parse=lambda parsed: 0.5)
        assert time.monotonic() - t0 < 20                    # the deadline, not the server (30 s), ended the call
        assert got == [None, None, None, None]                # never a 0
        assert counts == {"timeout": 3}                       # the None Ask does not apply: not counted
        judge.close()


def test_api_errors_and_unparsable_answers_are_counted_by_reason(env) -> None:  # type: ignore[no-untyped-def]
    with OpenAIChatServer(respond=score_of, faults=lambda n, prompt: "500" if "broken" in prompt else None) as server:
        semantic = rewards.load("got.semantic", judge=write_profile(env, server))
        with counting_unscored() as counts:
            got = semantic(completions=[PLAN] * 4, caption=["score 7 cat", "prose cat", "broken cat", "score 3 cat"])
        assert got == [0.7, None, None, 0.3]
        assert counts == {"unparsable": 1, "gave_up_http_500": 1}
        assert judged.unscored_totals()["gave_up_http_500"] >= 1


def test_eval_reports_the_unscored_counts_per_reward(env) -> None:  # type: ignore[no-untyped-def]
    from r1data.cli.eval import format_report

    with OpenAIChatServer(respond=score_of) as server:
        evaluation = CorpusEvaluation("got", (RewardUse("got.semantic", params={"judge": write_profile(env, server)}),
                                              RewardUse("format.think_answer")))
        result = evaluate(evaluation, [PLAN] * 3, {"caption": ["score 8 cat", "prose cat", "prose dog"]})
    sem = result["rewards"]["got.semantic"]
    assert sem["mean"] == pytest.approx(0.8) and sem["rows"] == 1
    assert sem["unscored"] == {"unparsable": 2} and sem["not_applicable"] == 2
    assert "unscored" not in result["rewards"]["format.think_answer"]
    report = format_report({"corpus": "got", "data": "-", "split": "all", "rewards_from": "test", "rows": 3,
                            "predictions": 3, "scored": 3, "missing": 0, "extra": 0, "duplicates": 0,
                            "missing_ids": [], "extra_ids": [], "duplicate_ids": [], **result})
    assert "2 completions its model could not score: unparsable 2" in report


@pytest.mark.slow    # imports TRL (torch): about 5 s
def test_model_backed_rewards_run_concurrently_as_trl_async_rewards(env) -> None:  # type: ignore[no-untyped-def]
    from trl.trainer.utils import get_callable_name, is_async_callable

    from r1data.spec import RewardSpec
    from r1data.train.runner import load_reward_funcs

    with OpenAIChatServer(respond=score_of, latency_s=1.0) as server:
        profile = write_profile(env, server)
        funcs, _, _ = load_reward_funcs([RewardSpec(reward="got.semantic", params={"judge": profile}),
                                         RewardSpec(reward="got.spatial", params={"judge": profile}),
                                         RewardSpec(reward="got.layout")])
        assert [is_async_callable(f) for f in funcs] == [True, True, False]     # rule-based stays plain
        assert [get_callable_name(f) for f in funcs] == ["got.semantic", "got.spatial", "got.layout"]
        logged: list[tuple[str, float]] = []
        kwargs = {"prompts": [None] * 2, "completions": [PLAN] * 2, "caption": ["score 9 cat", "prose cat"],
                  "log_metric": lambda name, value: logged.append((name, value))}

        async def both():  # type: ignore[no-untyped-def]
            return await asyncio.gather(funcs[0](**kwargs), funcs[1](**kwargs))

        t0 = time.monotonic()
        sem, spa = asyncio.run(both())
        elapsed = time.monotonic() - t0
    assert sem == [0.9, None] and spa == [0.9, None]
    # both rewards' requests were in flight at once (run one after the other, at most 2 would be);
    # a wall-clock bound would test the machine's load, this does not
    assert server.max_in_flight == 4, f"the two judged rewards ran one after the other ({elapsed:.2f} s)"
    assert sorted(logged) == [("unscored/got.semantic/unparsable", 1.0), ("unscored/got.spatial/unparsable", 1.0)]


def test_a_refused_key_stops_with_one_line_not_a_run_of_nones(env) -> None:  # type: ignore[no-untyped-def]
    from r1data.annotators.request import AnnotatorUnusable

    with OpenAIChatServer(respond=score_of, faults=lambda n, prompt: "401") as server:
        judge = ModelJudge(write_profile(env, server), cache=None)
        with pytest.raises(AnnotatorUnusable, match="refused the API key"):
            judge.ask([Ask("got_judge_semantic", {"caption": "c", "reasoning": "r", "scale": "10"})], parse=float)
        judge.close()
