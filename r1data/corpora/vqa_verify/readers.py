"""Real sources of vqa_verify and the step that loads their images.

* ``coco_vqa``: COCO ``instances_*.json`` + VQAv2 ``*questions*.json`` / ``*annotations*.json``
  + the images (``images/`` or the folder itself, by ``file_name``). The answer is
  ``multiple_choice_answer``; ``possible_answers`` are the answers at least ``min_votes`` of
  the ten annotators gave (and the chosen one). VQAv2 has no answer boxes: the grounding
  objects are the COCO instances whose category (or a synonym) the question or answer names;
  questions naming none are rejected (``no_grounding``).
* ``gqa``: ``*questions*.json`` + ``*sceneGraphs*.json`` + ``images/{imageId}.jpg``; the
  grounding objects are those the question's and answer's annotations point to.
* ``vqa_jsonl``: ``*.jsonl`` lines ``{"image", "question", "answer", "box" | "boxes",
  "answers"?}``, boxes ``[x1, y1, x2, y2]`` in pixels, image paths relative to the folder.

Sources only read the annotation files (items in a fixed order); ``load_vqa_images`` reads
and fully decodes each image in the workers, and rejects missing, corrupt or truncated files
and boxes outside the image.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from r1data.corpora.vqa_verify.imagefiles import BadImage, find_image, read_image
from r1data.errors import UsageError
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
    d = Path(dir)
    if not d.is_dir():
        raise UsageError(f"--source-dir {dir}: not a directory (expected {what})")
    return d


def _one(folder: Path, pattern: str, what: str) -> Path:
    hits = sorted(folder.glob(pattern))
    if not hits:
        raise UsageError(f"{folder}: no file matches {pattern!r} ({what})")
    return hits[0]


def _load_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read JSON ({e})") from None


def _name_pattern(category: str) -> re.Pattern:
    names = {category, category + "s", *SYNONYMS.get(category, ())}
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b", re.I)


def _xywh(b: list) -> list[float]:
    return [float(b[0]), float(b[1]), float(b[0]) + float(b[2]), float(b[1]) + float(b[3])]


class _LoadedSource(Source):
    """A source whose annotation files are read whole once (they are JSON, not streams), then
    served from position ``start``; subclasses define ``_load``."""

    _items: list[dict | Reject] | None = None

    def _load(self) -> list[dict | Reject]:
        raise NotImplementedError

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
    """VQAv2 questions on COCO images, grounded on COCO instances (see the module docstring)."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, instances: str = "instances*.json",
                 questions: str = "*questions*.json", annotations: str = "*annotations*.json",
                 min_votes: int = 2):
        self.dir = _folder(dir, "COCO instances, VQAv2 questions and annotations, and images")
        self.paths = (_one(self.dir, instances, "COCO instances"), _one(self.dir, questions, "VQAv2 questions"),
                      _one(self.dir, annotations, "VQAv2 annotations"))
        self.min_votes = min_votes
        self._items: list[dict | Reject] | None = None

    def _load(self) -> list[dict | Reject]:
        inst, qs, anns = (_load_json(p) for p in self.paths)
        images = {im["id"]: im for im in inst.get("images", [])}  # type: ignore[union-attr]
        cats = {c["id"]: c["name"] for c in inst.get("categories", [])}  # type: ignore[union-attr]
        objects: dict[int, list[dict]] = {}
        for a in inst.get("annotations", []):  # type: ignore[union-attr]
            objs = objects.setdefault(a["image_id"], [])
            objs.append({"id": len(objs), "category": cats.get(a["category_id"], str(a["category_id"])),
                         "color": "", "size": "", "box": _xywh(a["bbox"]), "visible": 1.0})
        by_qid = {a["question_id"]: a for a in anns.get("annotations", [])}  # type: ignore[union-attr]
        patterns = {c: _name_pattern(c) for c in set(cats.values())}
        items: list[dict | Reject] = []
        for q in sorted(qs.get("questions", []), key=lambda q: q["question_id"]):  # type: ignore[union-attr]
            qid, image_id = q["question_id"], q["image_id"]
            row = {"id": f"vqav2-{qid}", "image_id": str(image_id), "question": q["question"]}
            ann = by_qid.get(qid)
            if ann is None:
                items.append(Reject(row, "missing_answer", f"question {qid} has no entry in {self.paths[2].name}"))
                continue
            if image_id not in images:
                items.append(Reject(row, "missing_image", f"question {qid}: image {image_id} is not in {self.paths[0].name}"))
                continue
            answer = ann["multiple_choice_answer"]
            votes = Counter(a["answer"] for a in ann.get("answers", []))
            accepted = [answer] + sorted(a for a, n in votes.items() if n >= self.min_votes and a != answer)
            objs = objects.get(image_id, [])
            text = f"{q['question']} {answer}"
            ids = [o["id"] for o in objs if patterns[o["category"]].search(text)]
            if not ids:
                items.append(Reject(row, "no_grounding", f"question {qid} names no COCO object of image {image_id}"))
                continue
            items.append({**row, "source": "vqav2", "image_path": str(self.dir / "images" / images[image_id]["file_name"])
                          if (self.dir / "images").is_dir() else str(self.dir / images[image_id]["file_name"]),
                          "answer": answer, "possible_answers": accepted, "question_type": ann.get("answer_type", "vqa"),
                          "objects": objs, "object_ids": ids, "grounding": [objs[i]["box"] for i in ids],
                          "scene_kind": "photo"})
        return items



@source("gqa")
class GQA(_LoadedSource):
    """GQA questions grounded on the scene graph objects their annotations point to."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, questions: str = "*questions*.json",
                 scene_graphs: str = "*sceneGraphs*.json"):
        self.dir = _folder(dir, "GQA questions, scene graphs and images/")
        self.paths = (_one(self.dir, questions, "GQA questions"), _one(self.dir, scene_graphs, "GQA scene graphs"))
        self._items: list[dict | Reject] | None = None

    def _load(self) -> list[dict | Reject]:
        qs, graphs = (_load_json(p) for p in self.paths)
        items: list[dict | Reject] = []
        for qid in sorted(qs):  # type: ignore[arg-type]
            q = qs[qid]  # type: ignore[index]
            image_id = str(q["imageId"])
            row = {"id": f"gqa-{qid}", "image_id": image_id, "question": q["question"]}
            graph = graphs.get(image_id)  # type: ignore[union-attr]
            if graph is None:
                items.append(Reject(row, "missing_image", f"question {qid}: image {image_id} has no scene graph"))
                continue
            keys = sorted(graph.get("objects", {}))
            index = {k: i for i, k in enumerate(keys)}
            objs = [{"id": i, "category": graph["objects"][k]["name"], "color": "", "size": "",
                     "box": _xywh([graph["objects"][k][c] for c in ("x", "y", "w", "h")]), "visible": 1.0}
                    for i, k in enumerate(keys)]
            refs = {v for part in ("question", "answer", "fullAnswer")
                    for v in (q.get("annotations", {}).get(part) or {}).values()}
            ids = sorted(index[r] for r in refs if r in index)
            if not ids:
                items.append(Reject(row, "no_grounding", f"question {qid} points to no object of image {image_id}"))
                continue
            path = find_image(self.dir / "images", image_id) if (self.dir / "images").is_dir() else None
            items.append({**row, "source": "gqa", "image_path": str(path or self.dir / "images" / f"{image_id}.jpg"),
                          "answer": q["answer"], "possible_answers": [q["answer"]],
                          "question_type": (q.get("types") or {}).get("structural", "vqa"), "objects": objs,
                          "object_ids": ids, "grounding": [objs[i]["box"] for i in ids], "scene_kind": "photo",
                          "expected_size": (graph.get("width"), graph.get("height"))})
        return items



@source("vqa_jsonl")
class VQAJsonl(Source):
    """Lines ``{"image", "question", "answer", "box" | "boxes", "answers"?}`` of ``*.jsonl`` files."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, pattern: str = "*.jsonl"):
        self.dir = _folder(dir, "*.jsonl files and their images")
        self.files = sorted(self.dir.glob(pattern))
        if not self.files:
            raise UsageError(f"{self.dir}: no file matches {pattern!r} (JSONL of image/question/answer/box)")

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        n = 0
        for path in self.files:
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    n += 1
                    if n <= start:
                        continue
                    yield self._item(path, lineno, line)

    def _item(self, path: Path, lineno: int, line: str) -> dict | Reject:
        where = f"{path.name}:{lineno}"
        row = {"id": f"{path.stem}-{lineno}", "image_id": "", "question": ""}
        try:
            rec = json.loads(line)
        except ValueError as e:
            return Reject(row, "bad_json", f"{where}: {e}")
        missing = [k for k in ("image", "question", "answer") if not rec.get(k)]
        boxes = rec.get("boxes") or ([rec["box"]] if rec.get("box") else [])
        if missing or not boxes:
            return Reject(row, "missing_field", f"{where}: needs image, question, answer and box(es); "
                                                f"missing {', '.join(missing + ([] if boxes else ['box']))}")
        if not all(isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b) for b in boxes):
            return Reject(row, "bad_box", f"{where}: boxes must be [x1, y1, x2, y2] numbers, got {boxes}")
        answer = str(rec["answer"])
        accepted = [answer] + [str(a) for a in rec.get("answers", []) if str(a) != answer]
        label = str(rec.get("label", "object"))
        objs = [{"id": i, "category": label, "color": "", "size": "", "box": [float(v) for v in b], "visible": 1.0}
                for i, b in enumerate(boxes)]
        return {**row, "id": str(rec.get("id") or row["id"]), "image_id": Path(rec["image"]).stem,
                "question": rec["question"], "source": "jsonl", "image_path": str(self.dir / rec["image"]),
                "answer": answer, "possible_answers": list(dict.fromkeys(accepted)),
                "question_type": str(rec.get("question_type", "vqa")), "objects": objs,
                "object_ids": [o["id"] for o in objs], "grounding": [o["box"] for o in objs], "scene_kind": "photo"}


@step("load_vqa_images")
def load_vqa_images(rows: list[dict], ctx: StepContext, *, tolerance: float = 1.0) -> Iterator[dict | Reject]:
    """Read each row's ``image_path`` (fully decoded) into ``image``, ``width`` and ``height``.

    Rejects: ``missing_image``, ``corrupt_image`` (unreadable or truncated),
    ``image_size_mismatch`` (the annotation's size differs), ``box_outside_image`` (a box
    leaves the image by more than ``tolerance`` pixels; within it, boxes are clipped).
    Rows that already hold an ``image`` (procedural ones) pass through."""
    cache: dict[str, object] = {}
    for row in rows:
        if row.get("image") is not None:
            yield row
            continue
        path = row["image_path"]
        try:
            if path not in cache:          # consecutive questions share their image
                cache.clear()
                cache[path] = read_image(Path(path))
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
