"""`r1data train` on the omni corpus: GRPO with Omni-R1's rewards (format, System-2 grounded IoU through
the offline stand-in grounder, the video family's timing terms) inside TRL's real GRPOTrainer, with a
tiny random Qwen2.5-VL on CPU standing in for Qwen2.5-Omni's thinker (frames as images; TRL takes no
audio). Also: a Qwen2.5-Omni thinker checkpoint is recognised as a vision model and loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_grpo_runs_omni_rewards_on_the_sampled_frames(tmp_path: Path) -> None:
    from r1data.corpus import Corpus
    from r1data.engine.runner import build
    from r1data.train import TrainRequest, load_recipe, run_training
    from r1data.train.tiny import make_tiny_model
    from tests.test_omni import tiny_workspace

    out = tmp_path / "omni"
    build("omni", out, size=6, progress=False, workspace=tiny_workspace(tmp_path))
    rows = Corpus(out).table("train").to_pylist()
    tiny = make_tiny_model(tmp_path / "tiny-vl", "vl", [r["prompt_text"] for r in rows] + ["<think> </think> <answer> </answer>"])
    recipe = yaml.safe_load((REPO / "train" / "omni.yaml").read_text())
    recipe.update(model=str(tiny), dtype=None)
    recipe["data"].update(video_frames=16, min_pixels=784, max_pixels=3136)
    recipe["grpo"]["config"].update(per_device_train_batch_size=4, num_generations=2, max_completion_length=8, max_steps=2,
                                    bf16=False, activation_checkpointing=False, save_steps=1)
    recipe["rewards"][1]["params"] = {"grounder": "standin"}      # the offline stand-in, not a model
    path = tmp_path / "omni.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    summary = run_training(TrainRequest(out, load_recipe(path), tmp_path / "run", stage="grpo"))
    grpo = summary["stages"]["grpo"]
    assert grpo["global_step"] == 2 and grpo["rows"] == len(rows)
    assert list(grpo["reward_means"]) == ["omni.format", "omni.grounded_iou", "omni.vos"]
    log = [json.loads(line) for line in (tmp_path / "run" / "grpo" / "log.jsonl").read_text().splitlines()]
    assert any("rewards/omni.vos/mean" in e or "rewards/omni.grounded_iou/mean" in e for e in log)
    assert (tmp_path / "run" / "grpo" / "final" / "model.safetensors").exists()


@pytest.mark.slow
def test_a_qwen25_omni_thinker_checkpoint_is_a_vision_model(tmp_path: Path) -> None:
    from transformers import Qwen2_5OmniThinkerConfig, Qwen2_5OmniThinkerForConditionalGeneration

    from r1data.train.models import is_vision_model, load_model

    cfg = Qwen2_5OmniThinkerConfig(
        audio_config=dict(num_mel_bins=16, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32, d_model=16,
                          output_dim=32, n_window=4, max_source_positions=64),
        vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=32,
                           fullatt_block_indexes=[0], patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           window_size=56),
        text_config=dict(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, rope_scaling={"mrope_section": [2, 1, 1], "rope_type": "default", "type": "default"}),
        audio_token_index=290, image_token_index=291, video_token_index=292, audio_start_token_id=293,
        vision_start_token_id=294, vision_end_token_id=295, audio_end_token_id=296)
    Qwen2_5OmniThinkerForConditionalGeneration(cfg).save_pretrained(tmp_path / "thinker")
    assert is_vision_model(str(tmp_path / "thinker"))
    assert type(load_model(str(tmp_path / "thinker"), True)).__name__ == "Qwen2_5OmniThinkerForConditionalGeneration"
