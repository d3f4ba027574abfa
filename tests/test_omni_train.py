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
    tiny = make_tiny_model(tmp_path / "tiny-omni", "omni", [r["prompt_text"] for r in rows] + ["<think> </think> <answer> </answer>"])
    recipe = yaml.safe_load((REPO / "train" / "omni.yaml").read_text())
    recipe.update(model=str(tiny), dtype=None)
    recipe["data"].update(video_frames=16, min_pixels=784, max_pixels=3136)
    recipe["grpo"]["config"].update(per_device_train_batch_size=4, num_generations=2, max_completion_length=8, max_steps=2,
                                    bf16=False, activation_checkpointing=False, save_steps=1,
                                    learning_rate=1e-2)   # weights that train visibly move in two steps
    recipe["rewards"][1]["params"] = {"grounder": "standin"}      # the offline stand-in, not a model
    # Omni-R1's length bonus, with bounds a tiny model reaches: every completion (1-8 tokens) counts as
    # accurate and in range, so each gets the bonus
    recipe["grpo"]["len_control"].update(above=-1.0, min_tokens=1, max_tokens=8, bonus=1.0)
    path = tmp_path / "omni.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    summary = run_training(TrainRequest(out, load_recipe(path), tmp_path / "run", stage="grpo"))
    grpo = summary["stages"]["grpo"]
    assert grpo["global_step"] == 2 and grpo["rows"] == len(rows)
    assert list(grpo["reward_means"]) == ["omni.format", "omni.grounded_iou", "omni.vos", "len_control"]
    assert grpo["reward_means"]["len_control"] == 1.0 and grpo["reward_weights"][-1] == 1.0
    log = [json.loads(line) for line in (tmp_path / "run" / "grpo" / "log.jsonl").read_text().splitlines()]
    assert any("rewards/omni.vos/mean" in e or "rewards/omni.grounded_iou/mean" in e for e in log)
    assert (tmp_path / "run" / "grpo" / "final" / "model.safetensors").exists()
    # the vision and audio towers are frozen (the recipe's `freeze`, as Omni-R1), the language model is not
    from safetensors.torch import load_file

    before, after = load_file(tiny / "model.safetensors"), load_file(tmp_path / "run" / "grpo" / "final" / "model.safetensors")
    assert before.keys() == after.keys()
    changed = {k for k in before if not (before[k] == after[k]).all()}
    tower = [k for k in before if k.split(".")[0] in ("visual", "audio_tower") or ".visual." in k or ".audio_tower." in k]
    assert tower and changed and not changed & set(tower), sorted(changed)[:5]


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


@pytest.mark.slow
def test_the_thinker_hears_each_rows_sound_in_generation_and_in_every_log_prob_pass(tmp_path: Path) -> None:
    """Omni-R1's policy listens: with `data.audio` each GRPO prompt carries its video's sound track
    (35 s: two windows, since Whisper's extractor keeps 30 s) as Qwen2.5-Omni audio tokens, and the
    log-prob passes TRL runs (old policy, reference, loss) get the same features, row by row."""
    import torch
    from trl import GRPOConfig

    from r1data.corpus import Corpus
    from r1data.engine.runner import build
    from r1data.train import load_recipe
    from r1data.train.audio import audio_token_count, track_refs
    from r1data.train.data import RowFormatter, read_rows, resolve_mapping, to_dataset
    from r1data.train.models import load_model, load_processing_class
    from r1data.train.omni import OmniGRPOTrainer
    from r1data.train.tiny import make_tiny_model
    from tests.test_omni import tiny_workspace

    ws = tiny_workspace(tmp_path)
    spec = yaml.safe_load((ws / "pipelines" / "omni.yaml").read_text())
    spec["sources"]["procedural"]["duration"] = 35
    (ws / "pipelines" / "omni.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "omni"
    build("omni", out, size=4, progress=False, workspace=ws)
    corpus = Corpus(out)
    tiny = make_tiny_model(tmp_path / "tiny-omni", "omni", ["<think> </think> <answer> </answer>"])
    recipe = yaml.safe_load((REPO / "train" / "omni.yaml").read_text())
    recipe.update(model=str(tiny), dtype=None)
    recipe["data"].update(video_frames=2, min_pixels=784, max_pixels=3136)
    (tmp_path / "omni.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    loaded = load_recipe(tmp_path / "omni.yaml")
    mapping = resolve_mapping(loaded, corpus.manifest["schema"], [], True)
    processor = load_processing_class(str(tiny), True, 784, 3136)
    formatter = RowFormatter(loaded, mapping, processor, root=corpus.path)
    assert formatter.audio
    rows = read_rows(corpus, loaded.recipe.grpo.rows, mapping.columns("grpo"), loaded, "grpo")
    # an audio-family row (RefAVS-style: it hears) and a video-family one (ReVOS-style: as in Omni-R1, silent)
    rows = [next(r for r in rows if r["problem_type"] == t) for t in ("refavs", "video-segmentation")]
    examples, skipped = formatter.grpo(rows, None)
    assert len(examples) == 2 and not skipped.counts
    windows = track_refs(corpus.path / rows[0]["videos"])[1]
    assert len(windows) == 2                                        # 0-30 s and 30-35 s
    expected_tokens = [sum(audio_token_count(n) for n in windows), 0]
    first = examples[0]["prompt"][-1]["content"]
    assert [p["type"] for p in first[:3]] == ["text", "text", "image"]   # the sound before the frames

    args = GRPOConfig(output_dir=str(tmp_path / "run"), per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=4, beta=0.04, use_cpu=True, report_to="none", max_steps=1)
    trainer = OmniGRPOTrainer(model=load_model(str(tiny), True), args=args, processing_class=processor,
                              reward_funcs=[lambda completions, **kw: [0.0] * len(completions)],
                              train_dataset=to_dataset(examples, skipped, "grpo", loaded))
    batch = [e for e in examples for _ in range(2)]                 # a group of two per prompt
    scored = trainer._generate_and_score_completions(batch)
    heard = (scored["prompt_ids"] == processor.audio_token_id).sum(dim=1).tolist()
    assert heard == [t for t in expected_tokens for _ in range(2)]  # the whole track, in generation's input
    assert [None if f is None else tuple(f.shape) for f in scored["audio_features"]] == [(2, 128, 3000)] * 2 + [None] * 2

    ids = torch.cat([scored["prompt_ids"], scored["completion_ids"]], dim=1)
    mask = torch.cat([scored["prompt_mask"], scored["completion_mask"]], dim=1)
    keep = scored["completion_ids"].size(1)
    images = {k: scored[k] for k in ("pixel_values", "image_grid_thw", "num_images") if k in scored}

    def logps(rows_audio: list, batch_size: int) -> torch.Tensor:
        trainer._audio_rows = rows_audio
        try:
            with torch.no_grad():
                return trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep, batch_size,
                                                                   **images)[0]
        finally:
            trainer._audio_rows = None

    real = [None if f is None else (f, m) for f, m in zip(scored["audio_features"], scored["audio_mask"])]
    whole, by_row = logps(real, 4), logps(real, 1)
    assert torch.allclose(whole, by_row, atol=1e-5)                 # each chunk gets its own rows' sound
    silent = [None if r is None else (torch.zeros_like(r[0]), r[1]) for r in real]
    changed = (logps(silent, 4) - whole).abs().amax(dim=1)
    assert (changed[:2] > 1e-4).all() and (changed[2:] == 0).all()  # the sound changes what the hearing rows predict
    trainer.train()                                                 # the loss pass takes the audio too
    assert trainer.state.global_step == 1

    # `r1data eval --model` with a local Qwen2.5-Omni: the same prompt, sound included
    from r1data.models.evaluate import model_takes_audio, model_takes_images
    from r1data.models.local import LocalGenerator
    from r1data.models.prompts import PromptBuilder
    from r1data.models.resolve import resolve_model
    from r1data.train.audio import prompt_refs

    ref = resolve_model(str(tiny))
    assert model_takes_audio(ref) and model_takes_images(ref)
    builder = PromptBuilder("omni", corpus.manifest["schema"], corpus.path, recipe=tmp_path / "omni.yaml",
                            listens=model_takes_audio(ref))
    prompt = builder.prompt(rows[0])
    assert prompt_refs(prompt.turns) == prompt_refs(examples[0]["prompt"])
    local = LocalGenerator(ref, temperature=0, max_new_tokens=2)
    inputs = local.processing_class(text=[local.chat_text(prompt)], images=prompt.images, return_tensors="pt")
    assert (inputs["input_ids"] == processor.audio_token_id).sum().item() == expected_tokens[0]
    assert len(local.generate([prompt])[0]) == 1


def test_len_control_is_omni_r1s_group_length_bonus() -> None:
    """In a group where more than one completion is accurate (> 0.1), the accurate ones of 320-750
    tokens get +1; a group with one accurate completion gets nothing; a reward that does not apply
    (NaN) counts 0."""
    import torch

    from r1data.train.len_control import length_bonus
    from r1data.train.recipe import LenControlSpec

    spec = LenControlSpec(accuracy=["omni.grounded_iou", "omni.vos"])
    nan = float("nan")
    accuracy = torch.tensor([[0.5, nan], [0.9, nan], [0.05, nan], [0.7, nan],      # group 1: three accurate
                             [nan, 0.8], [nan, 0.0], [nan, 0.0], [nan, 0.0]])      # group 2: one accurate
    lengths = torch.tensor([400, 800, 400, 320, 500, 500, 500, 500])
    bonus = length_bonus(accuracy, lengths, 4, spec)
    assert bonus.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_len_control_names_rewards_of_the_recipe(tmp_path: Path) -> None:
    from r1data.errors import SpecError
    from r1data.train import load_recipe

    recipe = yaml.safe_load((REPO / "train" / "omni.yaml").read_text())
    recipe["grpo"]["len_control"]["accuracy"] = ["omni.grounded_iou", "omni.accuracy"]
    (tmp_path / "omni.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    with pytest.raises(SpecError) as e:
        load_recipe(tmp_path / "omni.yaml", check_trl=False)
    assert "grpo.len_control.accuracy" in str(e.value) and "omni.accuracy" in str(e.value)


def test_data_audio_needs_the_videos_frames(tmp_path: Path) -> None:
    from r1data.errors import SpecError
    from r1data.train import load_recipe
    from r1data.train.data import resolve_mapping

    recipe = yaml.safe_load((REPO / "train" / "omni.yaml").read_text())
    del recipe["data"]["video_frames"]
    (tmp_path / "omni.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    schema = {"fields": {"prompt_text": {"role": "question"}, "videos": {"role": "video"}}}
    with pytest.raises(SpecError) as e:
        resolve_mapping(load_recipe(tmp_path / "omni.yaml", check_trl=False), schema, [], True)
    assert "data.audio" in str(e.value) and "video_frames" in str(e.value)


def test_freeze_names_a_module_of_the_model(tmp_path: Path) -> None:
    """`freeze: [audio_tower]` stops those parameters training; a name the model lacks is an error that
    lists the modules it has."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from r1data.errors import SpecError
    from r1data.train import load_recipe
    from r1data.train.runner import freeze_modules

    recipe = yaml.safe_load((REPO / "train" / "omni.yaml").read_text())
    (tmp_path / "omni.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    loaded = load_recipe(tmp_path / "omni.yaml", check_trl=False)
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1))
    n = freeze_modules(model, ["embed_tokens"], loaded)
    assert n == 64 * 16 and not model.model.embed_tokens.weight.requires_grad
    assert model.model.layers[0].mlp.up_proj.weight.requires_grad
    with pytest.raises(SpecError) as e:
        freeze_modules(model, ["audio_tower"], loaded)
    assert "freeze" in str(e.value) and "audio_tower" in str(e.value) and "model" in str(e.value)


def test_which_rows_hear_their_sound_and_in_what_windows(tmp_path: Path) -> None:
    """`data.audio` with `audio_for`: a RefAVS row with a 35 s track gets two parts (0-30 s, 30-35 s)
    before its frames; the same row from a silent video gets none; a video-family row gets none."""
    import subprocess

    from r1data.corpora.longvideo.render import ffmpeg_exe
    from r1data.train import load_recipe
    from r1data.train.audio import parse_ref, prompt_refs
    from r1data.train.data import RowFormatter, resolve_mapping

    def video(name: str, sound: bool) -> Path:
        path = tmp_path / name
        cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=2"]
        if sound:
            cmd += ["-f", "lavfi", "-i", "sine=frequency=440"]
        subprocess.run(cmd + ["-t", "35", "-pix_fmt", "yuv420p", str(path)], check=True)
        return path

    loud, silent = video("loud.mp4", True), video("silent.mp4", False)
    schema = {"fields": {"prompt_text": {"role": "question"}, "videos": {"role": "video"}, "problem_type": {}}}
    loaded = load_recipe(REPO / "train" / "omni.yaml", check_trl=False)
    formatter = RowFormatter(loaded, resolve_mapping(loaded, schema, [], True), None, listens=True)
    row = {"id": "a", "prompt_text": "Which object beeps twice?", "videos": str(loud), "problem_type": "refavs"}
    turns, frames = formatter.prompt(row)
    windows = [parse_ref(r) for r in prompt_refs(turns)]
    assert len(windows) == 2 and windows[0] == (str(loud), 0.0, 30.0)
    assert windows[1][:2] == (str(loud), 30.0) and windows[1][2] == pytest.approx(35.0, abs=0.05)   # AAC pads a little
    content = turns[-1]["content"]
    assert [p["type"] for p in content] == ["text"] * 2 + ["image"] * 16 + ["text"] and len(frames) == 16
    assert prompt_refs(formatter.prompt({**row, "videos": str(silent)})[0]) == []
    assert prompt_refs(formatter.prompt({**row, "problem_type": "video-segmentation"})[0]) == []
    deaf = RowFormatter(loaded, resolve_mapping(loaded, schema, [], True), None)    # an API model: no sound
    assert prompt_refs(deaf.prompt(row)[0]) == []
