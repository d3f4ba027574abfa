"""vqa_verify end to end: build the offline default as a user would, load it, score it."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from r1data import open_corpus
from r1data.geometry import box_valid
from r1data.parsing import tag_content

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from r1data.cli import main

    out = tmp_path_factory.mktemp("vqa") / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["build", "vqa_verify", "--size", "45", "-o", str(out), "--no-progress"])
    assert code == 0
    return out, buf.getvalue()


def test_builds_offline_and_loads_with_declared_features(built: tuple[Path, str], tmp_path: Path) -> None:
    out, summary = built
    assert "built vqa_verify: 45 rows kept" in summary
    ds = open_corpus(out).to_datasets(cache_dir=str(tmp_path / "hf"))
    assert sum(d.num_rows for d in ds.values()) == 45
    feats = ds["train"].features
    assert set(feats) == set(yaml.safe_load((REPO / "schemas/vqa_verify.yaml").read_text())["fields"])
    row = ds["train"][0]
    assert isinstance(row["image"], Image.Image) and row["image"].size == (row["width"], row["height"])


def test_every_question_family_appears_and_answers_follow_from_objects(built: tuple[Path, str]) -> None:
    import json

    from r1data.corpora.vqa_verify.questions import answer_of

    rows = open_corpus(built[0]).table().to_pylist()
    assert {r["question_type"] for r in rows} == {"color", "category", "count", "exists", "side"}
    for r in rows:
        shown = [o for o in r["objects"] if o["box"] is not None]
        answer, accepted, ids = answer_of(json.loads(r["program"]), shown)
        assert r["answer"] == answer and r["answer"] in r["possible_answers"]
        assert sorted(ids) == sorted(r["object_ids"])


def _regenerate(row: dict):  # type: ignore[no-untyped-def]
    """The row's scene drawn again by the shared generator from the spec seed and its number
    (an indoor scene is the one with drawers and cabinet doors)."""
    from r1data.corpora.tabletop import generate_scene
    from r1data.spec import load_spec
    from r1data.steps.base import record_rng

    kind = "indoor" if {o["category"] for o in row["objects"]} & {"drawer", "cabinet door"} else "tabletop"
    rng = record_rng(load_spec("vqa_verify").spec.seed, "tabletop_vqa", int(row["image_id"].removeprefix("scene")))
    return kind, generate_scene(rng, row["image_id"], kind, row["width"], row["height"], (3, 7))


def test_boxes_are_the_visible_masks_of_the_named_objects(built: tuple[Path, str]) -> None:
    from r1data.corpora.vqa_verify.scene import COLORS

    names = sorted(COLORS)
    palette = np.array([COLORS[n] for n in names], dtype=np.int32)
    rows = open_corpus(built[0]).table().to_pylist()
    kinds, shares = set(), []
    for r in rows:
        for b in r["bboxs"]:
            assert box_valid(b, r["width"], r["height"])
        kind, scene = _regenerate(r)
        kinds.add(kind)
        img = np.asarray(Image.open(io.BytesIO(r["image"]["bytes"])).convert("RGB"), dtype=np.int32)
        assert np.abs(img - scene.image).mean() < 3, r["id"]          # the stored JPEG is that scene
        for oid, box in zip(r["object_ids"], r["bboxs"]):
            ys, xs = np.nonzero(scene.mask(oid))                       # the object's visible pixels
            assert box == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], (r["id"], oid)
        if len(r["object_ids"]) != 1:
            continue
        obj = next(o for o in r["objects"] if o["id"] == r["object_ids"][0])
        px = img[scene.mask(obj["id"])]
        nearest = np.argmin(((px[:, None, :] - palette[None]) ** 2).sum(-1), axis=1)
        # the named colour is the object's own (handles, lids and shading take the rest)
        share = float((nearest == names.index(obj["color"])).mean())
        assert share > 0.2, (r["id"], obj, share)
        shares.append(share)
    assert kinds == {"tabletop", "indoor"}
    assert len(shares) >= 10 and np.mean(shares) > 0.6


def test_reference_completion_scores_full_marks_with_the_spec_rewards(built: tuple[Path, str]) -> None:
    from r1data import rewards
    from r1data.spec import load_spec

    spec = load_spec("vqa_verify").spec
    names = [r.reward for r in spec.rewards]
    assert names == ["satori.format", "satori.caption", "satori.bbox", "satori.answer"]
    assert set(names) <= set(rewards.names())
    rows = open_corpus(built[0]).table().to_pylist()[:12]
    cols = {c: [r[c] for r in rows] for c in ("image_caption", "bboxs", "width", "height", "possible_answers")}
    completions = [r["solution"] for r in rows]
    for entry in spec.rewards:
        fn = rewards.load(entry.reward, **entry.params)
        scores = fn(prompts=None, completions=completions, **cols)
        assert min(scores) > (0.9 if entry.reward == "satori.bbox" else 0.999), (entry.reward, scores)
    # and a wrong answer in the same format loses the answer reward, not the format
    wrong = [c.replace(f"<answer>{r['answer']}</answer>", "<answer>purple elephant</answer>")
             for c, r in zip(completions, rows)]
    assert rewards.load("satori.answer")(completions=wrong, possible_answers=cols["possible_answers"]) == [0.0] * 12
    assert rewards.load("satori.format")(completions=wrong) == [1.0] * 12


def test_caption_states_the_answer(built: tuple[Path, str]) -> None:
    rows = open_corpus(built[0]).table().to_pylist()
    for r in rows:
        assert tag_content(r["solution"], "caption") == r["image_caption"]
        if r["answer"] not in ("yes", "no"):
            assert any(a in r["image_caption"] for a in r["possible_answers"]) or r["question_type"] == "count"


def test_verifiers_reject_what_is_wrong() -> None:
    from r1data.corpora.vqa_verify.verifiers import answer_matches_truth, box_grounded, caption_consistent

    row = {"id": "x", "width": 100, "height": 80, "bboxs": [[10, 10, 30, 30]], "grounding": [[10, 10, 30, 30]],
           "answer": "red", "possible_answers": ["red"], "image_caption": "A table. The ball is red.",
           "objects": [{"id": 0, "category": "ball", "color": "red", "box": [10, 10, 30, 30]}], "object_ids": [0],
           "program": {"kind": "color", "category": "ball"},
           "solution": "<caption>c</caption><bbox>[[10,10,30,30]]</bbox><answer>red</answer>"}
    assert box_grounded(row, iou=0.5) is True
    assert box_grounded({**row, "bboxs": [[30, 30, 60, 60]]}, iou=0.5)[0] is False
    assert caption_consistent(row) is True
    assert caption_consistent({**row, "image_caption": "A table with a ball."})[0] is False
    assert answer_matches_truth(row) is True
    wrong = {**row, "objects": [{"id": 0, "category": "ball", "color": "blue", "box": [10, 10, 30, 30]}]}
    assert answer_matches_truth(wrong)[0] is False


def _jpeg(w: int, h: int, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="JPEG")
    return buf.getvalue()


def test_jsonl_source_rejects_bad_input_with_reasons(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    d = tmp_path / "src"
    (d / "img").mkdir(parents=True)
    (d / "img/good.jpg").write_bytes(_jpeg(64, 48))
    (d / "img/trunc.jpg").write_bytes(_jpeg(64, 48)[:300])
    (d / "img/junk.jpg").write_bytes(b"not an image at all")
    lines = [
        {"image": "img/good.jpg", "question": "What color is the box?", "answer": "red", "box": [4, 4, 40, 30],
         "label": "box"},
        {"image": "img/trunc.jpg", "question": "What color is it?", "answer": "red", "box": [4, 4, 40, 30]},
        {"image": "img/junk.jpg", "question": "What color is it?", "answer": "red", "box": [4, 4, 40, 30]},
        {"image": "img/absent.jpg", "question": "What color is it?", "answer": "red", "box": [4, 4, 40, 30]},
        {"image": "img/good.jpg", "question": "Where is it?", "answer": "left", "box": [30, 4, 90, 30]},
        {"image": "img/good.jpg", "question": "No box here?", "answer": "yes"},
    ]
    (d / "qa.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    out = tmp_path / "out"
    r = cli("build", "vqa_verify", "--source", "jsonl", "--source-dir", d, "-o", out, "--size", "10", "--no-progress")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(out)
    rows = corpus.table().to_pylist()
    assert [x["question"] for x in rows] == ["What color is the box?"]
    assert rows[0]["bboxs"] == [[4.0, 4.0, 40.0, 30.0]] and rows[0]["width"] == 64
    reasons = sorted(corpus.rejects().column("reason").to_pylist())
    assert reasons == sorted(["corrupt_image", "corrupt_image", "missing_image", "box_outside_image",
                              "missing_field", "bad_json"])


def test_coco_vqav2_source_grounds_questions_on_named_instances(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    d = tmp_path / "coco"
    (d / "images").mkdir(parents=True)
    (d / "images/000001.jpg").write_bytes(_jpeg(80, 60))
    instances = {"images": [{"id": 1, "file_name": "000001.jpg", "width": 80, "height": 60}],
                 "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}],
                 "annotations": [{"id": 5, "image_id": 1, "category_id": 18, "bbox": [10, 10, 30, 20]},
                                 {"id": 6, "image_id": 1, "category_id": 1, "bbox": [45, 5, 20, 50]}]}
    questions = {"questions": [{"question_id": 11, "image_id": 1, "question": "What color is the dog?"},
                               {"question_id": 12, "image_id": 1, "question": "Is it sunny?"},
                               {"question_id": 13, "image_id": 9, "question": "What is the man holding?"}]}
    answers = {"annotations": [
        {"question_id": 11, "image_id": 1, "answer_type": "other", "multiple_choice_answer": "brown",
         "answers": [{"answer": "brown"}] * 7 + [{"answer": "tan"}] * 2 + [{"answer": "black"}]},
        {"question_id": 12, "image_id": 1, "answer_type": "yes/no", "multiple_choice_answer": "yes",
         "answers": [{"answer": "yes"}] * 10},
        {"question_id": 13, "image_id": 9, "answer_type": "other", "multiple_choice_answer": "bat",
         "answers": [{"answer": "bat"}] * 10}]}
    (d / "instances_val2014.json").write_text(json.dumps(instances))
    (d / "v2_OpenEnded_mscoco_val2014_questions.json").write_text(json.dumps(questions))
    (d / "v2_mscoco_val2014_annotations.json").write_text(json.dumps(answers))
    out = tmp_path / "out"
    r = cli("build", "vqa_verify", "--source", "coco_vqa", "--source-dir", d, "-o", out, "--no-progress")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(out)
    rows = corpus.table().to_pylist()
    assert len(rows) == 1
    row = rows[0]
    assert row["answer"] == "brown" and row["possible_answers"] == ["brown", "tan"]
    assert row["bboxs"] == [[10.0, 10.0, 40.0, 30.0]]           # COCO xywh -> x1 y1 x2 y2
    assert "dog" in row["image_caption"] and "brown" in row["image_caption"]
    assert sorted(corpus.rejects().column("reason").to_pylist()) == ["missing_image", "no_grounding"]


def test_missing_source_dir_is_a_one_line_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("build", "vqa_verify", "--source", "coco_vqa", "--source-dir", tmp_path / "nope", "-o", tmp_path / "o")
    assert r.exit_code == 2
    assert "not a directory" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_gqa_source_grounds_on_the_annotated_objects(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    d = tmp_path / "gqa"
    (d / "images").mkdir(parents=True)
    (d / "images/2370799.jpg").write_bytes(_jpeg(100, 80))
    graphs = {"2370799": {"width": 100, "height": 80, "objects": {
        "1001": {"name": "cup", "x": 10, "y": 20, "w": 20, "h": 25},
        "1002": {"name": "table", "x": 0, "y": 40, "w": 100, "h": 40}}},
        "55": {"width": 100, "height": 80, "objects": {"7": {"name": "dog", "x": 0, "y": 0, "w": 10, "h": 10}}}}
    questions = {
        "201": {"imageId": "2370799", "question": "What is on the table?", "answer": "cup",
                "annotations": {"question": {"4": "1002"}, "answer": {"0": "1001"}, "fullAnswer": {}}},
        "202": {"imageId": "2370799", "question": "Is it daytime?", "answer": "yes",
                "annotations": {"question": {}, "answer": {}, "fullAnswer": {}}},
        "203": {"imageId": "55", "question": "What animal is it?", "answer": "dog",
                "annotations": {"question": {}, "answer": {"0": "7"}, "fullAnswer": {}}}}
    (d / "val_balanced_questions.json").write_text(json.dumps(questions))
    (d / "val_sceneGraphs.json").write_text(json.dumps(graphs))
    out = tmp_path / "out"
    r = cli("build", "vqa_verify", "--source", "gqa", "--source-dir", d, "-o", out, "--no-progress")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(out)
    rows = corpus.table().to_pylist()
    assert [x["answer"] for x in rows] == ["cup"]
    assert sorted(map(tuple, rows[0]["bboxs"])) == [(0.0, 40.0, 100.0, 80.0), (10.0, 20.0, 30.0, 45.0)]
    assert sorted(corpus.rejects().column("reason").to_pylist()) == ["missing_image", "no_grounding"]


def test_scene_kinds_are_a_spec_parameter(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    spec = yaml.safe_load((REPO / "pipelines/vqa_verify.yaml").read_text())
    spec["sources"]["procedural"]["kinds"] = {"tabletop": 1.0}
    (tmp_path / "tables.yaml").write_text(yaml.safe_dump(spec))
    r = cli("build", tmp_path / "tables.yaml", "--size", "9", "-o", tmp_path / "out", "--no-progress")
    assert r.exit_code == 0, r.stderr
    rows = open_corpus(tmp_path / "out").table().to_pylist()
    assert rows and all(_regenerate(x)[0] == "tabletop" and x["image_caption"].startswith("A table") for x in rows)
    spec["sources"]["procedural"]["kinds"] = {"outdoor": 1.0}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(spec))
    r = cli("build", tmp_path / "bad.yaml", "--size", "9", "-o", tmp_path / "bad", "--no-progress")
    assert r.exit_code == 2 and "kinds" in r.stderr and len(r.stderr.strip().splitlines()) == 1
