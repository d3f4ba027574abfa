"""InfiGUI-R1's sub-goal reward with a judge model: the real openai client pointed at the OpenAI
stand-in server on 127.0.0.1, the real AnnotatorClient, its retries, timeout and cache."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from r1data import rewards
from r1data.errors import UsageError
from r1data.rewards.infigui_subgoal import SubgoalJudge, forget_judges, subgoal_judge  # noqa: F401
from tests.servers import OpenAIChatServer


def judge_answer(prompt: str, n_images: int) -> str:
    """The stand-in judge: 9 when the agent's sub-goal names the reference's last word, else 2;
    agent sub-goals starting with a marker get a bad answer."""
    ref = re.search(r"## Reference sub-goal of this step\n(.*)\n", prompt).group(1)
    pred = re.search(r"## The agent's sub-goal\n(.*)\n", prompt).group(1)
    bad = {"prose": "Looks right to me.", "range": '{"score": 12}'}.get(pred.split()[0])
    if bad is not None:
        return bad
    return json.dumps({"score": 9 if ref.split()[-1].lower() in pred.lower() else 2})


@pytest.fixture
def server():  # type: ignore[no-untyped-def]
    with OpenAIChatServer(respond=judge_answer) as s:
        yield s


@pytest.fixture
def profile(server, tmp_path: Path, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("R1DATA_TEST_KEY", "sk-test")
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "judge.yaml"
    path.write_text(f"provider: openai\nmodel: judge-model\nbase_url: {server.url}\napi_key_env: R1DATA_TEST_KEY\n"
                    "max_concurrency: 4\nmax_retries: 1\nparse_retries: 1\nbackoff_initial_s: 0.01\n"
                    "backoff_max_s: 0.05\ntimeout_s: 5\ntemperature: 0\nprice_input_per_million: 1.0\n"
                    "price_output_per_million: 2.0\n")
    yield str(path)
    forget_judges()


def step(sub_goal: str) -> str:
    return f"<think>I look at the screen. <step>{sub_goal}</step></think><tool_call>{{}}</tool_call>"


def test_the_judge_scores_sub_goals_in_one_batch_and_the_cache_answers_a_rerun(server, profile) -> None:  # type: ignore[no-untyped-def]
    fn = rewards.load("infigui.subgoal", judge=profile)
    completions = [step("Tap the Groceries list"), step("Turn off Wi-Fi"), "<think>nothing</think>",
                   step("whatever")]
    cols = dict(sub_goal=["Open the Groceries", "Open the Groceries", "Open the Groceries", None],
                goal=["Add milk to my groceries list"] * 4)
    got = fn(completions=completions, **cols)
    assert got == [0.9, 0.2, 0.0, None]            # no <step>: 0 without a call; no reference: None
    assert server.calls == 2
    assert all("Add milk to my groceries list" in s.prompt and s.image_sizes == [] for s in server.seen)
    assert fn(completions=completions, **cols) == got and server.calls == 2      # from the cache
    usage = subgoal_judge(profile).usage
    assert usage.cache_hits == 2 and usage.calls == 2 and usage.cost_usd > 0


def test_an_unparsable_or_out_of_range_answer_is_none_not_a_guess(server, profile) -> None:  # type: ignore[no-untyped-def]
    from r1data.rewards.judged import counting_unscored

    fn = rewards.load("infigui.subgoal", judge=profile)
    with counting_unscored() as counts:
        got = fn(completions=[step("prose answer"), step("range answer"), step("open the list")],
                 sub_goal=["open the list"] * 3, goal=["g"] * 3)
    assert got == [None, None, 0.9]
    assert counts == {"unparsable": 2}            # None with a counted reason, never a 0
    assert server.calls == 2 + 1 + 1               # prose is re-asked once (parse_retries 1), then dropped


def test_a_programmatic_or_keyless_profile_is_a_one_line_usage_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="programmatic"):
        SubgoalJudge("programmatic")
    monkeypatch.delenv("R1DATA_TEST_KEY", raising=False)
    path = tmp_path / "nokey.yaml"
    path.write_text("provider: openai\nmodel: m\nbase_url: http://127.0.0.1:9/v1\napi_key_env: R1DATA_TEST_KEY\n")
    with pytest.raises(UsageError, match="R1DATA_TEST_KEY"):
        rewards.load("infigui.subgoal", judge=str(path))(completions=[step("x")], sub_goal=["x"], goal=["g"])
    with pytest.raises(UsageError, match="judge must be"):
        rewards.load("infigui.subgoal", judge=3)(completions=[step("x")], sub_goal=["x"], goal=["g"])
