"""VQAv2 + COCO and GQA as their authors release them: which file is which split, and entries.

File names (checked against the releases; docs/vqa-verify.md says where):

* VQAv2 (visualqa.org/download.html; GT-Vision-Lab/VQA ``PythonHelperTools/vqaDemo.py``):
  ``v2_OpenEnded_mscoco_{train2014,val2014,test2015,test-dev2015}_questions.json`` and
  ``v2_mscoco_{train2014,val2014}_annotations.json`` (the test splits have no answers); v1
  names lack the ``v2_`` prefix. The split is the release's ``data_subtype``.
* COCO: ``annotations/instances_{train2014,val2014}.json``; images ``train2014/`` and
  ``val2014/`` with ``file_name`` ``COCO_train2014_000000000009.jpg``.
* GQA (cs.stanford.edu/people/dorarad/gqa/download.html): ``questions1.2/`` holds
  ``{train,val,testdev,test,challenge}_{balanced,all}_questions.json``,
  ``submission_all_questions.json`` and ``train_all_questions/train_all_questions_{0..9}.json``;
  ``sceneGraphs/`` holds ``{train,val}_sceneGraphs.json``; images are ``images/{imageId}.jpg``.

Sorted by name, the first questions file of a full VQAv2 folder is test-dev's and of GQA's is
challenge's: none of those has answers, so the split is always named (``split``) unless the
folder holds one candidate only.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from r1data.errors import UsageError
from r1data.sourcefiles import (BadRecord, check_object, choose_release, find_release_files, int_field, json_type,
                                list_field, text_field)

VQA_QUESTIONS = re.compile(r"^(?:v2_)?(?:OpenEnded|MultipleChoice)_mscoco_(?P<name>[A-Za-z0-9-]+)_questions\.json$")
VQA_ANNOTATIONS = re.compile(r"^(?:v2_)?mscoco_(?P<name>[A-Za-z0-9-]+)_annotations\.json$")
COCO_INSTANCES = re.compile(r"^instances_(?P<name>[A-Za-z0-9-]+)\.json$")
GQA_SPLITS = ("train", "val", "testdev", "test", "challenge", "submission")
GQA_GRAPHS = re.compile(r"^(?P<name>[a-z]+)_sceneGraphs\.json$")


def gqa_questions_pattern(version: str) -> re.Pattern:
    """``{split}_{version}_questions.json`` (and ``train_all_questions_N.json`` chunks)."""
    return re.compile(rf"^(?P<name>{'|'.join(GQA_SPLITS)})_{re.escape(version)}_questions(?:_\d+)?\.json$")


def vqav2_files(root: Path, split: str | None) -> tuple[str, Path, Path, Path]:
    """(split, questions, annotations, instances) of VQAv2 ``split`` under ``root``."""
    found = find_release_files(root, VQA_QUESTIONS)
    if not found:
        raise UsageError(f"{root}: no VQAv2 question files (v2_OpenEnded_mscoco_SPLIT_questions.json) in it or "
                         "its sub-folders")
    split, (questions,) = choose_release(found, split, what="VQAv2 question files", key="split", root=root,
                                         example="train2014")
    answered = find_release_files(root, VQA_ANNOTATIONS)
    if split not in answered:
        raise UsageError(f"{root}: VQAv2 split {split!r} has no annotations file v2_mscoco_{split}_annotations.json "
                         f"(answers are released for: {', '.join(answered) or 'none found here'})")
    _, (annotations,) = choose_release(answered, split, what="VQAv2 annotation files", key="split", root=root)
    coco = find_release_files(root, COCO_INSTANCES)
    if split not in coco:
        raise UsageError(f"{root}: no COCO instances_{split}.json for VQAv2 split {split!r} (COCO's "
                         f"annotations/instances_{split}.json; found: {', '.join(coco) or 'none'})")
    _, (instances,) = choose_release(coco, split, what="COCO instances files", key="split", root=root)
    return split, questions, annotations, instances


def gqa_files(root: Path, split: str | None, version: str) -> tuple[str, list[Path], Path]:
    """(split, question files, scene graph file) of GQA ``split`` / ``version`` under ``root``."""
    if version not in ("balanced", "all"):
        raise UsageError(f"version: expected balanced or all (GQA's question sets), got {version!r}")
    found = find_release_files(root, gqa_questions_pattern(version))
    if not found:
        raise UsageError(f"{root}: no GQA question files (SPLIT_{version}_questions.json, as in questions1.2.zip) "
                         "in it or its sub-folders")
    split, questions = choose_release(found, split, what=f"GQA {version} question sets", key="split", root=root,
                                      several_files=True, example="train")
    chunks = {p: re.search(r"_(\d+)\.json$", p.name) for p in questions}
    if len(questions) > 1:
        if not all(chunks.values()):
            raise UsageError(f"{root}: several files hold GQA's {split}_{version} questions "
                             f"({', '.join(p.name for p in questions)}); keep one")
        questions = sorted(questions, key=lambda p: int(chunks[p].group(1)))  # type: ignore[union-attr]
    graphs = find_release_files(root, GQA_GRAPHS)
    if split not in graphs:
        raise UsageError(f"{root}: no {split}_sceneGraphs.json: GQA releases scene graphs for train and val only "
                         f"(found: {', '.join(graphs) or 'none'})")
    _, (graph,) = choose_release(graphs, split, what="GQA scene graph files", key="split", root=root)
    return split, questions, graph


def image_folder(root: Path, split: str, file_name: str | None, given: str | None) -> Path:
    """Where the images are: ``given`` (relative to ``root``), else the first of ``SPLIT/``,
    ``images/SPLIT/``, ``Images/mscoco/SPLIT/`` (the VQA API's layout), ``images/``, ``root``
    that holds ``file_name`` (the first one that exists when none does)."""
    if given:
        return root / given
    candidates = [root / split, root / "images" / split, root / "Images" / "mscoco" / split, root / "images", root]
    existing = [c for c in candidates if c.is_dir()]
    if file_name:
        for c in existing:
            if (c / file_name).is_file():
                return c
    return existing[0] if existing else root


# -- entries ---------------------------------------------------------------------------------

def xywh_box(value: Any, where: str) -> list[float]:
    """COCO / GQA ``[x, y, w, h]`` -> ``[x1, y1, x2, y2]``; :class:`BadRecord` unless 4 numbers, w, h >= 0."""
    if not isinstance(value, list) or len(value) != 4 or \
            not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise BadRecord("bad_annotation", f"{where}: bbox should be [x, y, w, h] numbers, got {value!r:.60}")
    x, y, w, h = (float(v) for v in value)
    if w < 0 or h < 0:
        raise BadRecord("bad_annotation", f"{where}: bbox {value} has a negative size")
    return [x, y, x + w, y + h]


def coco_index(inst: Any, name: str) -> tuple[dict, dict, dict[Any, list[dict]], list[BadRecord]]:
    """Images by id, category names by id, objects by image id, and the bad entries."""
    if not isinstance(inst, dict):
        raise UsageError(f"{name}: expected a COCO instances object ({{images, annotations, categories}}), "
                         f"got {json_type(inst)}")
    bad: list[BadRecord] = []
    images, cats = {}, {}
    for part in ("images", "annotations", "categories"):
        if not isinstance(inst.get(part, []), list):
            raise UsageError(f"{name}: {part!r} should be a list, got {json_type(inst.get(part))}")
    for i, im in enumerate(inst.get("images", [])):
        where = f"{name} images[{i}]"
        try:
            rec = check_object(im, where)
            images[int_field(rec, "id", where)] = {**rec, "file_name": text_field(rec, "file_name", where)}
        except BadRecord as e:
            bad.append(e)
    for i, c in enumerate(inst.get("categories", [])):
        where = f"{name} categories[{i}]"
        try:
            rec = check_object(c, where)
            cats[int_field(rec, "id", where)] = text_field(rec, "name", where)
        except BadRecord as e:
            bad.append(e)
    objects: dict[Any, list[dict]] = {}
    for i, a in enumerate(inst.get("annotations", [])):
        where = f"{name} annotations[{i}]"
        try:
            rec = check_object(a, where)
            image_id, cat = int_field(rec, "image_id", where), int_field(rec, "category_id", where)
            if "bbox" not in rec:
                raise BadRecord("bad_annotation", f"{where}: no 'bbox'")
            box = xywh_box(rec["bbox"], where)
        except BadRecord as e:
            bad.append(e)
            continue
        objs = objects.setdefault(image_id, [])
        objs.append({"id": len(objs), "category": cats.get(cat, str(cat)), "color": "", "size": "", "box": box,
                     "visible": 1.0})
    return images, cats, objects, bad


def vqa_answers(ann: dict, where: str, min_votes: int) -> tuple[str, list[str], str]:
    """(multiple_choice_answer, accepted answers, answer_type) of a VQAv2 annotation."""
    answer = text_field(ann, "multiple_choice_answer", where)
    votes: Counter = Counter()
    for a in list_field(ann, "answers", where, required=False):
        if isinstance(a, dict) and isinstance(a.get("answer"), str):
            votes[a["answer"]] += 1
        else:
            raise BadRecord("bad_field", f"{where}: 'answers' should hold {{\"answer\": str}} objects")
    accepted = [answer] + sorted(a for a, n in votes.items() if n >= min_votes and a != answer)
    return answer, accepted, text_field(ann, "answer_type", where, required=False) or "vqa"


def gqa_objects(graph: Any, where: str) -> tuple[list[str], list[dict], tuple[Any, Any]]:
    """(object ids, objects, (width, height)) of a GQA scene graph."""
    graph = check_object(graph, where)
    objects = graph.get("objects", {})
    if not isinstance(objects, dict):
        raise BadRecord("bad_annotation", f"{where}: 'objects' should be an object, got {json_type(objects)}")
    keys = sorted(objects)
    objs = []
    for i, k in enumerate(keys):
        o = check_object(objects[k], f"{where} object {k}")
        box = xywh_box([o.get(c) for c in ("x", "y", "w", "h")], f"{where} object {k}")
        objs.append({"id": i, "category": text_field(o, "name", f"{where} object {k}"), "color": "", "size": "",
                     "box": box, "visible": 1.0})
    return keys, objs, (graph.get("width"), graph.get("height"))


def gqa_refs(q: dict, where: str) -> set[str]:
    """The object ids a GQA question's ``annotations`` point to (question, answer, fullAnswer)."""
    ann = q.get("annotations") or {}
    if not isinstance(ann, dict):
        raise BadRecord("bad_field", f"{where}: 'annotations' should be an object, got {json_type(ann)}")
    refs: set[str] = set()
    for part in ("question", "answer", "fullAnswer"):
        values = ann.get(part) or {}
        if not isinstance(values, dict):
            raise BadRecord("bad_field", f"{where}: annotations.{part} should be an object")
        refs.update(str(v) for v in values.values())
    return refs
