"""Real sources of vqa_verify and the step that loads their images.

* ``coco_vqa``: VQAv2 questions and annotations of one ``split`` (the release's name:
  ``train2014``, ``val2014``) with COCO's ``instances_{split}.json`` and the images, found in
  ``--source-dir`` and its sub-folders as the releases unpack (:mod:`.releases`). The answer
  is ``multiple_choice_answer``; ``possible_answers`` are the answers at least ``min_votes`` of
  the ten annotators gave (and the chosen one). VQAv2 has no answer boxes: the grounding
  objects are the COCO instances whose category (or a synonym) the question or answer names;
  questions naming none are rejected (``no_grounding``).
* ``gqa``: GQA ``{split}_{version}_questions.json`` + ``{split}_sceneGraphs.json`` +
  ``images/{imageId}.jpg``; the grounding objects are those the question's and answer's
  annotations point to.
* ``vqa_jsonl``: ``*.jsonl`` lines ``{"image", "question", "answer", "box" | "boxes",
  "answers"?}``, boxes ``[x1, y1, x2, y2]`` in pixels, image paths relative to the folder.

Where a folder holds several splits the spec or ``--source-param split=...`` names one; with
none named and several there, the build stops with a one-line error listing them.

Sources only read the annotation files (items in a fixed order); every entry that cannot be
used is a reject naming its file and entry. ``load_vqa_images`` reads and fully decodes each
image in the workers, and rejects missing, corrupt, truncated or oversized files and boxes
outside the image.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path

from r1data.corpora.vqa_verify.imagefiles import MAX_PIXELS, BadImage, find_image, read_image
from r1data.corpora.vqa_verify.releases import (coco_index, gqa_files, gqa_objects, gqa_refs, image_folder,
                                                vqa_answers, vqav2_files)
from r1data.errors import UsageError
from r1data.sourcefiles import (BadRecord, check_object, int_field, jsonl_records, list_field, load_json_file,
                                printable, regular_files, text_field)
from r1data.steps.base import Reject, Source, StepContext, source, step

# words that name a COCO category in questions and answers (besides the name and its plural)
SYNONYMS = {
    "person": ("people", "man", "men", "woman", "women", "boy", "girl", "child", "children", "kid", "kids",
               "player", "guy", "lady", "person", "persons"),
    "dining table": ("table",), "couch": ("sofa",), "tv": ("television",), "cell phone": ("phone", "cellphone"),
    "motorcycle": ("motorbike",), "airplane": ("plane", "jet"), "sports ball": ("ball",),
    "bicycle": ("bike",), "potted plant": ("plant",), "hot dog": ("hotdog",),
}


def _folder(dir: str, what: str) -> Path:
    d = Path(dir).expanduser()
    if not d.is_dir():
        raise UsageError(f"--source-dir {dir}: not a directory (expected {what})")
    return d


@functools.lru_cache(maxsize=4096)
def _name_pattern(category: str) -> re.Pattern:
    """Whole words naming ``category`` (its name, plural, synonyms); a blank name names nothing."""
    if not category.strip():
        return re.compile(r"(?!)")
    names = {category, category + "s", *SYNONYMS.get(category, ())}
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b", re.I)


def _reject(e: BadRecord, ident: str) -> Reject:
    return Reject({"id": ident, "image_id": "", "question": ""}, e.reason, e.detail)


class _LoadedSource(Source):
    """A source whose annotation files are read whole once (they are JSON, not streams), then
    served from position ``start``; subclasses define ``_load``."""

    takes_dir = True
    _items: list[dict | Reject] | None = None

    def _load(self) -> list[dict | Reject]:
        raise NotImplementedError

    def _json(self, path: Path, what: str) -> object:
        data = load_json_file(path, what)
        self.ctx.record_file(path)
        return data

    def __len__(self) -> int:
        if self._items is None:
            self._items = self._load()
        return len(self._items)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        if self._items is None:
            self._items = self._load()
        yield from self._items[start:]


@source("coco_vqa")
class CocoVQA(_LoadedSource):
    """VQAv2 questions on COCO images, grounded on COCO instances (see the module docstring).

    ``split`` is VQAv2's name of it (train2014, val2014); ``questions``, ``annotations``,
    ``instances`` (file paths) and ``images`` (a folder), relative to ``dir``, override what
    is found."""

    def __init__(self, ctx: StepContext, *, dir: str, split: str | None = None, min_votes: int = 2,
                 questions: str | None = None, annotations: str | None = None, instances: str | None = None,
                 images: str | None = None):
        self.ctx = ctx
        self.root = _folder(dir, "VQAv2 questions and annotations, COCO instances and images")
        if questions and annotations and instances:
            self.split = split or ""
            self.paths = (self.root / instances, self.root / questions, self.root / annotations)
        else:
            self.split, q, a, i = vqav2_files(self.root, split)
            self.paths = (self.root / instances if instances else i, self.root / questions if questions else q,
                          self.root / annotations if annotations else a)
        self.images = images
        self.min_votes = min_votes
        self._items = None

    def _load(self) -> list[dict | Reject]:
        ipath, qpath, apath = self.paths
        inst, qs, anns = (self._json(p, what) for p, what in
                          ((ipath, "COCO instances"), (qpath, "VQAv2 questions"), (apath, "VQAv2 annotations")))
        images, cats, objects, bad = coco_index(inst, ipath.name)
        items: list[dict | Reject] = [_reject(e, e.detail.split(":")[0]) for e in bad]
        questions = _list_in(qs, "questions", qpath)
        by_qid: dict[int, dict] = {}
        for i, a in enumerate(_list_in(anns, "annotations", apath)):
            if isinstance(a, dict) and isinstance(a.get("question_id"), int):
                by_qid.setdefault(a["question_id"], a)
        first = next(iter(images.values()), {}).get("file_name")
        folder = image_folder(self.root, self.split, first, self.images)
        parsed = []
        for i, q in enumerate(questions):
            where = f"{qpath.name} questions[{i}]"
            try:
                rec = check_object(q, where)
                parsed.append((int_field(rec, "question_id", where), i, rec, where))
            except BadRecord as e:
                items.append(_reject(e, where))
        for qid, i, rec, where in sorted(parsed, key=lambda t: (t[0], t[1])):
            row = {"id": f"vqav2-{qid}", "image_id": "", "question": ""}
            try:
                image_id = int_field(rec, "image_id", where)
                row.update(image_id=str(image_id), question=text_field(rec, "question", where))
                ann = by_qid.get(qid)
                if ann is None:
                    raise BadRecord("missing_answer", f"{where}: question {qid} has no entry in {apath.name}")
                answer, accepted, answer_type = vqa_answers(check_object(ann, f"{apath.name} question {qid}"),
                                                            f"{apath.name} question {qid}", self.min_votes)
                if image_id not in images:
                    raise BadRecord("missing_image", f"{where}: image {image_id} is not in {ipath.name}")
            except BadRecord as e:
                items.append(Reject(row, e.reason, e.detail))
                continue
            objs = objects.get(image_id, [])
            text = f"{row['question']} {answer}"
            ids = [o["id"] for o in objs if _name_pattern(o["category"]).search(text)]
            if not ids:
                items.append(Reject(row, "no_grounding", f"question {qid} names no COCO object of image {image_id}"))
                continue
            items.append({**row, "source": "vqav2", "image_path": str(folder / images[image_id]["file_name"]),
                          "answer": answer, "possible_answers": accepted, "question_type": answer_type,
                          "objects": objs, "object_ids": ids, "grounding": [objs[k]["box"] for k in ids],
                          "scene_kind": "photo"})
        return items


def _list_in(data: object, key: str, path: Path) -> list:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise UsageError(f"{path}: expected an object with a {key!r} list")
    return data[key]


@source("gqa")
class GQA(_LoadedSource):
    """GQA questions grounded on the scene graph objects their annotations point to.

    ``split`` is GQA's name (train, val; the test sets have neither answers nor scene graphs)
    and ``version`` its question set (balanced, all)."""

    def __init__(self, ctx: StepContext, *, dir: str, split: str | None = None, version: str = "balanced",
                 images: str = "images"):
        self.ctx = ctx
        self.root = _folder(dir, "GQA questions, scene graphs and images/")
        self.split, self.question_files, self.graph_file = gqa_files(self.root, split, version)
        self.image_dir = self.root / images
        self._items = None

    def _load(self) -> list[dict | Reject]:
        graphs = self._json(self.graph_file, "GQA scene graphs")
        if not isinstance(graphs, dict):
            raise UsageError(f"{self.graph_file}: expected an object of scene graphs by image id")
        items: list[dict | Reject] = []
        for path in self.question_files:
            qs = self._json(path, "GQA questions")
            if not isinstance(qs, dict):
                raise UsageError(f"{path}: expected an object of questions by question id")
            for qid in sorted(qs):
                items.append(self._item(qid, qs[qid], graphs, f"{path.name} question {qid}"))
        return items

    def _item(self, qid: str, q: object, graphs: dict, where: str) -> dict | Reject:
        row = {"id": f"gqa-{qid}", "image_id": "", "question": ""}
        try:
            rec = check_object(q, where)
            image_id = text_field(rec, "imageId", where)
            row.update(image_id=image_id, question=text_field(rec, "question", where))
            answer = text_field(rec, "answer", where)
            if image_id not in graphs:
                raise BadRecord("missing_image", f"{where}: image {image_id} has no scene graph")
            keys, objs, size = gqa_objects(graphs[image_id], f"{self.graph_file.name} image {image_id}")
            refs = gqa_refs(rec, where)
        except BadRecord as e:
            return Reject(row, e.reason, e.detail)
        index = {k: i for i, k in enumerate(keys)}
        ids = sorted(index[r] for r in refs if r in index)
        if not ids:
            return Reject(row, "no_grounding", f"question {qid} points to no object of image {image_id}")
        path = find_image(self.image_dir, image_id) if self.image_dir.is_dir() else None
        types = rec.get("types") if isinstance(rec.get("types"), dict) else {}
        try:
            qtype = text_field(types, "structural", where, required=False) or "vqa"
        except BadRecord:
            qtype = "vqa"
        return {**row, "source": "gqa", "image_path": str(path or self.image_dir / f"{image_id}.jpg"),
                "answer": answer, "possible_answers": [answer],
                "question_type": qtype, "objects": objs,
                "object_ids": ids, "grounding": [objs[i]["box"] for i in ids], "scene_kind": "photo",
                "expected_size": size}


@source("vqa_jsonl")
class VQAJsonl(Source):
    """Lines ``{"image", "question", "answer", "box" | "boxes", "answers"?}`` of ``*.jsonl`` files.

    ``image_id`` is the image's path relative to the folder (``a/img.png`` and ``b/img.png``
    are two images), so dedup and split by image keep them apart."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, pattern: str = "*.jsonl"):
        self.ctx = ctx
        self.root = _folder(dir, "*.jsonl files and their images")
        self.files = regular_files(sorted(self.root.glob(pattern)))   # a FIFO would block forever
        if not self.files:
            raise UsageError(f"{self.root}: no file matches {pattern!r} (JSONL of image/question/answer/box)")

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        n = 0
        for path in self.files:
            self.ctx.record_file(path)
            for lineno, rec in jsonl_records(path):
                n += 1
                if n <= start:
                    continue
                yield self._item(path, lineno, rec)

    def _item(self, path: Path, lineno: int, rec: dict | BadRecord) -> dict | Reject:
        where = f"{path.name}:{lineno}"
        row = {"id": f"{printable(path.stem)}-{lineno}", "image_id": "", "question": ""}
        try:
            if isinstance(rec, BadRecord):
                raise rec
            has_box = bool(rec.get("boxes") or rec.get("box"))
            missing = [k for k in ("image", "question", "answer") if rec.get(k) in (None, "")] + \
                ([] if has_box else ["box"])
            if missing:
                raise BadRecord("missing_field", f"{where}: needs image, question, answer and box(es); "
                                                 f"missing {', '.join(missing)}")
            image = posixpath.normpath(text_field(rec, "image", where))
            question, answer = text_field(rec, "question", where), text_field(rec, "answer", where)
            boxes = list_field(rec, "boxes", where) if rec.get("boxes") else [rec["box"]]
            if not all(isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float))
                                                                  and not isinstance(v, bool) for v in b)
                       for b in boxes):
                raise BadRecord("bad_box", f"{where}: boxes must be [x1, y1, x2, y2] numbers, got {boxes!r:.80}")
            others = [text_field({"answers": a}, "answers", where, required=False)
                      for a in list_field(rec, "answers", where, required=False)]
            label = text_field(rec, "label", where, required=False) or "object"
            qtype = text_field(rec, "question_type", where, required=False) or "vqa"
            ident = text_field(rec, "id", where, required=False) or row["id"]
        except BadRecord as e:
            return Reject(row, e.reason, e.detail)
        objs = [{"id": i, "category": label, "color": "", "size": "", "box": [float(v) for v in b], "visible": 1.0}
                for i, b in enumerate(boxes)]
        return {**row, "id": ident, "image_id": image, "question": question, "source": "jsonl",
                "image_path": str(self.root / image), "answer": answer,
                "possible_answers": list(dict.fromkeys([answer, *filter(None, others)])), "question_type": qtype,
                "objects": objs, "object_ids": [o["id"] for o in objs], "grounding": [o["box"] for o in objs],
                "scene_kind": "photo"}


@step("load_vqa_images")
def load_vqa_images(rows: list[dict], ctx: StepContext, *, tolerance: float = 1.0,
                    max_pixels: int = MAX_PIXELS) -> Iterator[dict | Reject]:
    """Read each row's ``image_path`` (fully decoded) into ``image``, ``width`` and ``height``.

    Rejects: ``missing_image``, ``corrupt_image`` (unreadable or truncated),
    ``image_too_large`` (more than ``max_pixels`` pixels, checked before decoding),
    ``decompression_bomb`` (what PIL refuses), ``image_size_mismatch`` (the annotation's size
    differs), ``box_outside_image`` (a box leaves the image by more than ``tolerance`` pixels;
    within it, boxes are clipped). Rows that already hold an ``image`` (procedural ones) pass
    through."""
    if max_pixels < 1:
        raise UsageError(f"load_vqa_images: max_pixels must be positive, got {max_pixels}")
    cache: dict[str, object] = {}
    for row in rows:
        if row.get("image") is not None:
            yield row
            continue
        path = row["image_path"]
        try:
            if path not in cache:          # consecutive questions share their image
                cache.clear()
                cache[path] = read_image(Path(path), max_pixels)
                ctx.record_file(path, cache[path].data, kind="media")  # type: ignore[attr-defined]
            im = cache[path]
        except BadImage as e:
            cache.clear()
            yield Reject(row, e.reason, e.detail)
            continue
        w, h = im.width, im.height  # type: ignore[attr-defined]
        expected = row.get("expected_size")
        if expected and all(expected) and tuple(expected) != (w, h):
            yield Reject(row, "image_size_mismatch", f"{path}: {w}x{h}, the annotation says {expected[0]}x{expected[1]}")
            continue
        bad = [b for o in row["objects"] for b in [o["box"]]
               if b[0] < -tolerance or b[1] < -tolerance or b[2] > w + tolerance or b[3] > h + tolerance
               or b[2] <= b[0] or b[3] <= b[1]]
        if bad:
            yield Reject(row, "box_outside_image", f"{path} is {w}x{h}; box {bad[0]} is outside or empty")
            continue
        for o in row["objects"]:
            o["box"] = [min(max(o["box"][0], 0.0), w), min(max(o["box"][1], 0.0), h),
                        min(max(o["box"][2], 0.0), w), min(max(o["box"][3], 0.0), h)]
        row["grounding"] = [row["objects"][i]["box"] for i in row["object_ids"]]
        ctx.stats.count("images_read")
        yield {**row, "image": im.data, "width": w, "height": h}  # type: ignore[attr-defined]
