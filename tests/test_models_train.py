"""The loop closed on CPU, offline: `r1data train` (TRL's real GRPOTrainer) with a model-backed
reward judged by the stand-in server, then the run folder it wrote rolled out and evaluated as a
local checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import r1data
from r1data.rewards import reward
from r1data.rewards.got_judge import parse_score
from r1data.rewards.judged import Ask, judge_for
from tests.servers import OpenAIChatServer
from tests.test_rewards_judged import write_profile
from tests.test_train import write_recipe


def judged_reward(prompts=None, completions=(), *, judge: str = "", **_):  # type: ignore[no-untyped-def]
    """A judge's score of each completion (through r1data.rewards.judged)."""
    from r1data.rewards._core import texts

    asks = [Ask("got_judge_semantic", {"caption": "a room", "reasoning": t, "scale": "10"}) for t in texts(completions)]
    return judge_for(judge).ask(asks, parse_score)


@pytest.fixture
def judged_registered():  # type: ignore[no-untyped-def]
    """The test reward in the registry for this test only (other tests list the papers' families)."""
    from r1data.rewards._core import _REGISTRY

    reward("test_models.judged", rule_based=False, paper="a test judge")(judged_reward)
    yield
    _REGISTRY.pop("test_models.judged", None)


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    from r1data.cli import main

    out = tmp_path_factory.mktemp("loop") / "scene30k"
    assert main(["build", "scene30k", "--size", "16", "-o", str(out), "--no-progress"]) == 0
    return out


@pytest.mark.slow
def test_grpo_with_a_judged_reward_then_rollout_and_eval_of_the_run(build: Path, tmp_path: Path, monkeypatch, cli,  # type: ignore[no-untyped-def]
                                                                   judged_registered) -> None:
    from r1data.train import TrainRequest, load_recipe, run_training
    from r1data.train.tiny import make_tiny_model

    monkeypatch.setenv("R1DATA_TEST_KEY", "sk-test")
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    t = r1data.open_corpus(build).table("train", columns=["question", "cot"])
    tiny = make_tiny_model(tmp_path / "tiny", "text", t.column("question").to_pylist() + t.column("cot").to_pylist())
    with OpenAIChatServer(respond=lambda prompt, n: json.dumps({"score": 7})) as server:
        profile = write_profile(tmp_path, server)
        recipe = write_recipe(tmp_path / "r.yaml", tiny,
                              sft={"enabled": False},
                              grpo={"rows": {"split": "train", "limit": 2},
                                    "config": {"per_device_train_batch_size": 2, "num_generations": 2,
                                               "max_completion_length": 6, "max_steps": 1, "save_steps": 1}},
                              rewards=[{"reward": "scene30k.format", "weight": 1.0},
                                       {"reward": "test_models.judged", "weight": 1.0, "params": {"judge": profile}}])
        run = tmp_path / "run"
        summary = run_training(TrainRequest(build, load_recipe(recipe), run, stage="grpo"))
        assert 1 <= server.calls <= 2             # one step: 2 completions (1 prompt x 2 generations), judged
    grpo = summary["stages"]["grpo"]
    assert grpo["reward_means"]["test_models.judged"] == pytest.approx(0.7)
    assert (run / "grpo" / "final" / "model.safetensors").exists()

    # the run folder is a model: rollout picks its GRPO model, samples on CPU, seeded
    args = ["rollout", build, "--model", run, "--recipe", recipe, "--samples", "2", "--accuracy", "scene30k.format",
            "--max-new-tokens", "6", "--limit", "6", "--no-progress"]
    r = cli(*args, "-o", tmp_path / "roll")
    assert r.exit_code == 0, r.stderr
    corpus = r1data.open_corpus(tmp_path / "roll")
    step = corpus.manifest["steps"][0]
    assert step["info"]["model"]["checkpoint"].endswith("grpo/final")
    rows = corpus.table(columns=["id", "pass_rate", "rollout_rewards", "rollout_completions"]).to_pylist()
    assert len(rows) == 6 and all(len(x["rollout_completions"]) == 2 for x in rows)
    assert all(x["pass_rate"] is not None and 0 <= x["pass_rate"] <= 1 for x in rows)
    again = cli(*args, "-o", tmp_path / "roll2")
    assert again.exit_code == 0, again.stderr
    assert r1data.open_corpus(tmp_path / "roll2").table(columns=["rollout_completions"]).to_pylist() == \
        corpus.table(columns=["rollout_completions"]).to_pylist()            # same seed, same samples
    e = cli("eval", "scene30k", "--data", build, "--model", run / "grpo", "--recipe", recipe, "--reward",
            "scene30k.format", "--max-new-tokens", "6", "--limit", "4", "--json", "--no-progress")
    assert e.exit_code == 0, e.stderr
    assert json.loads(e.stdout)["model"]["checkpoint"].endswith("grpo/final")
