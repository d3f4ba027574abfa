"""earthreason end to end: the offline default and the released layout, as a user would."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from r1data import open_corpus
from r1data.geometry import png_to_mask, rle_decode, rle_encode

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from r1data.cli import main

    out = tmp_path_factory.mktemp("er") / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["build", "earthreason", "--size", "40", "-o", str(out), "--no-progress"])
    assert code == 0
    return out


def test_loads_with_declared_features_and_masks_match_images(built: Path, tmp_path: Path) -> None:
    ds = open_corpus(built).to_datasets(cache_dir=str(tmp_path / "hf"))
    assert sum(d.num_rows for d in ds.values()) == 40
    feats = ds["train"].features
    assert set(feats) == set(yaml.safe_load((REPO / "schemas/earthreason.yaml").read_text())["fields"])
    row = ds["train"][0]
    assert row["image"].size == row["mask"].size == (row["width"], row["height"])
    assert row["mask"].mode == "L"                              # single channel, lossless PNG


def test_masks_are_lossless_and_agree_with_rle_and_flags(built: Path) -> None:
    rows = open_corpus(built).table().to_pylist()
    for r in rows:
        mask = png_to_mask(r["mask"]["bytes"])
        rle = json.loads(r["mask_rle"])
        assert rle["size"] == [r["height"], r["width"]]
        assert np.array_equal(rle_decode(rle), mask)
        assert int(mask.sum()) == r["mask_area"] and r["empty"] == (r["mask_area"] == 0)
    # the target's pixels really look like the class: water is blue-ish, forest dark green
    for r in rows:
        if r["target_class"] in ("water", "forest") and r["mask_area"] > 500:
            img = np.asarray(Image.open(io.BytesIO(r["image"]["bytes"])).convert("RGB"), dtype=np.float64)
            inside = img[png_to_mask(r["mask"]["bytes"])].mean(axis=0)
            outside = img[~png_to_mask(r["mask"]["bytes"])].mean(axis=0)
            assert inside.sum() < outside.sum()                 # both are darker than grass and fields


def test_empty_targets_and_implicit_questions(built: Path) -> None:
    from r1data.corpora.earthreason.questions import EMPTY_ANSWER, SYNONYMS, leaked_words

    rows = open_corpus(built).table().to_pylist()
    empty = [r for r in rows if r["empty"]]
    assert empty and len(empty) < len(rows)
    for r in empty:
        assert r["answer"] == EMPTY_ANSWER and r["target_class"] not in r["classes"]
    for r in rows:
        assert r["question"] == r["questions"][0] and len(r["questions"]) == 3
        for q in r["questions"]:
            assert leaked_words(q, r["target_class"]) == []
            assert not any(f" {w} " in f" {q.lower()} " for w in SYNONYMS[r["target_class"]])
    assert len({r["target_class"] for r in rows}) >= 4


def test_leakage_verifier_rejects_questions_naming_the_class() -> None:
    from r1data.corpora.earthreason.masks import no_class_leak

    row = {"target_class": "water", "questions": ["Where could a boat sail?"]}
    assert no_class_leak(row) is True
    for q in ("Where is the lake?", "Which Rivers cross the image?", "Segment the water."):
        ok, why = no_class_leak({**row, "questions": ["Where could a boat sail?", q]})
        assert ok is False and "names the water" in why


def test_ground_truth_mask_scores_one_with_the_spec_rewards(built: Path) -> None:
    from r1data import rewards
    from r1data.spec import load_spec

    spec = load_spec("earthreason").spec
    assert [r.reward for r in spec.rewards] == ["segearth.iou", "segearth.format"]
    rows = open_corpus(built).table().to_pylist()[:8]
    masks = [r["mask"] for r in rows]
    perfect = [f"<answer>{r['mask_rle']}</answer>" for r in rows]
    assert rewards.load("segearth.iou")(completions=perfect, mask=masks) == [1.0] * len(rows)
    shifted = []
    for r in rows:
        m = np.roll(png_to_mask(r["mask"]["bytes"]), 40, axis=1)
        shifted.append(f"<answer>{json.dumps(rle_encode(m))}</answer>")
    scores = rewards.load("segearth.iou")(completions=shifted, mask=masks)
    assert all(s < 1.0 for r, s in zip(rows, scores) if not r["empty"])


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_released_layout_reader_pairs_by_stem_and_rejects_bad_input(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "EarthReason" / "val"
    for sub in ("images", "labels", "QAs"):
        (root / sub).mkdir(parents=True)
    rgb = np.full((48, 64, 3), 90, dtype=np.uint8)
    lab = np.zeros((48, 64), dtype=np.uint8)
    lab[10:20, 5:30] = 1                                       # SegEarth: any non-zero pixel is foreground
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG")
    jpeg = buf.getvalue()
    files = {
        "a": (jpeg, _png(lab), {"questions": ["Where could planes land?", "Which strip is for take-off?"],
                                "answer": ["The runway in the middle."]}),
        "b": (jpeg, _png(np.zeros((48, 64), np.uint8)), {"questions": ["Where could ships dock?"], "answer": []}),
        "c": (None, _png(lab), {"questions": ["Where is the stadium?"], "answer": ["x"]}),   # no image
        "d": (jpeg, _png(np.zeros((40, 64), np.uint8)), {"questions": ["Q?"], "answer": ["A"]}),  # size differs
        "e": (jpeg[:200], _png(lab), {"questions": ["Q?"], "answer": ["A"]}),               # truncated
        "f": (jpeg, None, {"questions": ["Q?"], "answer": ["A"]}),                           # no label
    }
    for stem, (image, label, qa) in files.items():
        if image is not None:
            (root / "images" / f"{stem}.jpg").write_bytes(image)
        if label is not None:
            (root / "labels" / f"{stem}.png").write_bytes(label)
        (root / "QAs" / f"{stem}.json").write_text(json.dumps(qa))
    (root / "QAs" / "g.json").write_text("{not json")
    out = tmp_path / "out"
    r = cli("build", "earthreason", "--source", "released", "--source-dir", tmp_path / "EarthReason",
            "-o", out, "--no-progress")
    assert r.exit_code == 0, r.stderr             # the spec reads every released split it finds
    assert open_corpus(out).splits == ["validation"]   # EarthReason's own val split, kept
    spec = tmp_path / "earthreason_val.yaml"
    text = (REPO / "pipelines/earthreason.yaml").read_text().replace("split: all", "split: val")
    spec.write_text(text.replace("schema: earthreason", f"schema: {REPO / 'schemas/earthreason.yaml'}"))
    r = cli("build", spec, "--source", "released", "--source-dir", tmp_path / "EarthReason", "-o", out,
            "--no-progress", "--overwrite")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(out)
    assert corpus.splits == ["validation"]
    rows = {x["image_id"]: x for x in corpus.table().to_pylist()}
    assert sorted(rows) == ["a", "b"]
    assert rows["a"]["question"] == "Where could planes land?" and len(rows["a"]["questions"]) == 2
    assert rows["a"]["answer"] == "The runway in the middle." and rows["a"]["mask_area"] == 250
    assert rows["b"]["empty"] and rows["b"]["answer"] == "There is no target object in the image."
    assert rows["a"]["image"]["bytes"] == jpeg                    # stored as read, not re-encoded
    reasons = sorted(corpus.rejects().column("reason").to_pylist())
    assert reasons == ["bad_json", "corrupt_image", "mask_size_mismatch", "missing_image", "missing_mask"]

    # with a model profile, released rows keep their own questions and cost no call
    from tests.servers import OpenAIChatServer

    with OpenAIChatServer() as server:
        profile = tmp_path / "model.yaml"
        profile.write_text(f"provider: openai\nmodel: m\nbase_url: {server.url}\n")
        r = cli("build", spec, "--source", "released", "--source-dir", tmp_path / "EarthReason",
                "-o", tmp_path / "api", "--no-progress", "--annotator", profile)
        assert r.exit_code == 0, r.stderr
        assert server.calls == 0
    api_rows = {x["image_id"]: x for x in open_corpus(tmp_path / "api").table().to_pylist()}
    assert {k: v["questions"] for k, v in api_rows.items()} == {k: v["questions"] for k, v in rows.items()}


@pytest.mark.slow
def test_two_workers_build_the_same_rows(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    for workers in ("1", "2"):
        r = cli("build", "earthreason", "--size", "12", "-o", tmp_path / workers, "--workers", workers, "--no-progress")
        assert r.exit_code == 0, r.stderr
    one = open_corpus(tmp_path / "1").table().to_pylist()
    two = open_corpus(tmp_path / "2").table().to_pylist()
    assert one == two
