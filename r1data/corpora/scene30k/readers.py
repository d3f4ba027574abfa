"""Real sources of scene30k: ScanQA, SQA3D, ScanRefer and Nr3D questions over ScanNet scans.

Each reader takes the folder given by ``--source-dir`` (``dir``) and a ``split``, reads the
dataset's annotation file(s) for that split in ``__init__`` (a one-line UsageError when the
folder or the file is not there), groups the questions by scene and yields one item per
scene, scenes sorted by id, questions in file order::

    {"id": "scene0000_00", "scene": Scene(objects=..., points=..., questions=[Question, ...])}

An annotation entry that cannot be used (not an object, a field missing or of the wrong type,
not UTF-8, no answer) is a ``Reject`` naming its file and entry (``ScanQA_v1.0_train.json[12]``,
``nr3d.csv:40``); these come first, in file order, then the scenes. A scene whose scan is
missing or unreadable becomes a ``Reject`` (``missing_scene`` / ``unreadable_scene``) and the
build goes on. Questions naming object ids the scan lacks are
kept as they are (the ``scene30k_object_ids_exist`` verifier rejects them later); a referring
question whose target is absent gets no answer and no ``target_box``. SQA3D questions, which
come without object ids, get the ids of the objects their text names (:func:`mentioned_objects`),
and their agent pose moved into the scan's axis-aligned frame (``agent_pose``).

Every file read (annotation files, scan files) is recorded for the manifest.

Where the files go under ``--source-dir``: docs/scene30k-sources.md.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from r1data.corpora.scene30k.annotations import (decode_stimulus, nr3d_question, read_scan_list,  # noqa: F401
                                                 referring_question, scanqa_family, scanqa_question,
                                                 scanrefer_question, sqa3d_question)
from r1data.corpora.scene30k.scannet import ScanError, ScanGeometry, ScanNetLayout, align_agent_pose, find_file
from r1data.corpora.scene30k.scene import Question, Scene, SceneObject
from r1data.errors import UsageError
from r1data.parsing import format_box3d
from r1data.sourcefiles import BadRecord, is_regular_file, load_json_file
from r1data.steps.base import Reject, Source, StepContext, source


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


def ground_questions(questions: list[Question], objects: list[SceneObject],
                     geo: ScanGeometry | None = None) -> list[Question]:
    """Tie dataset questions to the scan once its objects are known.

    Referring questions get their target's AABB as ``target_box`` and the formatted box as
    answer (none when the target is absent). Questions without object ids (SQA3D gives none)
    get the objects their situation, question and answer name (:func:`mentioned_objects`).
    An SQA3D agent pose gets ``position``/``rotation`` in the scan's axis-aligned frame when
    ``geo`` is a scan folder (its raw mesh fixes the frame SQA3D uses), else None.
    """
    by_id = {o.id: o for o in objects}
    out = []
    for q in questions:
        if q.agent_pose is not None:
            pose = dict(q.agent_pose, position=None, rotation=None)
            if geo is not None and geo.raw_center is not None and geo.alignment is not None:
                pose["position"], pose["rotation"] = align_agent_pose(
                    pose["released_position"], pose["released_rotation"], geo.raw_center, geo.alignment)
            q = replace(q, agent_pose=pose)
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



class ScanNetQuestions(Source):
    """Base of the readers: first the rejected annotation entries, then one item per ScanNet
    scene that the split's questions name."""

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
        self.bad: list[Reject] = []          # annotation entries that cannot be used, in file order
        self.questions: dict[str, list[Question]] = self.load_questions()
        self.scene_ids = sorted(self.questions)
        self.layout = ScanNetLayout(self.root)

    def load_questions(self) -> dict[str, list[Question]]:  # pragma: no cover - abstract
        """The split's questions by scene id, in file order (bad entries go to ``self.bad``)."""
        raise NotImplementedError

    def require(self, name: str) -> Path:
        """``name`` in the source dir or two levels below; a UsageError naming it otherwise."""
        path = find_file(self.root, name)
        if path is None:
            expects = self.files.format(split=self.split)
            raise UsageError(f"--source-dir {self.root}: no {name} in it or its sub-folders "
                             f"(source {self.dataset}, split {self.split!r} expects {expects})")
        return path

    def load_json(self, path: Path, what: str) -> Any:
        data = load_json_file(path, what)
        self.ctx.record_file(path)
        return data

    def collect(self, entries: Any, parse: Callable[[Any, str, int], tuple[str, Question]], name: str,
                by_scene: dict[str, list[Question]]) -> None:
        """Parse each entry; good questions go to ``by_scene``, bad ones to ``self.bad``."""
        for i, entry in enumerate(entries):
            where = f"{name}[{i}]"
            try:
                scene_id, q = parse(entry, where, i)
            except BadRecord as e:
                self.reject(e, where, entry)
                continue
            by_scene[scene_id].append(q)

    def reject(self, e: BadRecord, where: str, entry: Any) -> None:
        qid = entry.get("question_id") if isinstance(entry, dict) else None
        ident = str(qid) if isinstance(qid, (str, int)) and not isinstance(qid, bool) else where
        self.bad.append(Reject({"id": ident, "source": self.dataset, "entry": where}, e.reason, e.detail))

    def no_questions(self, path: Path, note: str = "") -> UsageError:
        first = f"; the first: {self.bad[0].detail}" if self.bad else ""
        return UsageError(f"{path}: no usable questions ({len(self.bad)} entries rejected{note}{first})")

    def __len__(self) -> int:
        return len(self.bad) + len(self.scene_ids)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        yield from self.bad[start:]
        for scene_id in self.scene_ids[max(0, start - len(self.bad)):]:
            questions = self.questions[scene_id]
            try:
                geo = self.layout.load(scene_id, max_points=self.max_points, rng=self.ctx.rng("points", scene_id),
                                       keep_structure=self.keep_structure)
            except ScanError as e:
                yield Reject({"id": scene_id, "scene_id": scene_id, "source": self.dataset,
                              "questions": len(questions)}, e.reason, e.detail)
                continue
            for path in geo.files:
                self.ctx.record_file(path, kind="media")
            scene = Scene(scene_id=scene_id, room_type="", room_size=room_size(geo), objects=geo.objects,
                          questions=ground_questions(questions, geo.objects, geo), points=geo.points,
                          source=self.dataset, point_labels=geo.point_labels)
            yield {"id": scene_id, "scene": scene, "split": self.split}   # the split step keeps the dataset's own


@source("scanqa")
class ScanQAScenes(ScanNetQuestions):
    """ScanQA (Azuma et al. 2022) questions over ScanNet scans, one item per scene.

    Reads ``ScanQA_v1.0_{split}.json`` (splits train, val, test_w_obj, test_wo_obj; entries:
    scene_id, question, answers, object_ids, question_id); the question family comes from its
    leading words (what color: attribute, how many: counting, is there: existence, else relation).
    """

    dataset = "scanqa"
    files = "ScanQA_v1.0_{split}.json"

    def load_questions(self) -> dict[str, list[Question]]:
        path = self.require(f"ScanQA_v1.0_{self.split}.json")
        data = self.load_json(path, "ScanQA questions")
        if not isinstance(data, list):
            raise UsageError(f"{path}: expected a JSON list of questions, got {type(data).__name__}")
        by_scene: dict[str, list[Question]] = defaultdict(list)
        unanswered = 0

        def answered(entry: Any, where: str, i: int) -> tuple[str, Question]:
            nonlocal unanswered
            scene_id, q = scanqa_question(entry, where, i)
            if not q.answers:   # ScanQA's test files carry no answers
                unanswered += 1
                raise BadRecord("missing_answer", f"{where}: no answers")
            return scene_id, q

        self.collect(data, answered, path.name, by_scene)
        if not by_scene:
            raise self.no_questions(path, f", {unanswered} without answers: ScanQA's test files have none"
                                    if unanswered else "")
        return by_scene


@source("sqa3d")
class SQA3DScenes(ScanNetQuestions):
    """SQA3D (Ma et al. 2023) situated questions over ScanNet scans, one item per scene.

    Reads ``v1_balanced_questions_{split}_scannetv2.json`` (situation, question) and
    ``v1_balanced_sqa_annotations_{split}_scannetv2.json`` (answers, the agent's position and
    rotation), joined on question_id. Family ``situated``; the pose goes to ``agent_pose``.
    """

    dataset = "sqa3d"
    files = "v1_balanced_questions_{split}_scannetv2.json and v1_balanced_sqa_annotations_{split}_scannetv2.json"

    def load_questions(self) -> dict[str, list[Question]]:
        qpath = self.require(f"v1_balanced_questions_{self.split}_scannetv2.json")
        apath = self.require(f"v1_balanced_sqa_annotations_{self.split}_scannetv2.json")
        qdata = self.load_json(qpath, "SQA3D questions")
        adata = self.load_json(apath, "SQA3D annotations")
        if not isinstance(qdata, dict) or not isinstance(qdata.get("questions"), list):
            raise UsageError(f"{qpath}: expected {{\"questions\": [...]}}")
        if not isinstance(adata, dict) or not isinstance(adata.get("annotations"), list):
            raise UsageError(f"{apath}: expected {{\"annotations\": [...]}}")
        annotations = {str(a.get("question_id")): a for a in adata["annotations"] if isinstance(a, dict)}

        def joined(entry: Any, where: str, i: int) -> tuple[str, Question]:
            qid = entry.get("question_id") if isinstance(entry, dict) else None
            return sqa3d_question(entry, annotations.get(str(qid)), where)

        by_scene: dict[str, list[Question]] = defaultdict(list)
        self.collect(qdata["questions"], joined, qpath.name, by_scene)
        if not by_scene:
            raise self.no_questions(qpath)
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
        data = self.load_json(path, "ScanRefer descriptions")
        if not isinstance(data, list):
            raise UsageError(f"{path}: expected a JSON list of descriptions, got {type(data).__name__}")
        by_scene: dict[str, list[Question]] = defaultdict(list)
        self.collect(data, scanrefer_question, path.name, by_scene)
        if not by_scene:
            raise self.no_questions(path)
        return by_scene


@source("nr3d")
class Nr3DScenes(ScanNetQuestions):
    """Nr3D (ReferIt3D, Achlioptas et al. 2020) utterances over ScanNet scans as referring questions.

    Reads ``nr3d_{split}.csv``, or ``nr3d.csv`` restricted to the scans listed in
    ``{split}_scans.txt`` (ReferIt3D's list: one line holding a JSON list;
    ``scannetv2_{split}.txt``, one id per line, is accepted too), using the columns scan_id,
    target_id, utterance (or stimulus_id when scan_id / target_id are absent). Answered with
    the target's axis-aligned box.
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
            listing = next((path.parent / n for n in names if is_regular_file(path.parent / n)), None) \
                or next((p for p in (find_file(self.root, n) for n in names) if p is not None), None)
            if listing is None:
                raise UsageError(f"{path}: has no split column; put ReferIt3D's {names[0]} (or ScanNet's "
                                 f"{names[2]}) next to it, or a nr3d_{self.split}.csv, under {self.root}")
            scans = read_scan_list(listing)
            self.ctx.record_file(listing)
        by_scene: dict[str, list[Question]] = defaultdict(list)
        if not is_regular_file(path):
            raise UsageError(f"{path}: not a regular file (Nr3D utterances)")
        try:
            # undecodable bytes survive as surrogate escapes: their row is rejected, not the file
            with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
                reader = csv.DictReader(f)
                columns = set(reader.fieldnames or ())
                if "utterance" not in columns or not ({"scan_id", "target_id"} <= columns or "stimulus_id" in columns):
                    raise UsageError(f"{path}: expected columns utterance and scan_id, target_id (or stimulus_id), "
                                     f"got {sorted(columns)[:20]}")
                for i, row in enumerate(reader):
                    where = f"{path.name}:{reader.line_num}"
                    try:
                        scan_id, q = nr3d_question(row, where, i)
                    except BadRecord as e:
                        self.reject(e, where, None)
                        continue
                    if scans is None or scan_id in scans:
                        by_scene[scan_id].append(q)
        except (OSError, csv.Error) as e:
            raise UsageError(f"{path}: not a readable CSV ({e})") from None
        self.ctx.record_file(path)
        if not by_scene:
            raise self.no_questions(path, f"; split {self.split!r} selects none" if scans is not None else "")
        return by_scene
