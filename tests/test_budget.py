"""The recipes' image budget: counted in the manifest at build time, and the rows over it left
out by `r1data train` with their reason before any model is loaded or trained."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def test_vectorised_smart_resize_equals_qwens_on_every_kind_of_size():
    from r1data.budget import smart_resize_many
    from r1data.geometry import smart_resize

    rng = np.random.default_rng(0)
    sizes = [(h, w) for h in (1, 27, 28, 29, 100, 384, 480, 1080, 4000) for w in (14, 56, 512, 640, 1920, 9000)]
    sizes += [tuple(int(v) for v in rng.integers(20, 5000, 2)) for _ in range(300)]
    for lo, hi in ((3136, 1003520), (200704, 401408), (262144, 1638400), (3136, 47040)):
        hb, wb = smart_resize_many([h for h, _ in sizes], [w for _, w in sizes], lo, hi)
        for (h, w), a, b in zip(sizes, hb, wb):
            try:
                want = smart_resize(h, w, 28, lo, hi)
            except ValueError:            # aspect ratio of 200 or more: the processor refuses it
                want = (0, 0)
            assert (int(a), int(b)) == want, (h, w, lo, hi)


def _workspace_recipe(ws: Path, **data: object) -> Path:
    recipe = yaml.safe_load((REPO / "train" / "vqa_verify.yaml").read_text())
    recipe["data"].update(data)
    (ws / "train").mkdir(parents=True, exist_ok=True)
    (ws / "train" / "vqa_verify.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    return ws / "train" / "vqa_verify.yaml"


@pytest.fixture(scope="module")
def tight_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """vqa_verify built with a workspace recipe allowing 200 image tokens (its 512x384 images
    cost 266 at SATORI's 200,704..401,408 pixels)."""
    from r1data.cli import main

    root = tmp_path_factory.mktemp("budget")
    ws = root / "ws"
    _workspace_recipe(ws, max_image_tokens=200)
    out = root / "vqa_verify"
    assert main(["build", "vqa_verify", "--size", "8", "-o", str(out), "--no-progress", "--workspace", str(ws)]) == 0
    return out, ws


def test_the_manifest_counts_rows_over_the_recipes_image_budget(tight_build, cli):
    from r1data import open_corpus

    out, _ = tight_build
    b = open_corpus(out).manifest["image_budget"]
    assert b["recipe"] == "vqa_verify.yaml" and b["limit"] == 200 and b["limit_from"] == "data.max_image_tokens"
    assert (b["min_pixels"], b["max_pixels"]) == (200704, 401408)
    assert b["rows"] == 8 and b["over"] == 8 and len(b["over_examples"]) == 5
    assert b["tokens"] == {"min": 266, "mean": 266.0, "max": 266}     # 14 x 19 patches of 28 pixels
    r = cli("inspect", out, "--samples", "0")
    assert "image budget (vqa_verify.yaml, image (first 1), smart_resize 200,704..401,408): 8 of 8 rows over 200 " \
           "image tokens (data.max_image_tokens" in r.stdout


def test_the_shipped_recipes_budget_counts_nothing_over(tmp_path):
    from r1data import open_corpus
    from r1data.cli import main

    out = tmp_path / "vqa"
    assert main(["build", "vqa_verify", "--size", "4", "-o", str(out), "--no-progress"]) == 0
    b = open_corpus(out).manifest["image_budget"]
    assert b["over"] == 0 and b["limit"] == 1536 and b["limit_from"] == "data.max_prompt_tokens"


def test_rows_over_the_budget_are_split_off_by_their_declared_size():
    """Mixed sizes: the check reads each row's width and height fields, decoding nothing."""
    from r1data.budget import ImageBudget
    from r1data.schema import load_schema
    from r1data.budget import over_image_budget

    schema = load_schema(REPO / "schemas" / "vqa_verify.yaml")
    budget = ImageBudget("r.yaml", "m", "image", False, 1, 3136, 1003520, 400, "data.max_image_tokens")
    rows = [{"id": "small", "image": {"bytes": b"x"}, "width": 448, "height": 448},      # 16 x 16 = 256
            {"id": "big", "image": {"bytes": b"x"}, "width": 1120, "height": 560}]       # 40 x 20 = 800
    keep, skipped = over_image_budget(rows, budget, schema)
    assert [r["id"] for r in keep] == ["small"]
    assert skipped.to_dict() == {"image_budget": {"rows": 1, "examples": ["big"], "detail":
                                 "big: 800 image tokens > 400 (data.max_image_tokens of r.yaml; image (first 1) at smart_resize "
                                 "3,136..1,003,520 pixels (factor 28))"}}


@pytest.mark.slow
def test_train_says_why_rows_are_left_out_before_training(tight_build, tmp_path, caplog):
    """Every row of the tight build is over the budget: `r1data train` logs the reason and stops
    with one line before it loads the model or trains a step."""
    from r1data import open_corpus
    from r1data.assets import Assets
    from r1data.errors import SpecError
    from r1data.train import TrainRequest, load_recipe, run_training
    from r1data.train.tiny import make_tiny_model

    out, ws = tight_build
    texts = open_corpus(out).table("train", columns=["question", "solution"]).to_pylist()
    model = make_tiny_model(tmp_path / "tiny-vl", "vl", [t for r in texts for t in r.values()])
    assets = Assets.from_workspace(str(ws))
    loaded = load_recipe("vqa_verify", assets)
    with caplog.at_level(logging.WARNING, logger="r1data.train.runner"):
        with pytest.raises(SpecError) as e:
            run_training(TrainRequest(out, loaded, tmp_path / "run", "grpo", str(model), 1, assets))
    assert "8 image_budget" in str(e.value)
    assert any("8 rows skipped: image_budget" in m and "266 image tokens > 200" in m for m in caplog.messages)
    assert not (tmp_path / "run" / "grpo").exists()      # nothing was trained
