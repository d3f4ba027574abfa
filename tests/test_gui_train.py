"""`r1data train` on a gui build: the shipped recipe's per-row system message (the mobile_use tool
with the row's resolution), SFT then GRPO with the InfiGUI rewards, a tiny random Qwen2.5-VL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.test_gui import _need_chromium

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gui_sft_then_grpo_with_the_recipes_prompts_and_rewards(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _need_chromium()
    from r1data.corpus import Corpus
    from r1data.train import load_recipe
    from r1data.train.data import RowFormatter, resolve_mapping
    from r1data.train.tiny import make_tiny_model

    build = tmp_path / "gui"
    r = cli("build", "gui", "--size", "10", "-o", str(build), "--no-progress")
    assert r.exit_code == 0, r.stderr
    rows = Corpus(build).table("train").to_pylist()

    recipe = yaml.safe_load((REPO / "train" / "gui.yaml").read_text())
    recipe["data"].update(max_pixels=56 * 56 * 16, max_prompt_tokens=None, max_sft_tokens=None)
    recipe["sft"]["config"].update(per_device_train_batch_size=2, gradient_accumulation_steps=1, save_steps=1)
    recipe["grpo"]["config"].update(per_device_train_batch_size=2, num_generations=2, gradient_accumulation_steps=1,
                                    max_completion_length=8, save_steps=1)
    recipe["sft"]["rows"]["limit"] = recipe["grpo"]["rows"]["limit"] = 4
    path = tmp_path / "gui.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))

    # each row's system message is its own (the tool states that row's resized resolution)
    loaded = load_recipe(path)
    schema = yaml.safe_load((REPO / "schemas" / "gui.yaml").read_text())
    mapping = resolve_mapping(loaded, schema, ["gt_action", "width", "height", "sub_goal", "goal"], vision=True)
    assert "system" in mapping.columns("grpo") and "problem" in mapping.columns("grpo")

    class Tok:  # the formatter needs a tokenizer only for token limits, which are off here
        pass

    examples, _ = RowFormatter(loaded, mapping, Tok(), root=build).grpo(rows[:2], None)
    for ex, row in zip(examples, rows[:2]):
        system = ex["prompt"][0]["content"][-1]["text"]
        assert ex["prompt"][0]["role"] == "system" and system == row["system"].strip()
        assert f"The screen's resolution is {row['resized_width']}x{row['resized_height']}." in system

    texts = [row["system"] for row in rows[:2]] + [row["problem"] for row in rows] + [row["solution"] for row in rows]
    tiny = make_tiny_model(tmp_path / "tiny-vl", "vl", texts)
    run = tmp_path / "run"
    r = cli("train", str(build), "--recipe", str(path), "--output", str(run), "--model", str(tiny), "--max-steps", "1")
    assert r.exit_code == 0, r.stderr
    for name in ("infigui.format", "infigui.action", "infigui.subgoal"):
        assert f"rewards/{name}/mean" in r.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["vision"] is True
    assert summary["stages"]["sft"]["global_step"] == 1 and summary["stages"]["grpo"]["global_step"] == 1
