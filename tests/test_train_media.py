"""`r1data train` on the video and image corpora: frames sampled from longvideo's videos, and
SATORI-R1's rewards on a vqa_verify build, with a tiny random Qwen2.5-VL (r1data.train.tiny).

Real builds (rendered videos decoded by decord, rendered VQA images), TRL's real trainers, on CPU.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
FRAMES = 3


def log_entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def finite(values: list[float]) -> bool:
    return bool(values) and all(v == v and abs(v) < 1e6 for v in values)


def spy_processor(monkeypatch) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Record (texts, images) of every processor call: images counted from ``image_grid_thw``,
    one row per image, so a row's frames are seen as the processor got them."""
    from transformers import Qwen2_5_VLProcessor

    calls: list[tuple[int, int]] = []
    original = Qwen2_5_VLProcessor.__call__

    def call(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = original(self, *args, **kwargs)
        text = kwargs.get("text", args[1] if len(args) > 1 else None)
        if "image_grid_thw" in out and text is not None:
            calls.append((len(text) if isinstance(text, list) else 1, int(out["image_grid_thw"].shape[0])))
        return out

    monkeypatch.setattr(Qwen2_5_VLProcessor, "__call__", call)
    return calls


# -- longvideo: N uniform frames per row -------------------------------------------------------

@pytest.fixture(scope="module")
def longvideo_build(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """Two short rendered videos (four questions each), at the size test_longvideo uses."""
    from r1data.engine.runner import build

    root = tmp_path_factory.mktemp("lv-train")
    spec = yaml.safe_load((REPO / "pipelines" / "longvideo.yaml").read_text())
    spec["sources"]["procedural"].update(duration=30, objects=[3, 4])
    for s in spec["steps"]:
        if s["step"] == "render_procedural_video":
            s.update(width=96, height=72, fps=4)
        if s["step"] == "cut_clips":
            s.update(frames_per_clip=2)
        if s["step"] == "cache_frames":
            s.update(frames=4, height=36)
    ws = root / "ws"
    (ws / "pipelines").mkdir(parents=True)
    (ws / "pipelines" / "longvideo.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    out = root / "longvideo"
    build("longvideo", out, size=8, progress=False, workspace=ws)
    return out


@pytest.mark.slow
def test_video_rows_train_on_uniform_frames_and_bad_videos_are_skipped(
        tmp_path: Path, longvideo_build: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from r1data.corpus import Corpus
    from r1data.train import TrainRequest, load_recipe, run_training
    from r1data.train.tiny import make_tiny_model

    rows = Corpus(longvideo_build).table("train").to_pylist()
    videos = sorted({r["videos"] for r in rows})
    assert len(videos) == 2 and not Path(videos[0]).is_absolute()  # relative to the build folder
    # a copy of the build whose second video is garbage: its rows are skipped, the others train
    data = tmp_path / "longvideo"
    shutil.copytree(longvideo_build, data)
    (data / videos[1]).write_bytes(b"not a video at all" * 10)
    bad_ids = [r["id"] for r in rows if r["videos"] == videos[1]]

    texts = [r["problem"] for r in rows] + [r["reasoning"] for r in rows]
    tiny = make_tiny_model(tmp_path / "tiny-vl", "vl", texts)
    recipe = tmp_path / "lv.yaml"
    recipe.write_text(yaml.safe_dump({
        "corpus": "longvideo", "model": str(tiny), "system_prompt": "Answer with <answer>X</answer>.",
        "data": {"prompt": "Question: {{ problem }}", "completion": "<think>{{ reasoning }}</think> {{ answer }}",
                 "video_frames": FRAMES},
        "sft": {"rows": {"split": "train"},
                "config": {"per_device_train_batch_size": 2, "max_steps": 2, "save_steps": 1}},
        "grpo": {"enabled": False},
    }, sort_keys=False))
    calls = spy_processor(monkeypatch)
    run = tmp_path / "run"
    summary = run_training(TrainRequest(data, load_recipe(recipe), run, stage="sft"))

    sft = summary["stages"]["sft"]
    assert summary["vision"] is True and sft["global_step"] == 2 and sft["rows"] == 4
    assert sft["skipped"] == {"unreadable_video": {"rows": 4, "examples": bad_ids[:3]}}
    losses = [e["loss"] for e in log_entries(run / "sft" / "log.jsonl") if "loss" in e]
    assert len(losses) == 2 and finite(losses)
    assert (run / "sft" / "checkpoint-2" / "model.safetensors").exists()
    assert (run / "sft" / "final" / "model.safetensors").exists()
    # every processor call of the training batches got FRAMES images per row
    batches = [(n, images) for n, images in calls if n == 2]
    assert batches and all(images == FRAMES * n for n, images in batches), calls


def test_frames_are_uniform_and_a_missing_video_is_a_counted_skip(tmp_path: Path, longvideo_build: Path) -> None:
    import numpy as np

    from r1data.corpora.longvideo.video import open_video
    from r1data.corpus import Corpus
    from r1data.train.data import RowFormatter, RowMapping, sample_video_frames
    from r1data.train.recipe import LoadedRecipe, Recipe
    from r1data.yamlio import LineMap

    rows = Corpus(longvideo_build).table("train").to_pylist()
    path = longvideo_build / rows[0]["videos"]
    frames = sample_video_frames(path, 4)
    vr = open_video(path)
    n = len(vr)
    assert len(frames) == 4 and frames[0].size == (96, 72)
    # the last sampled frame is the video's last frame (linspace over [0, n - 1])
    assert np.abs(np.asarray(frames[-1], np.int16) - vr[n - 1].asnumpy().astype(np.int16)).mean() < 1

    loaded = LoadedRecipe(Recipe(corpus="longvideo", model="unused"), tmp_path / "r.yaml", LineMap({}))
    mapping = RowMapping("{{ problem }}", ["problem"], "reasoning", None, ["answer"], videos="videos",
                         video_frames=2)

    class Tok:  # the formatter only needs a tokenizer for token limits, which are off here
        pass

    fmt = RowFormatter(loaded, mapping, Tok(), root=longvideo_build)
    rows = rows[:3]
    rows[1] = {**rows[1], "videos": "videos/gone.mp4"}
    rows[2] = {**rows[2], "videos": None}
    examples, skipped = fmt.grpo(rows, max_prompt_tokens=None)
    assert len(examples) == 1 and len(examples[0]["images"]) == 2
    assert examples[0]["prompt"][-1]["content"][:2] == [{"type": "image"}, {"type": "image"}]
    assert skipped.to_dict() == {"unreadable_video": {"rows": 2, "examples": [rows[1]["id"], rows[2]["id"]]}}
    assert "no such file" in fmt.video_errors[rows[1]["id"]]


# -- vqa_verify: SATORI-R1's rewards through the CLI --------------------------------------------

@pytest.mark.slow
def test_vqa_verify_sft_then_grpo_with_satori_rewards_and_resume(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from r1data import rewards
    from r1data.corpus import Corpus
    from r1data.train.tiny import make_tiny_model

    build = tmp_path / "vqa_verify"
    r = cli("build", "vqa_verify", "--size", "12", "-o", str(build), "--no-progress")
    assert r.exit_code == 0, r.stderr
    rows = {row["id"]: row for row in Corpus(build).table("train").to_pylist()}

    calls: list[dict] = []
    bbox = rewards.load("satori.bbox", coords="resized", min_pixels=28 * 28, max_pixels=56 * 56)

    @rewards.reward("test_train_media.satori_bbox", columns=("bboxs", "width", "height"))
    def bbox_spy(prompts=None, completions=(), *, bboxs=None, width=None, height=None, **kw):  # type: ignore[no-untyped-def]
        calls.append({"bboxs": list(bboxs), "width": list(width), "height": list(height), "n": len(completions)})
        return bbox(prompts=prompts, completions=completions, bboxs=bboxs, width=width, height=height, **kw)

    texts = [row["question"] for row in rows.values()] + [row["solution"] for row in rows.values()]
    tiny = make_tiny_model(tmp_path / "tiny-vl", "vl", texts)
    recipe = tmp_path / "vqa.yaml"
    recipe.write_text(yaml.safe_dump({
        "corpus": "vqa_verify", "model": "not/a/model",
        "system_prompt": "Answer as <caption>..</caption><bbox>[[x1,y1,x2,y2]]</bbox><answer>..</answer>.",
        "data": {"max_images": 1},
        "sft": {"rows": {"split": "train", "limit": 4},
                "config": {"per_device_train_batch_size": 2, "learning_rate": 5e-3, "save_steps": 1}},
        "grpo": {"rows": {"split": "train", "limit": 4},
                 "config": {"per_device_train_batch_size": 2, "num_generations": 2, "max_completion_length": 8,
                            "beta": 0.001, "save_steps": 1}},
        # the spec's four SATORI rewards, the box one wrapped to see its columns
        "rewards": [{"reward": "satori.format"}, {"reward": "satori.caption"},
                    {"reward": "test_train_media.satori_bbox"}, {"reward": "satori.answer"}],
    }, sort_keys=False))
    run = tmp_path / "run"
    args = ["train", str(build), "--recipe", str(recipe), "--output", str(run), "--model", str(tiny)]
    r = cli(*args, "--max-steps", "2")
    assert r.exit_code == 0, r.stderr
    assert "sft: 2 steps on 4 rows" in r.stdout and "grpo: 2 steps on 4 rows" in r.stdout
    for name in ("satori.format", "satori.caption", "test_train_media.satori_bbox", "satori.answer"):
        assert f"rewards/{name}/mean" in r.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["vision"] is True and summary["stages"]["grpo"]["start_model"] == str(run / "sft" / "final")
    for stage in ("sft", "grpo"):
        s = summary["stages"][stage]
        assert s["global_step"] == 2 and s["last_loss"] is not None  # finite (None when not)
        assert (run / stage / "checkpoint-2").is_dir() and (run / stage / "final" / "model.safetensors").exists()
    grpo_log = log_entries(run / "grpo" / "log.jsonl")
    assert finite([e["loss"] for e in grpo_log if "loss" in e])
    # the box reward got the rows' boxes and image sizes, one per completion
    by_size = {(row["width"], row["height"]) for row in rows.values()}
    all_boxes = [row["bboxs"] for row in rows.values()]
    assert calls
    for c in calls:
        assert len(c["bboxs"]) == len(c["width"]) == len(c["height"]) == c["n"]
        assert set(zip(c["width"], c["height"])) <= by_size
        assert all(b in all_boxes for b in c["bboxs"])

    r = cli(*args, "--max-steps", "3")
    assert r.exit_code == 0, r.stderr
    summary = json.loads((run / "summary.json").read_text())
    for stage in ("sft", "grpo"):
        s = summary["stages"][stage]
        assert s["global_step"] == 3 and s["resumed_from"] == str(run / stage / "checkpoint-2")
        assert [e["step"] for e in log_entries(run / stage / "log.jsonl") if "loss" in e] == [1, 2, 3]
