"""`r1data train`: SFT then GRPO with TRL's real trainers on a tiny scene30k build, offline.

The models are tiny random Qwen2 / Qwen2.5-VL built from configs with a tokenizer trained here
(r1data.train.tiny), so nothing is downloaded; each stage runs a few steps on CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from r1data.errors import SpecError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    from r1data.cli import main

    out = tmp_path_factory.mktemp("train") / "scene30k"
    assert main(["build", "scene30k", "--size", "40", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def corpus_texts(build: Path) -> list[str]:
    from r1data.corpus import Corpus

    t = Corpus(build).table("train", columns=["question", "cot"])
    return t.column("question").to_pylist() + t.column("cot").to_pylist()


@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory, corpus_texts) -> Path:  # type: ignore[no-untyped-def]
    from r1data.train.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2", "text", corpus_texts)


@pytest.fixture(scope="module")
def tiny_vl(tmp_path_factory, corpus_texts) -> Path:  # type: ignore[no-untyped-def]
    from r1data.train.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen25vl", "vl", corpus_texts)


def write_recipe(path: Path, model: Path | str, **overrides: object) -> Path:
    """A small recipe: a few rows, a few steps, tiny generations."""
    recipe: dict = {
        "corpus": "scene30k",
        "model": str(model),
        "system_prompt": "Think, then answer as <think>...</think><answer>...</answer>.",
        "data": {"max_images": 1},
        "sft": {"rows": {"split": "train", "limit": 8},
                "config": {"per_device_train_batch_size": 4, "learning_rate": 5e-3, "max_steps": 2,
                           "save_steps": 1}},
        "grpo": {"rows": {"split": "train", "limit": 4},
                 "config": {"per_device_train_batch_size": 2, "num_generations": 2, "max_completion_length": 8,
                            "max_steps": 2, "save_steps": 1}},
        "rewards": [{"reward": "scene30k.format", "weight": 0.3},
                    {"reward": "scene30k.perception", "weight": 0.4}],
    }
    for key, value in overrides.items():
        if value is None:
            recipe.pop(key, None)
        elif isinstance(value, dict) and isinstance(recipe.get(key), dict):
            recipe[key] = {**recipe[key], **value}
        else:
            recipe[key] = value
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def log_entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- recipes ---------------------------------------------------------------------------------

@pytest.mark.slow  # imports TRL to check the config fields
def test_shipped_recipes_load_and_name_a_known_corpus() -> None:
    from r1data.spec import load_spec
    from r1data.train import load_recipe

    from r1data.train.data import resolve_mapping
    from r1data.train.runner import TrainRequest, load_reward_funcs, trainer_args

    recipes = sorted((REPO / "train").glob("*.yaml"))
    # one recipe per shipped corpus
    assert {p.stem for p in recipes} >= {p.stem for p in (REPO / "pipelines").glob("*.yaml")}
    for path in recipes:
        loaded = load_recipe(path)
        spec = load_spec(loaded.recipe.corpus)  # the corpus exists
        # every stage a recipe runs is configured (STAR-R1's recipe has no SFT stage at all)
        assert loaded.recipe.grpo.config and (loaded.recipe.sft.config or not loaded.recipe.sft.enabled)
        # the TRL configs build, and the row mapping resolves against the corpus's schema
        req = TrainRequest(Path("."), loaded, Path("unused"))
        trainer_args("sft", req, Path("unused/sft"), {})
        trainer_args("grpo", req, Path("unused/grpo"), {})
        _, _, columns = load_reward_funcs(list(loaded.recipe.rewards or spec.spec.rewards))
        schema = yaml.safe_load((REPO / "schemas" / f"{loaded.recipe.corpus}.yaml").read_text())
        mapping = resolve_mapping(loaded, schema, columns, vision=loaded.recipe.corpus != "xiangqi")
        assert mapping.completion or mapping.completion_template, path
    longvideo = resolve_mapping(load_recipe(REPO / "train" / "longvideo.yaml"),
                                yaml.safe_load((REPO / "schemas" / "longvideo.yaml").read_text()), ["answer"], True)
    assert (longvideo.videos, longvideo.video_frames, longvideo.images) == ("videos", 32, None)


def test_bad_recipe_key_names_the_file_line_and_key(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from r1data.train import load_recipe

    path = write_recipe(tmp_path / "bad.yaml", "unused",
                        sft={"config": {"learning_rat": 1e-5, "max_steps": 2}})
    with pytest.raises(SpecError) as e:
        load_recipe(path)
    msg = e.value.message
    assert str(path) in msg and "sft.config.learning_rat" in msg
    assert "unknown TRL SFTConfig field" in msg and "did you mean 'learning_rate'" in msg
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "learning_rat:" in text)
    assert msg.startswith(f"{path}:{line}: sft.config.learning_rat")

    # a recipe key r1data sets itself, an unknown top-level key, a wrong reward name and parameter
    path = write_recipe(tmp_path / "bad2.yaml", "unused", grpo={"config": {"reward_weights": [1.0]}})
    with pytest.raises(SpecError, match=r"grpo\.config\.reward_weights: not settable in a recipe"):
        load_recipe(path)
    path = write_recipe(tmp_path / "bad3.yaml", "unused", epochs=3)
    with pytest.raises(SpecError, match=r"bad3\.yaml:\d+: epochs: unknown key"):
        load_recipe(path)
    path = write_recipe(tmp_path / "bad4.yaml", "unused",
                        rewards=[{"reward": "scene30k.formt"}, {"reward": "xiangqi.good", "params": {"margn": 5}}])
    with pytest.raises(SpecError) as e:
        load_recipe(path)
    assert "rewards[0].reward: unknown reward 'scene30k.formt'; did you mean 'scene30k.format'" in e.value.message
    assert "rewards[1].params: unknown parameter 'margn' of xiangqi.good" in e.value.message

    # through the CLI: one line, exit code 2
    r = cli("train", str(tmp_path), "--recipe", str(tmp_path / "bad.yaml"), "--output", str(tmp_path / "run"))
    assert r.exit_code == 2
    assert "sft.config.learning_rat: unknown TRL SFTConfig field" in r.stderr
    assert "Traceback" not in r.stderr


def test_rows_the_processor_cannot_take_are_counted_not_fatal(tmp_path: Path, build: Path, tiny_vl: Path) -> None:
    from r1data.corpus import Corpus
    from r1data.train import load_recipe
    from r1data.train.data import RowFormatter, resolve_mapping
    from r1data.train.models import load_processing_class

    loaded = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_vl, data={"max_images": 1}))
    mapping = resolve_mapping(loaded, Corpus(build).manifest["schema"], ["target_box"], vision=True)
    assert (mapping.images, mapping.completion, mapping.prompt_fields) == ("images", "cot", ["question"])
    fmt = RowFormatter(loaded, mapping, load_processing_class(str(tiny_vl), True))
    rows = Corpus(build).table("train", columns=mapping.columns("sft")).slice(0, 6).to_pylist()
    rows[0]["images"] = []                            # no image
    rows[1]["images"] = [{"bytes": b"not a png", "path": None}]  # undecodable
    rows[2]["cot"] = "  "                             # nothing to learn
    examples, skipped = fmt.sft(rows, max_tokens=None)
    assert len(examples) == 3
    assert skipped.to_dict() == {
        "missing_image": {"rows": 2, "examples": [rows[0]["id"], rows[1]["id"]]},
        "empty_completion": {"rows": 1, "examples": [rows[2]["id"]]},
    }
    # the user turn holds one image block per image, then the question
    user = examples[0]["messages"][1]
    assert user["content"][0] == {"type": "image"} and user["content"][1]["text"] == rows[3]["question"]
    # a token limit below every row skips them all as too long (and says so), no crash
    examples, skipped = fmt.grpo(rows[3:], max_prompt_tokens=5)
    assert examples == [] and skipped.counts["too_long"] == 3


# -- training --------------------------------------------------------------------------------

@pytest.mark.slow
def test_sft_writes_a_checkpoint_and_the_loss_goes_down(tmp_path: Path, build: Path, tiny_text: Path) -> None:
    from r1data.train import TrainRequest, load_recipe, run_training

    recipe = write_recipe(tmp_path / "sft.yaml", tiny_text,
                          sft={"rows": {"split": "train", "limit": 4},
                               "config": {"per_device_train_batch_size": 4, "learning_rate": 1e-2,
                                          "max_steps": 8, "save_steps": 4}})
    run = tmp_path / "run"
    summary = run_training(TrainRequest(build, load_recipe(recipe), run, stage="sft"))
    sft = summary["stages"]["sft"]
    assert list(summary["stages"]) == ["sft"] and sft["global_step"] == 8 and sft["rows"] == 4
    losses = [e["loss"] for e in log_entries(run / "sft" / "log.jsonl") if "loss" in e]
    assert len(losses) == 8 and all(l == l and l < 100 for l in losses)  # finite
    # the same four rows, eight times: a model that learns fits them
    assert losses[-1] < 0.8 * losses[0], losses
    assert (run / "sft" / "checkpoint-8" / "model.safetensors").exists()
    assert (run / "sft" / "final" / "model.safetensors").exists()
    assert (run / "sft" / "final" / "tokenizer.json").exists()
    assert json.loads((run / "summary.json").read_text())["stages"]["sft"]["last_loss"] == pytest.approx(losses[-1])


@pytest.mark.slow
def test_grpo_uses_the_spec_rewards_weights_params_and_columns(tmp_path: Path, build: Path,
                                                               tiny_vl: Path) -> None:
    """No `rewards:` in the recipe: GRPO takes the corpus spec's list, weights and parameters,
    calls each reward with the corpus columns, and logs a mean per reward."""
    from r1data import rewards
    from r1data.assets import Assets
    from r1data.corpus import Corpus
    from r1data.train import TrainRequest, load_recipe, run_training

    calls: list[dict] = []

    @rewards.reward("test_train.spy", columns=("answer", "target_box"))
    def spy(prompts=None, completions=(), *, answer=None, target_box=None, scale: float = 1.0, **kw):  # type: ignore[no-untyped-def]
        calls.append({"answer": list(answer), "target_box": list(target_box), "scale": scale,
                      "n": len(completions), "images": kw.get("images")})
        return [scale * 0.5] * len(completions)

    workspace = tmp_path / "ws"
    (workspace / "pipelines").mkdir(parents=True)
    spec = yaml.safe_load((REPO / "pipelines" / "scene30k.yaml").read_text())
    spec["rewards"] = [{"reward": "scene30k.format", "weight": 0.25},
                       {"reward": "test_train.spy", "weight": 2.0, "params": {"scale": 3.0}}]
    (workspace / "pipelines" / "scene30k.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    recipe = write_recipe(tmp_path / "grpo.yaml", tiny_vl, rewards=None,
                          grpo={"rows": {"split": "train", "where": "question_type = 'referring'", "limit": 2}})

    run = tmp_path / "run"
    summary = run_training(TrainRequest(build, load_recipe(recipe), run, stage="grpo",
                                        assets=Assets.from_workspace(workspace)))
    grpo = summary["stages"]["grpo"]
    assert summary["rewards_from"] == str(workspace / "pipelines" / "scene30k.yaml")
    assert grpo["reward_weights"] == pytest.approx([0.25, 2.0])
    assert grpo["global_step"] == 2 and grpo["start_model"] == str(tiny_vl)
    # called with the corpus's columns for the rows GRPO read (referring questions: a target box)
    referring = {r["answer"]: r["target_box"] for r in Corpus(build).table("train").to_pylist()
                 if r["question_type"] == "referring"}
    assert calls and all(c["scale"] == 3.0 for c in calls)
    for c in calls:
        assert len(c["answer"]) == len(c["target_box"]) == c["n"]
        for answer, box in zip(c["answer"], c["target_box"]):
            assert referring[answer] == pytest.approx(box)
        assert c["images"] and all(len(imgs) == 1 for imgs in c["images"])  # max_images: 1
    logged = [e for e in log_entries(run / "grpo" / "log.jsonl") if "rewards/test_train.spy/mean" in e]
    assert len(logged) == 2
    assert all(e["rewards/test_train.spy/mean"] == pytest.approx(1.5) for e in logged)
    assert all("rewards/scene30k.format/mean" in e for e in logged)
    assert grpo["reward_means"]["test_train.spy"] == pytest.approx(1.5)
    assert (run / "grpo" / "final" / "model.safetensors").exists()


@pytest.mark.slow
def test_cli_runs_sft_then_grpo_and_resumes(tmp_path: Path, build: Path, tiny_text: Path, cli) -> None:  # type: ignore[no-untyped-def]
    recipe = write_recipe(tmp_path / "r.yaml", "not/a/model")
    run = tmp_path / "run"
    args = ["train", str(build), "--recipe", str(recipe), "--output", str(run), "--model", str(tiny_text)]
    r = cli(*args, "--max-steps", "2")
    assert r.exit_code == 0, r.stderr
    assert "sft: 2 steps on 8 rows" in r.stdout and "grpo: 2 steps on 4 rows" in r.stdout
    assert "rewards/scene30k.format/mean" in r.stdout and "rewards/scene30k.perception/mean" in r.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stages"]["grpo"]["start_model"] == str(run / "sft" / "final")  # GRPO starts from SFT
    assert summary["base_model"] == str(tiny_text) and summary["vision"] is False
    for stage in ("sft", "grpo"):
        assert (run / stage / "checkpoint-2").is_dir() and (run / stage / "final" / "config.json").exists()

    # the same command again: nothing to do
    r = cli(*args, "--max-steps", "2")
    assert r.exit_code == 0 and "sft: already trained to step 2" in r.stdout

    # more steps: each stage continues from its last checkpoint
    r = cli(*args, "--max-steps", "3")
    assert r.exit_code == 0, r.stderr
    assert "sft: 3 steps" in r.stdout and "resumed from checkpoint-2" in r.stdout
    summary = json.loads((run / "summary.json").read_text())
    for stage in ("sft", "grpo"):
        s = summary["stages"][stage]
        assert s["global_step"] == 3 and s["resumed_from"] == str(run / stage / "checkpoint-2")
        steps = [e["step"] for e in log_entries(run / stage / "log.jsonl") if "loss" in e]
        assert steps == [1, 2, 3]  # the resumed run logged only step 3


@pytest.mark.slow
def test_lora_switch_trains_adapters_and_saves_a_merged_model(tmp_path: Path, build: Path, tiny_text: Path) -> None:
    from r1data.train import TrainRequest, load_recipe, run_training

    recipe = write_recipe(tmp_path / "lora.yaml", tiny_text,
                          lora={"enabled": True, "r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]})
    run = tmp_path / "run"
    summary = run_training(TrainRequest(build, load_recipe(recipe), run, max_steps=1))
    assert summary["lora"] is True and summary["stages"]["grpo"]["global_step"] == 1
    final = run / "grpo" / "final"
    assert (final / "model.safetensors").exists() and not (final / "adapter_config.json").exists()
    assert (run / "sft" / "checkpoint-1" / "adapter_config.json").exists()  # checkpoints hold the adapters


@pytest.mark.slow
def test_vl_sft_trains_on_rows_with_their_images(tmp_path: Path, build: Path, tiny_vl: Path) -> None:
    """The image corpus path: tiny Qwen2.5-VL, two SFT steps on rows with their rendered views."""
    from r1data.train import TrainRequest, load_recipe, run_training

    recipe = write_recipe(tmp_path / "vl.yaml", tiny_vl,
                          sft={"rows": {"split": "train", "limit": 4},
                               "config": {"per_device_train_batch_size": 2, "max_steps": 2, "save_steps": 1}})
    run = tmp_path / "run"
    summary = run_training(TrainRequest(build, load_recipe(recipe), run, stage="sft"))
    sft = summary["stages"]["sft"]
    assert sft["global_step"] == 2 and sft["rows"] == 4
    losses = [e["loss"] for e in log_entries(run / "sft" / "log.jsonl") if "loss" in e]
    assert len(losses) == 2 and all(l == l and l < 100 for l in losses)
    assert (run / "sft" / "checkpoint-2" / "model.safetensors").exists()
    assert (run / "sft" / "final" / "model.safetensors").exists()


def test_fraction_gives_disjoint_stable_shares_of_a_split(tmp_path: Path, build: Path) -> None:
    from r1data.corpus import Corpus
    from r1data.train.data import read_rows
    from r1data.train.recipe import LoadedRecipe, Recipe, RowsSpec
    from r1data.yamlio import LineMap

    loaded = LoadedRecipe(Recipe(corpus="scene30k", model="m"), tmp_path / "r.yaml", LineMap())
    corpus = Corpus(build)

    def ids(**rows: object) -> list[str]:
        return [r["id"] for r in read_rows(corpus, RowsSpec(**rows), ["id"], loaded, "sft")]

    everything = ids(split="train")
    sft, rl = ids(split="train", fraction=(0.0, 0.3333)), ids(split="train", fraction=(0.3333, 1.0))
    assert not set(sft) & set(rl) and sorted(sft + rl) == sorted(everything)
    assert 0.15 < len(sft) / len(everything) < 0.55            # about a third (few rows)
    assert ids(split="train", fraction=(0.0, 0.3333)) == sft    # stable
    assert ids(split="train", fraction=(0.3333, 1.0), limit=2) == rl[:2]
    with pytest.raises(Exception, match="fraction"):
        RowsSpec(fraction=(0.5, 0.2))
