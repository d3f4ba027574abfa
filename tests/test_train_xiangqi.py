"""`r1data train` on a Xiangqi build: SFT then GRPO with the spec's xiangqi.* rewards, offline.

A tiny self-play build (real Fairy-Stockfish, a 400-node budget, short games) feeds a tiny random
Qwen2 (r1data.train.tiny) through the shipped recipe train/xiangqi.yaml (LoRA, `where: training`
rows, the spec's rewards), with only the sizes that make CPU slow turned down. The real rewards
are wrapped to record what TRL hands them, so the test sees the corpus columns each call got.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("pyffish")
from r1data.corpora.xiangqi.uci import DEFAULT_ENGINE  # noqa: E402

ENGINE = os.environ.get("R1DATA_FAIRY_STOCKFISH") or DEFAULT_ENGINE
if not (os.path.isfile(ENGINE) or shutil.which(ENGINE)):
    pytest.skip("fairy-stockfish is not installed (apt-get install fairy-stockfish)", allow_module_level=True)

REPO = Path(__file__).resolve().parents[1]
XIANGQI_REWARDS = ["xiangqi.legal", "xiangqi.good", "xiangqi.best", "xiangqi.situation", "xiangqi.format"]
SPY = "test_train_xiangqi.columns"
# what a Xiangqi reward must see of its row: the position, the moves and the engine's labels
SPY_COLUMNS = ("fen", "side_to_move", "legal_moves", "best_move", "best_score", "scored_moves",
               "scored_values", "situation")


def write_workspace(ws: Path, spec: dict) -> Path:
    (ws / "pipelines").mkdir(parents=True)
    (ws / "pipelines" / "xiangqi.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return ws


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """The shipped spec with a tiny engine budget and short games (a workspace overrides it)."""
    spec = yaml.safe_load((REPO / "pipelines" / "xiangqi.yaml").read_text())
    steps = {s["step"]: s for s in spec["steps"]}
    steps["xiangqi_selfplay"].update(max_plies=30, levels=[
        {"name": "strong", "nodes": 400, "weight": 2},
        {"name": "novice", "nodes": 100, "temperature": 120, "blunder": 0.1, "weight": 1}])
    steps["xiangqi_evaluate"]["nodes"] = 400
    return write_workspace(tmp_path_factory.mktemp("xq-train-ws"), spec)


@pytest.fixture(scope="module")
def build(tmp_path_factory, workspace: Path) -> Path:  # type: ignore[no-untyped-def]
    from r1data.engine.runner import build as run_build

    out = tmp_path_factory.mktemp("xq-train") / "xiangqi"
    run_build("xiangqi", out, size=40, progress=False, workspace=workspace)
    return out


@pytest.fixture(scope="module")
def rows_by_fen(build: Path) -> dict[str, dict]:
    from r1data.corpus import Corpus

    rows = Corpus(build).table("train").to_pylist()
    return {r["fen"]: r for r in rows if r["training"]}  # the recipe's `where: training`


@pytest.fixture(scope="module")
def tiny_qwen2(tmp_path_factory, build: Path) -> Path:  # type: ignore[no-untyped-def]
    from r1data.corpus import Corpus
    from r1data.train.tiny import make_tiny_model

    t = Corpus(build).table("train", columns=["question", "analysis"])
    texts = t.column("question").to_pylist() + t.column("analysis").to_pylist()
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2", "text", texts)


@pytest.fixture
def train_workspace(tmp_path: Path, workspace: Path) -> Path:
    """The build's spec plus a reward reading every column a Xiangqi reward may want (weight 0:
    it changes nothing), so that TRL hands the rows' ``fen`` and labels to every reward."""
    spec = yaml.safe_load((workspace / "pipelines" / "xiangqi.yaml").read_text())
    assert [r["reward"] for r in spec["rewards"]] == XIANGQI_REWARDS
    spec["rewards"].append({"reward": SPY, "weight": 0.0})
    return write_workspace(tmp_path / "train-ws", spec)


@pytest.fixture
def recorded(monkeypatch) -> Iterator[dict[str, list[dict]]]:  # type: ignore[no-untyped-def]
    """Every reward call by name: the keyword columns TRL passed, the prompts, the scores returned.
    The spec's rewards are the real ones, wrapped where the trainer loads them."""
    from r1data import rewards
    from r1data.rewards import _core

    calls: dict[str, list[dict]] = {}

    @rewards.reward(SPY, columns=SPY_COLUMNS)
    def spy(prompts=None, completions=(), *, fen=None, side_to_move=None,  # type: ignore[no-untyped-def]
            legal_moves=None, best_move=None, best_score=None, scored_moves=None, scored_values=None,
            situation=None, **kw):
        return [0.0] * len(completions)

    real_load = rewards.load

    def recording_load(name: str, **params: Any):  # type: ignore[no-untyped-def]
        fn = real_load(name, **params)

        @functools.wraps(fn)  # keeps __name__: TRL logs rewards/<name>/mean
        def wrapper(prompts=None, completions=(), **kw):  # type: ignore[no-untyped-def]
            scores = fn(prompts=prompts, completions=completions, **kw)
            calls.setdefault(name, []).append({"prompts": prompts, "n": len(completions), "scores": scores,
                                               "params": params, **kw})
            return scores

        return wrapper

    monkeypatch.setattr(rewards, "load", recording_load)
    yield calls
    _core._REGISTRY.pop(SPY, None)  # other tests list the registry


def write_recipe(path: Path, model: Path) -> Path:
    """train/xiangqi.yaml as shipped, with CPU-sized batches, generations and steps."""
    recipe = yaml.safe_load((REPO / "train" / "xiangqi.yaml").read_text())
    recipe["model"] = str(model)
    recipe["sft"]["rows"]["limit"] = 4
    recipe["sft"]["config"].update(per_device_train_batch_size=2, gradient_accumulation_steps=1, max_steps=2,
                                   save_steps=1, logging_steps=1)
    recipe["grpo"]["rows"]["limit"] = 2
    recipe["grpo"]["config"].update(per_device_train_batch_size=2, gradient_accumulation_steps=1,
                                    num_generations=2, max_completion_length=16, max_steps=2, save_steps=1)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def log_entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def user_text(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt if m["role"] == "user")


@pytest.mark.slow
def test_sft_then_grpo_with_the_xiangqi_rewards_then_resume(tmp_path: Path, build: Path, train_workspace: Path,
                                                            tiny_qwen2: Path, rows_by_fen: dict,
                                                            recorded: dict) -> None:
    from r1data.assets import Assets
    from r1data.train import TrainRequest, load_recipe, run_training

    assert len(rows_by_fen) >= 4, "the tiny build has too few training rows"
    recipe = load_recipe(write_recipe(tmp_path / "xiangqi.yaml", tiny_qwen2))
    assert recipe.recipe.rewards is None and recipe.recipe.lora.enabled  # the spec's rewards, LoRA
    run = tmp_path / "run"
    assets = Assets.from_workspace(train_workspace)
    summary = run_training(TrainRequest(build, recipe, run, assets=assets))

    # -- both stages ran two steps, with finite losses, and wrote checkpoints -------------------
    sft, grpo = summary["stages"]["sft"], summary["stages"]["grpo"]
    assert summary["lora"] is True and summary["vision"] is False
    assert summary["rewards_from"] == str(train_workspace / "pipelines" / "xiangqi.yaml")
    assert sft["global_step"] == 2 and sft["rows"] == 4 and grpo["global_step"] == 2 and grpo["rows"] == 2
    assert grpo["start_model"] == str(run / "sft" / "final")  # GRPO starts from the SFT model
    for stage in ("sft", "grpo"):
        losses = [e["loss"] for e in log_entries(run / stage / "log.jsonl") if "loss" in e]
        assert len(losses) == 2 and all(abs(loss) < 1e4 for loss in losses), (stage, losses)  # finite
        for step in (1, 2):
            assert (run / stage / f"checkpoint-{step}" / "adapter_config.json").exists()  # LoRA adapters
        assert (run / stage / "final" / "model.safetensors").exists()  # merged
    assert sft["last_loss"] is not None and grpo["last_loss"] is not None

    # -- every reward was called with the corpus columns of the rows GRPO read -------------------
    assert sorted(recorded) == sorted([*XIANGQI_REWARDS, SPY])
    assert grpo["reward_weights"] == pytest.approx([1.0] * 5 + [0.0])
    assert recorded["xiangqi.good"][0]["params"] == {"margin": 100}
    for name, calls in recorded.items():
        assert len(calls) == 2, name  # one call per GRPO step
        for c in calls:
            assert c["n"] == 2 and len(c["scores"]) == 2
            assert all(s is None or s in (0.0, 1.0) for s in c["scores"]), (name, c["scores"])
            assert len(c["fen"]) == len(c["prompts"]) == c["n"]
            for i, fen in enumerate(c["fen"]):
                row = rows_by_fen[fen]  # a training row of the train split
                assert fen in user_text(c["prompts"][i])  # the column belongs to the prompted position
                for col in SPY_COLUMNS[1:]:
                    assert c[col][i] == row[col], (name, col)
    # the columns are the ones the rewards need: the reference analysis scores 1 on each reward
    from r1data import rewards

    for name in XIANGQI_REWARDS:
        c, info = recorded[name][0], rewards.info(name)
        reference = [rows_by_fen[fen]["analysis"] for fen in c["fen"]]
        columns = {col: c[col] for col in info.columns}
        assert info.fn(prompts=c["prompts"], completions=reference, **columns, **c["params"]) == [1.0, 1.0], name
    logged = [e for e in log_entries(run / "grpo" / "log.jsonl") if "rewards/xiangqi.legal/mean" in e]
    assert len(logged) == 2 and all(f"rewards/{n}/mean" in e for e in logged for n in XIANGQI_REWARDS)
    assert set(grpo["reward_means"]) == {*XIANGQI_REWARDS, SPY}

    # -- more steps: each stage continues from its last checkpoint ------------------------------
    recorded.clear()
    summary = run_training(TrainRequest(build, load_recipe(tmp_path / "xiangqi.yaml"), run, max_steps=3,
                                        assets=assets))
    for stage in ("sft", "grpo"):
        s = summary["stages"][stage]
        assert s["global_step"] == 3 and s["resumed_from"] == str(run / stage / "checkpoint-2")
        steps = [e["step"] for e in log_entries(run / stage / "log.jsonl") if "loss" in e]
        assert steps == [1, 2, 3]  # the resumed run trained step 3 only
        assert (run / stage / "checkpoint-3" / "adapter_config.json").exists()
    assert all(len(calls) == 1 for calls in recorded.values()) and len(recorded) == 6  # one GRPO step
