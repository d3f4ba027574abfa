"""One entry of ScanQA, SQA3D, ScanRefer or Nr3D as a :class:`Question`, checked field by field.

Each function takes one released entry (a JSON object, a CSV row) and the place it came from
(``where``: ``ScanQA_v1.0_train.json[12]``, ``nr3d.csv:40``) and returns the question, or
raises :class:`~r1data.sourcefiles.BadRecord` naming the place and what is wrong; the readers
turn that into a reject. The field names follow the releases (docs/scene30k-sources.md says
where each was checked):

* ScanQA ``ScanQA_v1.0_{split}.json``: a list of ``{scene_id, question, answers, object_ids,
  object_names, question_id}`` (``docs/dataset.md`` and ``lib/dataset.py`` of ATR-DBI/ScanQA;
  the test files carry no ``answers``);
* SQA3D ``v1_balanced_questions_{split}_scannetv2.json`` ``{"questions": [{scene_id,
  situation, alternative_situation, question, question_id}]}`` and
  ``v1_balanced_sqa_annotations_{split}_scannetv2.json`` ``{"annotations": [{question_id,
  answers: [{answer, ...}], position: {x, y, z}, rotation: {_x, _y, _z, _w}}]}`` (the test
  files in SilongYong/SQA3D, ``LLM/``);
* ScanRefer ``ScanRefer_filtered_{split}.json``: ``{scene_id, object_id, object_name, ann_id,
  description, token}`` with ids as strings (README of daveredrum/ScanRefer);
* Nr3D ``nr3d.csv``: columns ``stimulus_id``, ``utterance``, ``scan_id``, ``target_id`` ...
  (``referit3d/in_out/neural_net_oriented.py``); the split's scans in ``train_scans.txt`` /
  ``test_scans.txt``, one line holding a JSON list (``referit3d/data/language/nr3d/``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from r1data.corpora.scene30k.scene import Question
from r1data.errors import UsageError
from r1data.sourcefiles import BadRecord, check_object, int_field, json_type, list_field, text_field

REFERRING_TEMPLATE = 'Find the object described as: "{description}". Give its 3D box.'

# ScanQA has no question types: the leading words decide (first match wins; else relation)
_SCANQA_FAMILIES = [
    ("counting", re.compile(r"^\s*how many\b", re.I)),
    ("existence", re.compile(r"^\s*(is|are) there\b", re.I)),
    ("attribute", re.compile(r"^\s*what\s+(is\s+the\s+|are\s+the\s+)?(colou?r|shape|material|pattern)\b", re.I)),
]
_SCENE_ID = re.compile(r"^scene\d{4}_\d{2}$")


def scanqa_family(question: str) -> str:
    """attribute | counting | existence | relation, from a ScanQA question's leading words."""
    for family, pattern in _SCANQA_FAMILIES:
        if pattern.match(question):
            return family
    return "relation"


def referring_question(description: str) -> str:
    """The question asked for a ScanRefer / Nr3D description (one line, inner quotes made single)."""
    text = " ".join(str(description).split()).strip("'\"").replace('"', "'")
    return REFERRING_TEMPLATE.format(description=text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _scene_id(rec: dict, key: str, where: str) -> str:
    scene_id = text_field(rec, key, where)
    if not _SCENE_ID.match(scene_id):
        raise BadRecord("bad_field", f"{where}: {key} {scene_id[:40]!r} is not a ScanNet scan id (sceneNNNN_NN)")
    return scene_id


def answer_list(values: list, where: str) -> list[str]:
    """Non-empty answer strings, first occurrence order (the first is the canonical one)."""
    out: list[str] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise BadRecord("bad_field", f"{where}: an answer should be a string, got {json_type(v)}")
        text = _one_line(str(v))
        if text and text not in out:
            out.append(text)
    return out


def _ids(values: list, where: str, key: str) -> list[int]:
    return [int_field({key: v}, key, where) for v in values]


def scanqa_question(entry: Any, where: str, index: int) -> tuple[str, Question]:
    """A ScanQA entry and its scene (an unanswered one too: the caller decides)."""
    rec = check_object(entry, where)
    scene_id = _scene_id(rec, "scene_id", where)
    text = _one_line(text_field(rec, "question", where))
    ids = _ids(list_field(rec, "object_ids", where, required=False), where, "object_ids")
    answers = answer_list(list_field(rec, "answers", where, required=False), where)
    qid = text_field(rec, "question_id", where, required=False) or f"{scene_id}-scanqa{index:06d}"
    return scene_id, Question(qid, scanqa_family(text), text, answers, ids, program={"kind": "given"},
                              source="scanqa")


def _pose(value: Any, keys: tuple[str, ...], what: str, where: str) -> list[float]:
    if not isinstance(value, dict):
        raise BadRecord("bad_field", f"{where}: {what} should be an object with {', '.join(keys)}, "
                                     f"got {json_type(value)}")
    numbers = [value.get(k) for k in keys]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        raise BadRecord("bad_field", f"{where}: {what} needs numbers {', '.join(keys)}")
    return [float(v) for v in numbers]  # type: ignore[arg-type]


def sqa3d_question(question: Any, annotation: Any, where: str) -> tuple[str, Question]:
    """An SQA3D question joined with its annotation (answers, the agent's position and rotation)."""
    rec = check_object(question, where)
    qid = text_field(rec, "question_id", where)
    scene_id = _scene_id(rec, "scene_id", where)
    text = _one_line(text_field(rec, "question", where))
    situation = _one_line(text_field(rec, "situation", where))
    if annotation is None:
        raise BadRecord("missing_answer", f"{where}: question {qid} has no entry in the annotations file")
    ann = check_object(annotation, f"{where} (its annotation)")
    answers = []
    for a in list_field(ann, "answers", where):
        answers += answer_list([check_object(a, where).get("answer") or ""], where)
    if not answers:
        raise BadRecord("missing_answer", f"{where}: question {qid} has no answer in the annotations file")
    position = _pose(ann.get("position"), ("x", "y", "z"), "position", where)
    rotation = _pose(ann.get("rotation"), ("_x", "_y", "_z", "_w"), "rotation", where)
    return scene_id, Question(qid, "situated", text, answers, [], situation=situation, program={"kind": "given"},
                              source="sqa3d",
                              agent_pose={"released_position": position, "released_rotation": rotation})


def scanrefer_question(entry: Any, where: str, index: int) -> tuple[str, Question]:
    """A ScanRefer description as a referring question (answered later with the target's box)."""
    rec = check_object(entry, where)
    scene_id = _scene_id(rec, "scene_id", where)
    target = int_field(rec, "object_id", where)
    description = text_field(rec, "description", where)
    ann = text_field(rec, "ann_id", where, required=False) or str(index)
    return scene_id, Question(f"{scene_id}-{target}-{ann}", "referring", referring_question(description), [],
                              [target], program={"kind": "given"}, source="scanrefer")


def decode_stimulus(stimulus_id: str) -> tuple[str, int]:
    """ReferIt3D's ``scan-instance_type-n_objects-target-distractors...`` -> (scan_id, target_id)."""
    parts = stimulus_id.split("-", 4)
    return parts[0], int(parts[3])


def nr3d_question(row: dict, where: str, index: int) -> tuple[str, Question]:
    """A row of ``nr3d.csv`` (scan and target from ``scan_id``/``target_id``, else ``stimulus_id``)."""
    bad = [k for k, v in row.items() if isinstance(v, str) and not _utf8(v)]
    if bad:
        raise BadRecord("bad_encoding", f"{where}: column {bad[0]!r} is not UTF-8")
    if None in row or any(v is None for v in row.values()):
        raise BadRecord("bad_field", f"{where}: the row does not have one value per column")
    if row.get("scan_id") and row.get("target_id"):
        scan_id = _scene_id(row, "scan_id", where)
        target = int_field(row, "target_id", where)
    else:
        stimulus = text_field(row, "stimulus_id", where)
        try:
            scan_id, target = decode_stimulus(stimulus)
        except (IndexError, ValueError):
            raise BadRecord("bad_field", f"{where}: stimulus_id {stimulus[:60]!r} is not "
                                         "scan-class-n-target-distractors") from None
        if not _SCENE_ID.match(scan_id):
            raise BadRecord("bad_field", f"{where}: stimulus_id {stimulus[:60]!r} names no ScanNet scan")
    utterance = text_field(row, "utterance", where)
    if not utterance.strip():
        raise BadRecord("missing_field", f"{where}: empty utterance")
    return scan_id, Question(f"{scan_id}-nr3d{index:06d}", "referring", referring_question(utterance), [],
                             [target], program={"kind": "given"}, source="nr3d")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def read_scan_list(path: Path) -> set[str]:
    """The scan ids of a split list: ReferIt3D's ``train_scans.txt`` is one line holding a JSON
    list (``["scene0525_00", ...]``); ScanNet's ``scannetv2_train.txt`` has one id per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: not a readable list of scans ({e})") from None
    if text.lstrip().startswith("["):
        try:
            ids = json.loads(text)
        except ValueError as e:
            raise UsageError(f"{path}: starts like a JSON list of scans but is not JSON ({e})") from None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise UsageError(f"{path}: expected a JSON list of scan ids such as [\"scene0000_00\", ...]")
        scans = {i.strip() for i in ids}
    else:
        scans = {line.strip() for line in text.splitlines() if line.strip()}
    odd = sorted(s for s in scans if not _SCENE_ID.match(s))
    if odd:
        raise UsageError(f"{path}: {odd[0][:40]!r} is not a ScanNet scan id (expected sceneNNNN_NN, one per "
                         "line or a JSON list)")
    return scans
