"""Property tests of every real-data reader: whatever a line, an entry or a file holds, it ends
as a row or a reject, never as an exception (issue 25).

Hypothesis writes annotation files of JSON values of every type (lone surrogates included),
raw bytes that are not UTF-8, and records shaped like the reader's own with fields of the
wrong type, then reads them. A file that cannot be used at all may stop the source with a
one-line ``R1DataError`` when it is opened; ``read`` itself must never raise, every item must
be a dict or a ``Reject`` with a reason and a detail, and no string in them may hold a lone
surrogate (the rejects table is UTF-8).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from r1data.errors import R1DataError
from r1data.registry import sources
from r1data.steps.base import Reject, StepContext

# CI runs a fixed set of 40 cases per reader; R1DATA_PROPERTY_EXAMPLES=500 explores afresh
_EXAMPLES = int(os.environ.get("R1DATA_PROPERTY_EXAMPLES", "0"))
SETTINGS = settings(max_examples=_EXAMPLES or 40, deadline=None, derandomize=not _EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SCANNET = Path(__file__).parent / "fixtures" / "scannet"

# text of every kind, lone surrogates included
TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def field(*likely: Any) -> st.SearchStrategy:
    """A field value: one of the ones the reader expects, or any JSON value."""
    return st.one_of(st.sampled_from(likely), JSON) if likely else JSON


def records(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """Objects with some of the reader's own keys (values of any type) and maybe others."""
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda d: st.dictionaries(TEXT, JSON, max_size=2).map(lambda extra: {**extra, **d}))


def jsonl_lines(record: st.SearchStrategy) -> st.SearchStrategy:
    """A JSONL line as bytes: a record, any JSON value, or bytes that may not be UTF-8."""
    dumped = st.one_of(record, JSON).map(lambda v: json.dumps(v, ensure_ascii=False, allow_nan=True)
                                         .encode("utf-8", "surrogatepass"))
    return st.one_of(dumped, dumped, st.binary(max_size=20).map(lambda b: b.replace(b"\n", b" ")))


def assert_clean(value: Any) -> None:
    """No string inside may hold a lone surrogate (it could not be written as UTF-8)."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for k, v in value.items():
            assert_clean(k)
            assert_clean(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            assert_clean(v)


def read_all(name: str, **params: Any) -> list:
    """Every item of source ``name``; a one-line R1DataError when opening it is allowed."""
    ctx = StepContext(seed=1, corpus="t", step="source")
    try:   # opening, and len() (the engine calls it first): where a whole file may be refused
        src = sources.get(name).make(ctx, params)
        n = len(src) if hasattr(src, "__len__") else None
    except R1DataError as e:
        assert "\n" not in e.message
        return []
    items = list(src.read(0))
    assert n is None or len(items) == n
    for it in items:
        if isinstance(it, Reject):
            assert it.reason and it.detail, it
            assert_clean(it.row)
            assert_clean([it.reason, it.detail])
        else:
            assert isinstance(it, dict)
            assert_clean({k: v for k, v in it.items() if isinstance(v, (str, list, dict))})
    return items


@contextmanager
def folder() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="r1data-prop-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def png(path: Path, w: int = 32, h: int = 24) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 120, np.uint8)).save(path)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")


IMAGE = field("img.png", "missing.png", "mask.png", "", "../img.png")
BOX = field([2, 2, 20, 20], [0, 0, 99, 99], [5, 5, 1, 1])
POINTS = field([[3, 3], [10, 12], [20, 20]], [[1, 1]], [[3, 3], [40, 40]])


# -- image readers ----------------------------------------------------------------------------

@SETTINGS
@given(st.lists(jsonl_lines(records({"image": IMAGE, "question": field("What is it?"), "answer": field("red"),
                                     "box": BOX, "boxes": field([[2, 2, 20, 20]]), "answers": field(["red"]),
                                     "label": field("cup"), "id": field("x1")})), max_size=6))
def test_vqa_jsonl_every_line_is_a_row_or_a_reject(lines: list[bytes]) -> None:
    from r1data.corpora.vqa_verify.readers import load_vqa_images

    with folder() as d:
        png(d / "img.png")
        write_lines(d / "qa.jsonl", lines)
        items = read_all("vqa_jsonl", dir=str(d))
        assert len(items) == sum(1 for x in lines if x.strip())
        rows = [it for it in items if not isinstance(it, Reject)]
        for out in load_vqa_images(rows, StepContext(seed=1, corpus="t", step="load")):
            assert isinstance(out, (dict, Reject))


@SETTINGS
@given(st.lists(jsonl_lines(records({"image": IMAGE, "object": field("mug"), "part": field("handle"),
                                     "mask": field("mask.png", "img.png"), "instruction": field("grab it"),
                                     "segmentation": POINTS, "id": field("p1")})), max_size=5))
def test_part_masks_every_line_is_a_row_or_a_reject(lines: list[bytes]) -> None:
    with folder() as d:
        png(d / "img.png")
        Image.fromarray(np.pad(np.full((8, 8), 255, np.uint8), ((4, 12), (4, 20)))).save(d / "mask.png")
        write_lines(d / "annotations.jsonl", lines)
        read_all("part_masks", dir=str(d))


@SETTINGS
@given(st.lists(jsonl_lines(records({"image": IMAGE, "instruction": field("move it"), "trajectory": POINTS,
                                     "object_box": BOX, "target_box": BOX, "object_mask": field("mask.png"),
                                     "object": field("cup"), "relation": field("left")})), max_size=5))
def test_trajectories_every_line_is_a_row_or_a_reject(lines: list[bytes]) -> None:
    with folder() as d:
        png(d / "img.png")
        Image.fromarray(np.pad(np.full((8, 8), 255, np.uint8), ((4, 12), (4, 20)))).save(d / "mask.png")
        write_lines(d / "annotations.jsonl", lines)
        read_all("trajectories", dir=str(d))


@SETTINGS
@given(st.lists(st.one_of(st.binary(max_size=30),
                          st.one_of(records({"questions": field(["Where?"], []), "answer": field(["There."], [])}),
                                    JSON).map(lambda v: json.dumps(v).encode())), min_size=1, max_size=4))
def test_earthreason_every_qa_file_is_a_row_or_a_reject(files: list[bytes]) -> None:
    with folder() as d:
        for sub in ("images", "labels", "QAs"):
            (d / "train" / sub).mkdir(parents=True)
        for i, data in enumerate(files):
            png(d / "train/images" / f"s{i}.png")
            (d / "train/QAs" / f"s{i}.json").write_bytes(data)
        assert len(read_all("earthreason", dir=str(d))) == len(files)


COCO_IMAGE = records({"id": field(1, 2), "file_name": field("a.jpg", "COCO_val2014_000000000001.jpg"),
                      "width": field(32), "height": field(24)})
COCO_ANN = records({"id": field(10), "image_id": field(1), "category_id": field(1), "bbox": BOX,
                    "segmentation": field([[2, 2, 20, 2, 20, 20]], {"size": [24, 32], "counts": [0, 768]},
                                          {"size": 5, "counts": "x"}, {"size": [24, 32], "counts": [5]})})


@SETTINGS
@given(st.fixed_dictionaries({"images": st.lists(COCO_IMAGE, max_size=3), "annotations": st.lists(COCO_ANN, max_size=3),
                              "categories": st.lists(records({"id": field(1), "name": field("dog")}), max_size=2)}),
       st.lists(records({"question_id": field(5, 6), "image_id": field(1), "question": field("Is the dog red?")}),
                max_size=4),
       st.lists(records({"question_id": field(5, 6), "multiple_choice_answer": field("yes"),
                         "answers": field([{"answer": "yes"}]), "answer_type": field("yes/no")}), max_size=4))
def test_coco_vqa_every_entry_is_a_row_or_a_reject(inst: dict, questions: list, answers: list) -> None:
    with folder() as d:
        png(d / "val2014" / "COCO_val2014_000000000001.jpg")
        (d / "annotations").mkdir()
        (d / "annotations/instances_val2014.json").write_text(json.dumps(inst))
        (d / "v2_OpenEnded_mscoco_val2014_questions.json").write_text(json.dumps({"questions": questions}))
        (d / "v2_mscoco_val2014_annotations.json").write_text(json.dumps({"annotations": answers}))
        read_all("coco_vqa", dir=str(d))


@SETTINGS
@given(st.dictionaries(st.sampled_from(["q1", "q2", "q3"]),
                       st.one_of(JSON, records({"imageId": field("7"), "question": field("What is it?"),
                                                "answer": field("cup"),
                                                "annotations": field({"question": {"0": "5"}}, {"answer": 5})})),
                       max_size=3),
       st.one_of(JSON, st.dictionaries(st.just("7"), records({"width": field(32), "height": field(24),
                                                             "objects": field({"5": {"name": "cup", "x": 1, "y": 1,
                                                                                     "w": 5, "h": 5}})}))))
def test_gqa_every_question_is_a_row_or_a_reject(questions: dict, graphs: Any) -> None:
    with folder() as d:
        (d / "val_balanced_questions.json").write_text(json.dumps(questions))
        (d / "val_sceneGraphs.json").write_text(json.dumps(graphs))
        read_all("gqa", dir=str(d))


@SETTINGS
@given(st.lists(st.one_of(JSON, records({"ref_id": field(1, 2), "ann_id": field(10), "image_id": field(1),
                                         "split": field("train"), "category_id": field(1),
                                         "sentences": field([{"sent": "the mug"}], [{"raw": 5}])})), max_size=4),
       st.lists(COCO_ANN, max_size=2))
def test_refcoco_every_ref_is_a_row_or_a_reject(refs: list, anns: list) -> None:
    with folder() as d:
        png(d / "images" / "a.jpg")
        coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 24}], "annotations": anns,
                "categories": [{"id": 1, "name": "mug"}]}
        (d / "instances.json").write_text(json.dumps(coco))
        (d / "refs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
        read_all("refcoco", dir=str(d))


# -- scene30k: annotation entries over the fixture scans -----------------------------------------

SCENE = field("scene0000_00", "scene0002_00", "scene0003_00", "scene9")


@contextmanager
def scannet_copy() -> Iterator[Path]:
    with folder() as d:
        for sub in ("scans", "boxes"):
            shutil.copytree(SCANNET / sub, d / sub)
        yield d


@SETTINGS
@given(st.lists(st.one_of(JSON, records({"scene_id": SCENE, "question": field("What color is the bed?"),
                                         "answers": field(["white"], []), "object_ids": field([2], ["2"]),
                                         "question_id": field("q1")})), max_size=5))
def test_scanqa_every_entry_is_a_question_or_a_reject(entries: list) -> None:
    with scannet_copy() as d:
        (d / "ScanQA_v1.0_train.json").write_text(json.dumps(entries))
        read_all("scanqa", dir=str(d), split="train")


@SETTINGS
@given(st.lists(st.one_of(JSON, records({"scene_id": SCENE, "object_id": field("3", 3), "description": field("a chair"),
                                         "ann_id": field("0")})), max_size=5))
def test_scanrefer_every_entry_is_a_question_or_a_reject(entries: list) -> None:
    with scannet_copy() as d:
        (d / "ScanRefer_filtered_train.json").write_text(json.dumps(entries))
        read_all("scanrefer", dir=str(d), split="train")


@SETTINGS
@given(st.lists(records({"scene_id": SCENE, "situation": field("I sit."), "question": field("What is left?"),
                         "question_id": field(1, 2)}), max_size=4),
       st.lists(st.one_of(JSON, records({"question_id": field(1, 2), "answers": field([{"answer": "bed"}]),
                                         "position": field({"x": 1, "y": 2, "z": 0}),
                                         "rotation": field({"_x": 0, "_y": 0, "_z": 0, "_w": 1})})), max_size=4))
def test_sqa3d_every_question_is_a_question_or_a_reject(questions: list, annotations: list) -> None:
    with scannet_copy() as d:
        (d / "v1_balanced_questions_train_scannetv2.json").write_text(json.dumps({"questions": questions}))
        (d / "v1_balanced_sqa_annotations_train_scannetv2.json").write_text(json.dumps({"annotations": annotations}))
        read_all("sqa3d", dir=str(d), split="train")


@SETTINGS
@given(st.lists(st.lists(st.one_of(st.binary(max_size=12), st.sampled_from([b"scene0000_00", b"3", b"a chair",
                                                                            b"scene0000_00-chair-2-3-4"])),
                         min_size=0, max_size=5), max_size=5),
       st.one_of(st.just(b'["scene0000_00", "scene0002_00"]'), st.binary(max_size=20)))
def test_nr3d_every_row_is_a_question_or_a_reject(rows: list[list[bytes]], listing: bytes) -> None:
    with scannet_copy() as d:
        header = b"stimulus_id,utterance,scan_id,target_id\n"
        body = b"\n".join(b",".join(c.replace(b"\n", b" ").replace(b"\r", b" ") for c in r) for r in rows)
        (d / "nr3d.csv").write_bytes(header + body + b"\n")
        (d / "train_scans.txt").write_bytes(listing)
        read_all("nr3d", dir=str(d), split="train")


# -- videos: list files ------------------------------------------------------------------------

@SETTINGS
@given(st.lists(st.one_of(st.binary(max_size=16), TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))),
                min_size=1, max_size=6))
def test_video_list_every_line_is_a_video_or_a_reject(lines: list[bytes]) -> None:
    with folder() as d:
        write_lines(d / "videos.txt", [x.replace(b"\n", b" ").replace(b"\r", b" ") for x in lines])
        read_all("video_folder", dir=str(d / "videos.txt"))


def test_the_strategies_reach_deep_records() -> None:
    """The generated records are not all rejected at the first field: some become rows."""
    line = json.dumps({"image": "img.png", "question": "What is it?", "answer": "red", "box": [2, 2, 20, 20]})
    with folder() as d:
        png(d / "img.png")
        write_lines(d / "qa.jsonl", [line.encode(), b"\xff\xfe", b"[1, 2, 3]", b'"\\ud800"'])
        items = read_all("vqa_jsonl", dir=str(d))
    assert [type(x).__name__ for x in items] == ["dict", "Reject", "Reject", "Reject"]
    assert [x.reason for x in items[1:]] == ["bad_encoding", "bad_json", "bad_json"]
