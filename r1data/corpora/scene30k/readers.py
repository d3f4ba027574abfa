"""Real sources of scene30k: ScanQA, SQA3D, ScanRefer and Nr3D questions over ScanNet scans.

Each reader takes the folder given by ``--source-dir`` (``dir``) and a ``split``, reads the
dataset's annotation file(s) for that split in ``__init__`` (a one-line UsageError when the
folder or the file is not there), groups the questions by scene and yields one item per
scene, scenes sorted by id, questions in file order::

    {"id": "scene0000_00", "scene": Scene(objects=..., points=..., questions=[Question, ...])}

A scene whose scan is missing or unreadable becomes a ``Reject`` (``missing_scene`` /
``unreadable_scene``) and the build goes on. Questions naming object ids the scan lacks are
kept as they are (the ``scene30k_object_ids_exist`` verifier rejects them later); a referring
question whose target is absent gets no answer and no ``target_box``. SQA3D questions, which
come without object ids, get the ids of the objects their text names (:func:`mentioned_objects`).

Where the files go under ``--source-dir``: docs/scene30k-sources.md.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from r1data.corpora.scene30k.scannet import ScanError, ScanGeometry, ScanNetLayout, find_file
from r1data.corpora.scene30k.scene import Question, Scene, SceneObject
from r1data.errors import UsageError
from r1data.parsing import format_box3d
from r1data.steps.base import Reject, Source, StepContext, source

REFERRING_TEMPLATE = 'Find the object described as: "{description}". Give its 3D box.'

# ScanQA has no question types: the leading words decide (first match wins; else relation)
_SCANQA_FAMILIES = [
    ("counting", re.compile(r"^\s*how many\b", re.I)),
    ("existence", re.compile(r"^\s*(is|are) there\b", re.I)),
    ("attribute", re.compile(r"^\s*what\s+(is\s+the\s+|are\s+the\s+)?(colou?r|shape|material|pattern)\b", re.I)),
]


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


def mentioned_objects(texts: list[str], objects: list[SceneObject]) -> list[int]:
    """Ids of the objects whose category the texts name, in order of first mention.

    Longer names win (``office chair`` is not also a ``chair``); a plural ``s``/``es`` matches;
    every instance of a named category is listed (the text does not say which one).
    """
    by_category: dict[str, list[int]] = defaultdict(list)
    for o in objects:
        by_category[o.category.strip().lower()].append(o.id)
    text = " | ".join(" ".join(t.lower().split()) for t in texts)
    found: list[tuple[int, str]] = []
    for category in sorted(by_category, key=len, reverse=True):
        if not category:
            continue
        pattern = re.compile(rf"\b{re.escape(category)}(?:s|es)?\b")
        for m in pattern.finditer(text):
            found.append((m.start(), category))
        text = pattern.sub(lambda m: "#" * len(m.group()), text)   # masked: no shorter match inside
    ids: list[int] = []
    for _, category in sorted(found):
        ids.extend(i for i in sorted(by_category[category]) if i not in ids)
    return ids


def ground_questions(questions: list[Question], objects: list[SceneObject]) -> list[Question]:
    """Tie dataset questions to the scan once its objects are known.

    Referring questions get their target's AABB as ``target_box`` and the formatted box as
    answer (none when the target is absent). Questions without object ids (SQA3D gives none)
    get the objects their situation, question and answer name (:func:`mentioned_objects`).
    """
    by_id = {o.id: o for o in objects}
    out = []
    for q in questions:
        target = by_id.get(q.object_ids[0]) if q.family == "referring" and q.object_ids else None
        if target is not None:
            box = [round(float(v), 4) + 0.0 for v in target.aabb()]   # + 0.0: no "-0.00" in answers
            q = replace(q, target_box=box, answers=[format_box3d(box)])
        elif not q.object_ids and q.family != "referring":
            q = replace(q, object_ids=mentioned_objects([q.situation, q.question, *q.answers[:1]], objects))
        out.append(q)
    return out


def room_size(geo: ScanGeometry) -> tuple[float, float, float]:
    """Extent of the scan (its points, else its boxes) along x, y, z."""
    if geo.points is not None and len(geo.points):
        lo, hi = geo.points[:, :3].min(axis=0), geo.points[:, :3].max(axis=0)
    elif geo.objects:
        boxes = np.array([o.aabb() for o in geo.objects])
        lo, hi = boxes[:, :3].min(axis=0), boxes[:, 3:].max(axis=0)
    else:
        return (0.0, 0.0, 0.0)
    return tuple(float(v) for v in hi - lo)  # type: ignore[return-value]


def _answers(values: Any) -> list[str]:
    """Non-empty answer strings, first occurrence order (the first is the canonical one)."""
    out: list[str] = []
    for v in values or []:
        text = " ".join(str(v).split())
        if text and text not in out:
            out.append(text)
    return out


def _numbers(value: Any, keys: tuple[str, ...]) -> list[float] | None:
    """``[value[k] for k in keys]`` as floats, or None when ``value`` does not have them all."""
    if not isinstance(value, dict) or not all(isinstance(value.get(k), (int, float)) for k in keys):
        return None
    return [float(value[k]) for k in keys]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{path}: not readable JSON ({e})") from None


class ScanNetQuestions(Source):
    """Base of the readers: one item per ScanNet scene that the split's questions name."""

    takes_dir: ClassVar[bool] = True
    dataset: ClassVar[str] = ""          # the Question.source / Scene.source value
    files: ClassVar[str] = ""            # what the reader expects, for error messages

    def __init__(self, ctx: StepContext, *, dir: str, split: str = "train", max_points: int = 50000,
                 keep_structure: bool = False):
        self.ctx = ctx
        self.root = Path(dir).expanduser()
        if not self.root.is_dir():
            raise UsageError(f"--source-dir {dir}: no such directory (source {self.dataset} reads "
                             f"{self.files.format(split=split)} and ScanNet scans from it)")
        if max_points < 1:
            raise UsageError(f"max_points: expected a positive number of points, got {max_points}")
        self.split = split
        self.max_points = max_points
        self.keep_structure = keep_structure
        self.questions: dict[str, list[Question]] = self.load_questions()
        self.scene_ids = sorted(self.questions)
        self.layout = ScanNetLayout(self.root)

    def load_questions(self) -> dict[str, list[Question]]:  # pragma: no cover - abstract
        """The split's questions by scene id, in file order."""
        raise NotImplementedError

    def require(self, name: str) -> Path:
        """``name`` in the source dir or two levels below; a UsageError naming it otherwise."""
        path = find_file(self.root, name)
        if path is None:
            expects = self.files.format(split=self.split)
            raise UsageError(f"--source-dir {self.root}: no {name} in it or its sub-folders "
                             f"(source {self.dataset}, split {self.split!r} expects {expects})")
        return path

    def dropped(self, n: int) -> None:
        """Count annotation entries left out (malformed, unanswered, unannotated)."""
        if n:
            self.ctx.stats.count(f"{self.dataset}_questions_dropped", n)

    def __len__(self) -> int:
        return len(self.scene_ids)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for scene_id in self.scene_ids[start:]:
            questions = self.questions[scene_id]
            try:
                geo = self.layout.load(scene_id, max_points=self.max_points, rng=self.ctx.rng("points", scene_id),
                                       keep_structure=self.keep_structure)
            except ScanError as e:
                yield Reject({"id": scene_id, "scene_id": scene_id, "source": self.dataset,
                              "questions": len(questions)}, e.reason, e.detail)
                continue
            scene = Scene(scene_id=scene_id, room_type="", room_size=room_size(geo), objects=geo.objects,
                          questions=ground_questions(questions, geo.objects), points=geo.points,
                          source=self.dataset, point_labels=geo.point_labels)
            yield {"id": scene_id, "scene": scene}


def _no_questions(path: Path, dropped: int, note: str = "") -> UsageError:
    return UsageError(f"{path}: no usable questions ({dropped} entries without the expected fields{note})")


@source("scanqa")
class ScanQAScenes(ScanNetQuestions):
    """ScanQA (Azuma et al. 2022) questions over ScanNet scans, one item per scene.

    Reads ``ScanQA_v1.0_{split}.json`` (entries: scene_id, question, answers, object_ids,
    question_id); the question family comes from its leading words (what color: attribute,
    how many: counting, is there: existence, else relation).
    """

    dataset = "scanqa"
    files = "ScanQA_v1.0_{split}.json"

    def load_questions(self) -> dict[str, list[Question]]:
        path = self.require(f"ScanQA_v1.0_{self.split}.json")
        data = _load_json(path)
        if not isinstance(data, list):
            raise UsageError(f"{path}: expected a JSON list of questions, got {type(data).__name__}")
        by_scene: dict[str, list[Question]] = defaultdict(list)
        bad = unanswered = 0
        for i, e in enumerate(data):
            try:
                scene_id, text = str(e["scene_id"]), " ".join(str(e["question"]).split())
                ids = [int(x) for x in e.get("object_ids") or []]
                answers = _answers(e.get("answers"))
            except (KeyError, TypeError, ValueError, AttributeError):
                bad += 1
                continue
            if not answers:   # ScanQA's test files carry no answers
                unanswered += 1
                continue
            qid = str(e.get("question_id") or f"{scene_id}-scanqa{i:06d}")
            by_scene[scene_id].append(Question(qid, scanqa_family(text), text, answers, ids,
                                               program={"kind": "given"}, source="scanqa"))
        self.dropped(bad + unanswered)
        if not by_scene:
            raise _no_questions(path, bad, f", {unanswered} without answers: ScanQA's test files have none")
        return by_scene


@source("sqa3d")
class SQA3DScenes(ScanNetQuestions):
    """SQA3D (Ma et al. 2023) situated questions over ScanNet scans, one item per scene.

    Reads ``v1_balanced_questions_{split}_scannetv2.json`` (situation, question) and
    ``v1_balanced_sqa_annotations_{split}_scannetv2.json`` (answers, the agent's position and
    rotation), joined on question_id. Family ``situated``; position and rotation (quaternion
    x y z w, as released) go to ``program``.
    """

    dataset = "sqa3d"
    files = "v1_balanced_questions_{split}_scannetv2.json and v1_balanced_sqa_annotations_{split}_scannetv2.json"

    def load_questions(self) -> dict[str, list[Question]]:
        qpath = self.require(f"v1_balanced_questions_{self.split}_scannetv2.json")
        apath = self.require(f"v1_balanced_sqa_annotations_{self.split}_scannetv2.json")
        qdata, adata = _load_json(qpath), _load_json(apath)
        if not isinstance(qdata, dict) or not isinstance(qdata.get("questions"), list):
            raise UsageError(f"{qpath}: expected {{\"questions\": [...]}}")
        if not isinstance(adata, dict) or not isinstance(adata.get("annotations"), list):
            raise UsageError(f"{apath}: expected {{\"annotations\": [...]}}")
        annotations = {str(a.get("question_id")): a for a in adata["annotations"] if isinstance(a, dict)}
        by_scene: dict[str, list[Question]] = defaultdict(list)
        bad = 0
        for q in qdata["questions"]:
            try:
                qid = str(q["question_id"])
                ann = annotations[qid]
                answers = _answers(a["answer"] for a in ann["answers"])
                scene_id = str(q["scene_id"])
                text, situation = " ".join(str(q["question"]).split()), " ".join(str(q["situation"]).split())
            except (KeyError, TypeError, AttributeError):
                bad += 1
                continue
            if not answers:
                bad += 1
                continue
            program: dict[str, Any] = {"kind": "given"}
            for key, fields in (("position", ("x", "y", "z")), ("rotation", ("_x", "_y", "_z", "_w"))):
                pose = _numbers(ann.get(key), fields)
                if pose is not None:   # the agent's pose as released; left out when malformed
                    program[key] = pose
            by_scene[scene_id].append(Question(qid, "situated", text, answers, [], situation=situation,
                                               program=program, source="sqa3d"))
        self.dropped(bad)
        if not by_scene:
            raise _no_questions(qpath, bad, " or without an answer in the annotations file")
        return by_scene


@source("scanrefer")
class ScanReferScenes(ScanNetQuestions):
    """ScanRefer (Chen et al. 2020) descriptions over ScanNet scans as referring questions.

    Reads ``ScanRefer_filtered_{split}.json`` (entries: scene_id, object_id, object_name,
    ann_id, description); each description asks for its object's 3D box, answered with the
    object's axis-aligned box ``box: [x1, y1, z1, x2, y2, z2]``.
    """

    dataset = "scanrefer"
    files = "ScanRefer_filtered_{split}.json"

    def load_questions(self) -> dict[str, list[Question]]:
        path = self.require(f"ScanRefer_filtered_{self.split}.json")
        data = _load_json(path)
        if not isinstance(data, list):
            raise UsageError(f"{path}: expected a JSON list of descriptions, got {type(data).__name__}")
        by_scene: dict[str, list[Question]] = defaultdict(list)
        bad = 0
        for e in data:
            try:
                scene_id, target = str(e["scene_id"]), int(e["object_id"])
                description = str(e["description"])
            except (KeyError, TypeError, ValueError):
                bad += 1
                continue
            qid = f"{scene_id}-{target}-{e.get('ann_id', len(by_scene[scene_id]))}"
            by_scene[scene_id].append(Question(qid, "referring", referring_question(description), [], [target],
                                               program={"kind": "given"}, source="scanrefer"))
        self.dropped(bad)
        if not by_scene:
            raise _no_questions(path, bad)
        return by_scene


def decode_stimulus(stimulus_id: str) -> tuple[str, int]:
    """ReferIt3D's ``scan-instance_type-n_objects-target-distractors...`` -> (scan_id, target_id)."""
    parts = stimulus_id.split("-")
    return parts[0], int(parts[3])


@source("nr3d")
class Nr3DScenes(ScanNetQuestions):
    """Nr3D (ReferIt3D, Achlioptas et al. 2020) utterances over ScanNet scans as referring questions.

    Reads ``nr3d_{split}.csv``, or ``nr3d.csv`` restricted to the scans listed in
    ``{split}_scans.txt`` (ReferIt3D's list; ``scannetv2_{split}.txt`` is accepted too), using
    the columns scan_id, target_id, utterance (or stimulus_id when scan_id / target_id are
    absent). Answered with the target's axis-aligned box.
    """

    dataset = "nr3d"
    files = "nr3d_{split}.csv, or nr3d.csv with {split}_scans.txt"

    def load_questions(self) -> dict[str, list[Question]]:
        path = find_file(self.root, f"nr3d_{self.split}.csv")
        scans: set[str] | None = None
        if path is None:
            path = self.require("nr3d.csv")
            names = (f"{self.split}_scans.txt", f"nr3d_{self.split}_scans.txt", f"scannetv2_{self.split}.txt")
            # the list next to nr3d.csv first: a ReferIt3D checkout also has sr3d/train_scans.txt
            listing = next((path.parent / n for n in names if (path.parent / n).is_file()), None) \
                or next((p for p in (find_file(self.root, n) for n in names) if p is not None), None)
            if listing is None:
                raise UsageError(f"{path}: has no split column; put ReferIt3D's {names[0]} (or ScanNet's "
                                 f"{names[2]}) next to it, or a nr3d_{self.split}.csv, under {self.root}")
            scans = {line.strip() for line in listing.read_text().splitlines() if line.strip()}
        by_scene: dict[str, list[Question]] = defaultdict(list)
        bad = 0
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                columns = set(reader.fieldnames or ())
                if "utterance" not in columns or not ({"scan_id", "target_id"} <= columns or "stimulus_id" in columns):
                    raise UsageError(f"{path}: expected columns utterance and scan_id, target_id (or stimulus_id), "
                                     f"got {sorted(columns)}")
                for i, row in enumerate(reader):
                    try:
                        if row.get("scan_id") and row.get("target_id"):
                            scan_id, target = row["scan_id"].strip(), int(row["target_id"])
                        else:
                            scan_id, target = decode_stimulus(row["stimulus_id"])
                        utterance = row["utterance"] or ""
                    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
                        bad += 1
                        continue
                    if scans is not None and scan_id not in scans:
                        continue
                    if not utterance.strip():
                        bad += 1
                        continue
                    by_scene[scan_id].append(Question(f"{scan_id}-nr3d{i:06d}", "referring",
                                                      referring_question(utterance), [], [target],
                                                      program={"kind": "given"}, source="nr3d"))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise UsageError(f"{path}: not a readable CSV ({e})") from None
        self.dropped(bad)
        if not by_scene:
            raise _no_questions(path, bad, f"; split {self.split!r} selects none" if scans is not None else "")
        return by_scene
