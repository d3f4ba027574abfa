"""`r1data train` on the love corpus: LOVE-R1's zoom-in SFT examples and its decoupled two-step GRPO
(r1data.train.zoom), with a tiny random Qwen2.5-VL on CPU (r1data.train.tiny) and TRL's real trainer.

The first test trains end to end with the model's own (random) completions; the second scripts the
completions so that the zoom path, the per-step rewards, the masking and the step-2 schedule are
all exercised, and checks them where the trainer holds them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def love_setup(tmp_path_factory):  # type: ignore[no-untyped-def]
    from r1data.corpus import Corpus
    from r1data.engine.runner import build
    from r1data.train.tiny import make_tiny_model
    from tests.test_love import tiny_workspace

    root = tmp_path_factory.mktemp("love-train")
    out = root / "love"
    build("love", out, size=6, progress=False, workspace=tiny_workspace(root))
    rows = Corpus(out).table("train").to_pylist()
    texts = [r["question_text"] for r in rows] + [r["zoom_cot"] + r["answer_cot"] for r in rows]
    tiny = make_tiny_model(root / "tiny-vl", "vl", texts)
    return out, tiny, rows


def write_recipe(path: Path, tiny: Path, **grpo) -> Path:  # type: ignore[no-untyped-def]
    recipe = yaml.safe_load((REPO / "train" / "love.yaml").read_text())
    recipe["model"], recipe["dtype"] = str(tiny), None
    recipe["data"]["zoom"].update(max_fast_frames=4, fast_pixels=784, slow_pixels=3136, max_slow_frames=2,
                                  sft_max_slow_frames=2)
    recipe["sft"]["config"] = {"per_device_train_batch_size": 2, "max_steps": 1, "save_steps": 1}
    recipe["grpo"]["config"].update(per_device_train_batch_size=2, num_generations=2, gradient_accumulation_steps=1,
                                    max_completion_length=12, max_steps=2, save_steps=1, bf16=False,
                                    activation_checkpointing=False)
    recipe["grpo"].update(grpo)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.mark.slow
def test_sft_then_decoupled_grpo_train_on_the_zoom_in_views(tmp_path: Path, love_setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from transformers import Qwen2_5_VLProcessor

    from r1data.train import TrainRequest, load_recipe, run_training

    out, tiny, rows = love_setup
    seen: list[tuple[str, int]] = []          # (prompt text, images) of every processor call with images
    original = Qwen2_5_VLProcessor.__call__

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        text = kwargs.get("text")
        images = kwargs.get("images")
        if text is not None and images:
            for t, ims in zip(text if isinstance(text, list) else [text], images):
                seen.append((t, len(ims)))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Qwen2_5_VLProcessor, "__call__", spy)
    run = tmp_path / "run"
    summary = run_training(TrainRequest(out, load_recipe(write_recipe(tmp_path / "love.yaml", tiny)), run))
    sft, grpo = summary["stages"]["sft"], summary["stages"]["grpo"]
    # SFT: two examples per row with CoT (the zoom step, then the answer step with its clip)
    assert sft["rows"] == 2 * sum(r["has_cot"] for r in rows) and sft["global_step"] == 1
    assert grpo["global_step"] == 2 and grpo["rows"] == len(rows)
    assert set(grpo["reward_means"]) == {"love.format", "love.accuracy"}
    log = [json.loads(line) for line in (run / "grpo" / "log.jsonl").read_text().splitlines()]
    first = next(e for e in log if "zoom/masked_fraction" in e)
    assert {"zoom/step1_zoom_fraction", "zoom/step2_accuracy", "rewards/love.format/mean"} <= set(first)
    assert (run / "grpo" / "final" / "model.safetensors").exists()
    # every rollout prompt is LOVE-R1's: the full video with 4 timestamped frames, then the question
    views = [(t, n) for t, n in seen if "Full video [0, " in t]
    assert views and all(t.count("<|image_pad|>") >= n >= 4 for t, n in views)
    assert all("Provide only the single option letter" in t for t, _ in views)
    # SFT texts end with a CoT step; a rollout prompt with the generation prompt, or, for a grounding
    # row, with the zoom request LOVE-R1 force-prefixes
    sft_texts = [t for t, _ in views if t.rstrip().endswith("<|im_end|>")]
    rollout = [t for t, _ in views if not t.rstrip().endswith("<|im_end|>")]
    assert sft_texts and all("\\boxed{" in t.rsplit("<|im_start|>assistant", 1)[1] for t in sft_texts)
    assert any("Subset zoom-in video clip [" in t for t in sft_texts)     # the answer steps show their clip
    assert rollout and all(t.endswith(("<|im_start|>assistant\n", "assistant\nI need to zoom in on the video.\n\n"))
                           for t in rollout)


@pytest.mark.slow
def test_two_steps_rewards_masking_and_the_step_two_update(tmp_path: Path, love_setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import torch

    from r1data.rewards.love import ANSWER_PREFIX, ZOOM_PREFIX
    from r1data.train import TrainRequest, load_recipe, run_training
    from r1data.train.zoom import ZoomGRPOTrainer

    out, tiny, rows = love_setup
    row = next(r for r in rows if r["task"] == "multiple choice")
    right, wrong = row["answer"], next(x for x in "ABCD" if x != row["answer"])
    s, e = row["cot_zoom"]
    zoom = f"{ZOOM_PREFIX}It happens early.\\boxed{{[{s}, {e}]}}"
    script = [
        [zoom, f"{ANSWER_PREFIX}\\boxed{{{wrong}}}"],                           # generation 1, step 1
        [f"{ANSWER_PREFIX}\\boxed{{{right}}}", f"{ANSWER_PREFIX}\\boxed{{{right}}}"],  # step 2
        [zoom, zoom],                                                            # generation 2, step 1
        [f"{ZOOM_PREFIX}\\boxed{{[0, 5]}}", f"{ANSWER_PREFIX}\\boxed{{{right}}}"],    # step 2: one zooms again
    ]
    encoded: list[list[str]] = []
    batches: list[dict] = []

    def scripted(self, enc):  # type: ignore[no-untyped-def]
        texts = script[len(encoded) - 1]
        tok = self.processing_class.tokenizer
        ids = [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in texts]
        width = max(map(len, ids))
        completion = torch.full((len(ids), width), tok.pad_token_id)
        mask = torch.zeros((len(ids), width), dtype=torch.int)
        for i, seq in enumerate(ids):
            completion[i, :len(seq)] = torch.tensor(seq)
            mask[i, :len(seq)] = 1
        return completion, mask, texts

    encode = ZoomGRPOTrainer._encode
    prepare = ZoomGRPOTrainer._prepare_inputs

    def spy_encode(self, inputs, intervals, prefixes):  # type: ignore[no-untyped-def]
        enc = encode(self, inputs, intervals, prefixes)
        encoded.append(self.processing_class.batch_decode(enc["input_ids"]))
        return enc

    def spy_prepare(self, batch):  # type: ignore[no-untyped-def]
        out = prepare(self, batch)
        batches.append({"step": self._step, "completion": self.processing_class.batch_decode(
            out["completion_ids"], skip_special_tokens=True), "mask": out["completion_mask"].sum(1).tolist(),
            "advantages": out["advantages"].tolist(), "num_images": list(out["num_images"])})
        return out

    monkeypatch.setattr(ZoomGRPOTrainer, "_sample", scripted)
    monkeypatch.setattr(ZoomGRPOTrainer, "_encode", spy_encode)
    monkeypatch.setattr(ZoomGRPOTrainer, "_prepare_inputs", spy_prepare)
    recipe = write_recipe(tmp_path / "love.yaml", tiny, rows={"split": "train", "where": f"id = '{row['id']}'"})
    cfg = yaml.safe_load(recipe.read_text())
    cfg["grpo"]["config"]["max_steps"] = 4
    recipe.write_text(yaml.safe_dump(cfg, sort_keys=False))
    summary = run_training(TrainRequest(out, load_recipe(recipe), tmp_path / "run", stage="grpo"))
    assert summary["stages"]["grpo"]["global_step"] == 4

    # step 1 sees the full video only; step 2 of the zooming rollout sees the clip it asked for
    step1, step2 = encoded[0], encoded[1]
    assert all("Subset zoom-in video clip" not in t for t in step1)
    assert f"Subset zoom-in video clip [{s}, {e}]:" in step2[0] and "Subset zoom-in" not in step2[1]
    # optimizer steps alternate: step-1 samples, then the buffered step-2 samples
    by_step = {b["step"]: b for b in batches}
    key = lambda b: sorted(zip(b["completion"], b["advantages"], b["mask"], b["num_images"]))  # noqa: E731
    g1_step1, g1_step2 = key(by_step[0]), key(by_step[1])
    assert [c for c, *_ in g1_step1] == sorted([zoom, f"{ANSWER_PREFIX}\\boxed{{{wrong}}}"])
    # per-step rewards: the zoom then the right answer (format 1 + accuracy 1) against a wrong direct
    # answer (1 + 0): group advantages (r - mean) / (std + 1e-4) = +-0.707
    adv = {c: a for c, a, *_ in g1_step1}
    assert adv[zoom] == pytest.approx(0.7071, abs=1e-3) and adv[f"{ANSWER_PREFIX}\\boxed{{{wrong}}}"] == pytest.approx(-0.7071, abs=1e-3)
    # the answer step after the zoom trains with step 1's advantage (a multiple-choice row), with one
    # more clip of frames than the direct answer's step 2
    assert sorted(a for _, a, *_ in g1_step2) == pytest.approx([-0.7071, 0.7071], abs=1e-3)
    imgs = sorted(n for *_, n in g1_step2)
    assert imgs[1] > imgs[0]
    # generation 2: a rollout whose step 2 zooms again is masked (no tokens trained, advantage 0);
    # the other is alone in its group's statistics, so its advantage is 0 too
    g2_step1, g2_step2 = key(by_step[2]), key(by_step[3])
    assert sorted(m for *_, m, _ in g2_step2)[0] == 0 and sorted(m for *_, m, _ in g2_step1)[0] == 0
    assert all(a == 0 for _, a, *_ in g2_step1 + g2_step2)
    log = [json.loads(line) for line in (tmp_path / "run" / "grpo" / "log.jsonl").read_text().splitlines()]
    masked = [e["zoom/masked_fraction"] for e in log if "zoom/masked_fraction" in e]
    assert masked == [0.0, 0.5]
    grads = [e["grad_norm"] for e in log if "grad_norm" in e]
    assert grads[0] > 0 and grads[1] > 0          # both steps of generation 1 move the policy


@pytest.mark.slow
def test_a_zoom_recipe_is_checked_against_the_build(tmp_path: Path) -> None:
    """The zoom section's columns must be the build's; video_frames and zoom exclude each other; the
    decoupled trainer scores only LOVE-R1's rewards."""
    from r1data.errors import SpecError, UsageError
    from r1data.schema import load_schema
    from r1data.train import load_recipe
    from r1data.train.data import resolve_mapping
    from r1data.train.zoom import term_weights

    schema = load_schema(REPO / "schemas" / "love.yaml").to_dict()
    mapping = resolve_mapping(load_recipe("love"), schema, ["duration", "zoomin_intervals", "answer", "tgt"], True)
    assert mapping.zoom is not None and mapping.videos == "videos"
    assert {"zoomin_intervals", "duration", "tgt", "zoom_cot", "answer_cot", "cot_zoom"} <= set(mapping.columns("sft"))
    recipe = yaml.safe_load((REPO / "train" / "love.yaml").read_text())
    recipe["data"]["zoom"]["sft_steps"][1]["zoom"] = "no_such_column"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(recipe))
    with pytest.raises(SpecError, match="no_such_column"):
        resolve_mapping(load_recipe(tmp_path / "bad.yaml"), schema, [], True)
    recipe = yaml.safe_load((REPO / "train" / "love.yaml").read_text())
    recipe["data"]["video_frames"] = 8
    (tmp_path / "both.yaml").write_text(yaml.safe_dump(recipe))
    with pytest.raises(SpecError, match="either video_frames or zoom"):
        resolve_mapping(load_recipe(tmp_path / "both.yaml"), schema, [], True)
    assert term_weights(["love.format", "love.accuracy"], [1.0, 2.0]) == (1.0, 2.0)
    assert term_weights(["love.total"], [0.5]) == (0.5, 0.5)
    with pytest.raises(UsageError, match="must be among"):
        term_weights(["longvideo.total"], [1.0])
