"""vqa_verify's real sources over folders laid out as VQAv2, COCO and GQA are released.

File names and entry fields follow the releases (docs/vqa-verify.md says where each was
checked): VQAv2's four question files and two annotation files side by side, COCO's
``annotations/instances_*.json`` and ``train2014/COCO_train2014_*.jpg``, GQA's
``questions1.2/`` (every split, balanced and all, train_all in chunks) and ``sceneGraphs/``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from r1data import open_corpus


def _jpeg(w: int, h: int, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    arr = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(buf, format="JPEG")
    return buf.getvalue()


def _vqa_question(qid: int, image_id: int, text: str) -> dict:
    return {"image_id": image_id, "question": text, "question_id": qid}


def _vqa_answer(qid: int, image_id: int, answer: str, others: tuple[str, ...] = ()) -> dict:
    answers = [answer] * (10 - len(others)) + list(others)
    return {"question_type": "what color is the", "multiple_choice_answer": answer,
            "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)],
            "image_id": image_id, "answer_type": "other", "question_id": qid}


def _questions_file(subtype: str, questions: list[dict]) -> dict:
    return {"info": {"description": "fixture in VQAv2's format"}, "task_type": "Open-Ended", "data_type": "mscoco",
            "data_subtype": subtype, "questions": questions, "license": {"name": "CC BY 4.0"}}


@pytest.fixture
def vqav2(tmp_path: Path) -> Path:
    """VQAv2 unzipped as released (all question and annotation zips into one folder), COCO's
    annotations_trainval2014.zip (annotations/) and train2014.zip / val2014.zip images."""
    d = tmp_path / "vqa"
    d.mkdir()
    for subtype, image_id, qid in (("train2014", 9, 90), ("val2014", 42, 420)):
        name = f"COCO_{subtype}_{image_id:012d}.jpg"
        (d / subtype).mkdir()
        (d / subtype / name).write_bytes(_jpeg(80, 60))
        inst = {"info": {}, "licenses": [], "images": [{"id": image_id, "file_name": name, "width": 80, "height": 60}],
                "annotations": [{"id": 1, "image_id": image_id, "category_id": 18, "bbox": [10, 10, 30, 20],
                                 "area": 600, "iscrowd": 0, "segmentation": [[10, 10, 40, 10, 40, 30]]}],
                "categories": [{"id": 18, "name": "dog", "supercategory": "animal"}]}
        (d / "annotations").mkdir(exist_ok=True)
        (d / "annotations" / f"instances_{subtype}.json").write_text(json.dumps(inst))
        qs = [_vqa_question(qid, image_id, f"What color is the dog ({subtype})?")]
        (d / f"v2_OpenEnded_mscoco_{subtype}_questions.json").write_text(json.dumps(_questions_file(subtype, qs)))
        (d / f"v2_mscoco_{subtype}_annotations.json").write_text(json.dumps(
            {"info": {}, "license": {}, "data_subtype": subtype, "annotations": [_vqa_answer(qid, image_id, "brown")]}))
    for subtype in ("test2015", "test-dev2015"):   # released without answers
        qs = [_vqa_question(7, 1, "Is this a test?")]
        (d / f"v2_OpenEnded_mscoco_{subtype}_questions.json").write_text(json.dumps(_questions_file(subtype, qs)))
    (d / "v2_mscoco_train2014_complementary_pairs.json").write_text("[[90, 91]]")
    return d


def _build(cli, source: str, d: Path, out: Path, *params: str):  # type: ignore[no-untyped-def]
    args = [x for p in params for x in ("--source-param", p)]
    return cli("build", "vqa_verify", "--source", source, "--source-dir", d, "-o", out, "--no-progress", *args)


def test_vqav2_release_folder_needs_its_split_named(cli, vqav2: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = _build(cli, "coco_vqa", vqav2, tmp_path / "o")
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "4 VQAv2 question files (test-dev2015, test2015, train2014, val2014)" in r.stderr
    assert "--source-param split=train2014" in r.stderr
    r = _build(cli, "coco_vqa", vqav2, tmp_path / "o", "split=test-dev2015")
    assert r.exit_code == 2 and "has no annotations file" in r.stderr and "train2014, val2014" in r.stderr
    r = _build(cli, "coco_vqa", vqav2, tmp_path / "o", "split=train")
    assert r.exit_code == 2 and "no VQAv2 question files for split 'train'" in r.stderr
    r = _build(cli, "coco_vqa", vqav2, tmp_path / "o", "spilt=train2014")   # a typo is named, not ignored
    assert r.exit_code == 2 and "--source-param spilt: source 'coco_vqa' (coco_vqa) has no such parameter" in r.stderr


@pytest.mark.parametrize("split,image_id", [("train2014", 9), ("val2014", 42)])
def test_vqav2_split_reads_its_own_files_and_images(cli, vqav2: Path, tmp_path: Path, split: str,
                                                     image_id: int) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / split
    r = _build(cli, "coco_vqa", vqav2, out, f"split={split}")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(out)
    rows = corpus.table().to_pylist()
    assert [x["question"] for x in rows] == [f"What color is the dog ({split})?"]
    assert rows[0]["image_id"] == str(image_id) and rows[0]["bboxs"] == [[10.0, 10.0, 40.0, 30.0]]
    files = {f["path"]: f["kind"] for f in corpus.manifest["source_files"]["files"]}
    assert files == {f"v2_OpenEnded_mscoco_{split}_questions.json": "annotation",
                     f"v2_mscoco_{split}_annotations.json": "annotation",
                     f"annotations/instances_{split}.json": "annotation",
                     f"{split}/COCO_{split}_{image_id:012d}.jpg": "media"}


def test_coco_records_that_cannot_be_used_are_rejects_with_their_place(cli, vqav2: Path,
                                                                        tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inst_path = vqav2 / "annotations/instances_val2014.json"
    inst = json.loads(inst_path.read_text())
    inst["annotations"].append({"id": 2, "image_id": 42, "category_id": 18})   # no bbox
    inst["annotations"].append({"id": 3, "image_id": 42, "category_id": 99, "bbox": [0, 0, 5, 5]})  # unknown class
    inst_path.write_text(json.dumps(inst))
    q_path = vqav2 / "v2_OpenEnded_mscoco_val2014_questions.json"
    qs = json.loads(q_path.read_text())
    qs["questions"] += [{"image_id": 42, "question_id": 421}, _vqa_question(422, 42, "Is the dog brown?"),
                        [1, 2, 3]]
    q_path.write_text(json.dumps(qs))
    a_path = vqav2 / "v2_mscoco_val2014_annotations.json"
    anns = json.loads(a_path.read_text())
    broken = _vqa_answer(422, 42, "yes")
    del broken["multiple_choice_answer"]
    anns["annotations"].append(broken)
    a_path.write_text(json.dumps(anns))
    out = tmp_path / "o"
    r = _build(cli, "coco_vqa", vqav2, out, "split=val2014")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(out)
    assert len(corpus.table().to_pylist()) == 1
    got = {(x["reason"], x["detail"]) for x in corpus.rejects().to_pylist()}
    assert got == {
        ("bad_annotation", "instances_val2014.json annotations[1]: no 'bbox'"),
        ("missing_field", "v2_OpenEnded_mscoco_val2014_questions.json questions[1]: no 'question'"),
        ("bad_json", "v2_OpenEnded_mscoco_val2014_questions.json questions[3]: expected a JSON object, got a list"),
        ("missing_field", "v2_mscoco_val2014_annotations.json question 422: no 'multiple_choice_answer'")}
    inst_path.write_text(json.dumps([inst]))   # a list where COCO has an object: the whole file is wrong
    r = _build(cli, "coco_vqa", vqav2, tmp_path / "o2", "split=val2014")
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "instances_val2014.json: expected a COCO instances object" in r.stderr and "got a list" in r.stderr


# -- GQA ---------------------------------------------------------------------------------------

def _gqa_question(image_id: str, text: str, answer: str, refs: dict) -> dict:
    return {"semantic": [], "entailed": [], "equivalent": [], "question": text, "imageId": image_id,
            "isBalanced": True, "groups": {"global": None, "local": "x"}, "answer": answer, "semanticStr": "",
            "annotations": {"answer": {}, "question": refs, "fullAnswer": {}},
            "types": {"structural": "query", "semantic": "rel", "detailed": "relS"},
            "fullAnswer": f"It is {answer}."}


@pytest.fixture
def gqa(tmp_path: Path) -> Path:
    """questions1.2.zip, sceneGraphs.zip and images.zip unzipped side by side."""
    d = tmp_path / "gqa"
    q = d / "questions1.2"
    (q / "train_all_questions").mkdir(parents=True)
    (d / "sceneGraphs").mkdir()
    (d / "images").mkdir()
    graphs = {}
    for split, image_id in (("train", "1"), ("val", "2354786")):
        (d / "images" / f"{image_id}.jpg").write_bytes(_jpeg(100, 80))
        graphs[split] = {image_id: {"width": 100, "height": 80, "objects": {
            "5": {"name": "cup", "x": 10, "y": 20, "w": 20, "h": 25, "attributes": [], "relations": []}}}}
        (d / "sceneGraphs" / f"{split}_sceneGraphs.json").write_text(json.dumps(graphs[split]))
    for split in ("train", "val", "testdev", "test", "challenge"):
        image_id = "2354786" if split == "val" else "1"
        balanced = {f"{split}01": _gqa_question(image_id, f"What is it ({split})?", "cup", {"3": "5"})}
        (q / f"{split}_balanced_questions.json").write_text(json.dumps(balanced))
        if split != "train":
            (q / f"{split}_all_questions.json").write_text(json.dumps(balanced))
    (q / "submission_all_questions.json").write_text("{}")
    for k in (1, 0, 10, 2):   # chunks, read in number order whatever the names sort as
        chunk = {f"c{k:02d}": _gqa_question("1", f"Chunk {k}?", "cup", {"0": "5"})}
        (q / "train_all_questions" / f"train_all_questions_{k}.json").write_text(json.dumps(chunk))
    return d


def test_gqa_release_folder_needs_its_split_named(cli, gqa: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = _build(cli, "gqa", gqa, tmp_path / "o")
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "5 GQA balanced question sets (challenge, test, testdev, train, val)" in r.stderr
    r = _build(cli, "gqa", gqa, tmp_path / "o", "split=testdev")
    assert r.exit_code == 2 and "GQA releases scene graphs for train and val only" in r.stderr


def test_gqa_split_and_version(cli, gqa: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = _build(cli, "gqa", gqa, tmp_path / "val", "split=val")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(tmp_path / "val")
    assert [x["question"] for x in corpus.table().to_pylist()] == ["What is it (val)?"]
    assert {f["path"] for f in corpus.manifest["source_files"]["files"]} == {
        "questions1.2/val_balanced_questions.json", "sceneGraphs/val_sceneGraphs.json", "images/2354786.jpg"}
    r = _build(cli, "gqa", gqa, tmp_path / "all", "split=train", "version=all")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(tmp_path / "all")
    assert sorted(x["question"] for s in corpus.splits for x in corpus.table(s).to_pylist()) == \
        sorted(f"Chunk {k}?" for k in (0, 1, 2, 10))
    from r1data.corpora.vqa_verify.releases import gqa_files

    _, chunks, _ = gqa_files(gqa, "train", "all")   # in chunk order, as released
    assert [p.name for p in chunks] == [f"train_all_questions_{k}.json" for k in (0, 1, 2, 10)]


# -- dedup by image ------------------------------------------------------------------------------

def test_jsonl_images_with_one_file_name_in_two_folders_are_two_images(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "src"
    for sub, seed in (("a", 1), ("b", 2)):
        (d / sub).mkdir(parents=True)
        (d / sub / "img.jpg").write_bytes(_jpeg(64, 48, seed))
    lines = [{"image": f"{sub}/img.jpg", "question": "What color is the box?", "answer": "red",
              "box": [4, 4, 40, 30], "label": "box"} for sub in ("a", "b")]
    (d / "qa.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = tmp_path / "out"
    r = cli("build", "vqa_verify", "--source", "jsonl", "--source-dir", d, "-o", out, "--size", "5", "--no-progress")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(out)
    rows = [x for s in corpus.splits for x in corpus.table(s).to_pylist()]
    assert sorted(x["image_id"] for x in rows) == ["a/img.jpg", "b/img.jpg"]
    assert not [x for x in corpus.rejects().to_pylist() if x["reason"] == "duplicate"]
