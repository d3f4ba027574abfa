"""The released TRANCE layout (hughplay/TVR), and the step that loads its images.

What the release is, as TVR's own code reads and writes it (commit d6b94b3):

* ``DIR/data.jsonl``: one sample per line (``scripts/preprocess.py`` reads it with jsonlines
  and keeps the first 500,000 / 10,000 / 20,000 lines as train / val / test), or ``DIR/info/*.json``,
  one file per sample as the generator writes it (``trance/render.py``: ``TRANCE_{problem}_{idx:06d}.json``);
* a sample: ``{"idx", "states": [{"objects": [...], "images": {"Camera_Center": FILE, ...}}, ...],
  "transformations": [{"obj_idx", "attr", "val", "options", "type"}, ...]}``; objects carry
  ``shape, size, color, material, position [x, y]`` (and ``rotation``); the final state's images
  are ``Camera_Left``, ``Camera_Center`` and ``Camera_Right`` (``src/demo/ui/src/assets/example.json``,
  ``src/dataset/trance.py``). The generator's own files have ``target`` where the processed
  release has ``val``: either is read;
* ``DIR/image/FILE``: the rendered PNGs (``render.py``'s ``image`` folder; ``images/`` and
  ``DIR`` itself are looked in too; a path in ``images`` is reduced to its file name).

Not verified here: the Kaggle download itself (not reachable from this machine); the reader
follows the code above, and the fixtures in tests/ are written in that shape.

Settings, as ``src/dataset/trance.py`` builds them: ``basic`` (the samples with one
transformation, final image from the centre camera), ``event`` (every sample, centre camera),
``view`` (every sample, each of the three final cameras) and ``all`` (what the procedural source
makes: the centre row of every sample, Basic or Event, and its left and right rows as View).

Records that cannot be used are rejects naming the file and line: ``bad_json``,
``bad_sample`` (no states, a state without objects or images), ``bad_object`` (an attribute
outside TRANCE's vocabulary, a position off the grid), ``missing_object`` (a transformation
referring to an object index the state does not have), ``bad_attribute``, ``bad_value``;
``load_trance_images`` rejects ``missing_image`` and ``corrupt_image``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from r1data.corpora.trance.procedural import object_records, setting_of
from r1data.corpora.trance.prompt import answer_text, question_text
from r1data.corpora.trance.world import VALUES, TransformationError, check_transformation, is_valid
from r1data.corpora.vqa_verify.imagefiles import BadImage, read_image
from r1data.errors import UsageError
from r1data.sourcefiles import BadRecord, decode_line, is_regular_file, jsonl_records, parse_object, printable
from r1data.steps.base import Reject, Source, StepContext, source, step

SETTINGS = ("all", "basic", "event", "view")
SPLITS = ("train", "val", "test")
SPLIT_SIZES = (500_000, 10_000, 20_000)     # scripts/preprocess.py
CAMERAS = {"left": "Camera_Left", "center": "Camera_Center", "right": "Camera_Right"}


def _views(setting: str, n: int) -> list[str]:
    if setting == "basic":
        return ["center"] if n == 1 else []
    if setting == "event":
        return ["center"]
    return ["center", "left", "right"]


def check_objects(value: Any, where: str) -> list[dict]:
    """A state's objects in TRANCE's vocabulary; :class:`BadRecord` ``bad_object`` otherwise."""
    if not isinstance(value, list) or not value:
        raise BadRecord("bad_sample", f"{where}: a state without objects")
    out = []
    for i, o in enumerate(value):
        if not isinstance(o, dict):
            raise BadRecord("bad_object", f"{where}: object {i} is not a JSON object")
        for attr in ("shape", "size", "color", "material"):
            if o.get(attr) not in VALUES[attr]:
                raise BadRecord("bad_object", f"{where}: object {i} has {attr} {o.get(attr)!r:.30}, not one of "
                                              f"{', '.join(VALUES[attr])}")
        pos = o.get("position")
        if not (isinstance(pos, (list, tuple)) and len(pos) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()
                        for v in pos) and is_valid(pos)):
            raise BadRecord("bad_object", f"{where}: object {i} has position {pos!r:.40}, not [x, y] integers "
                                          "within -40..40")
        rot = o.get("rotation", 0.0)
        out.append({"shape": o["shape"], "size": o["size"], "color": o["color"], "material": o["material"],
                    "position": [int(pos[0]), int(pos[1])],
                    "rotation": float(rot) if isinstance(rot, (int, float)) and not isinstance(rot, bool) else 0.0})
    return out


def check_sample_transformations(value: Any, n_objects: int, where: str) -> list[dict]:
    """The transformations, checked (every referenced object exists, values in the vocabulary)."""
    if not isinstance(value, list) or not value:
        raise BadRecord("bad_sample", f"{where}: no transformations")
    out = []
    for k, t in enumerate(value):
        if not isinstance(t, dict):
            raise BadRecord("bad_sample", f"{where}: transformation {k} is not a JSON object")
        rec = dict(t)
        if "val" not in rec and "target" in rec:          # the generator's own files
            rec["val"] = rec["target"]
        try:
            idx, attr, val = check_transformation(rec, n_objects)
        except TransformationError as e:
            raise BadRecord(e.reason, f"{where}: transformation {k}: {e.detail}") from None
        options = rec.get("options") or [val]
        if not isinstance(options, list):
            raise BadRecord("bad_value", f"{where}: transformation {k}: options should be a list")
        checked = []
        for opt in options:
            try:
                checked.append(check_transformation({"obj_idx": idx, "attr": attr, "val": opt}, n_objects)[2])
            except TransformationError as e:
                raise BadRecord(e.reason, f"{where}: transformation {k}: option {e.detail}") from None
        item = {"obj_idx": idx, "attr": attr, "val": val, "options": checked}
        if attr == "position" and rec.get("type") in ("inner", "out", "in"):
            item["type"] = rec["type"]
        out.append(item)
    return out


def image_name(state: dict, camera: str, where: str) -> str:
    images = state.get("images")
    if not isinstance(images, dict) or not isinstance(images.get(camera), str) or not images[camera]:
        raise BadRecord("missing_image", f"{where}: no {camera} image in the state")
    return posixpath.basename(images[camera].replace("\\", "/"))


@source("trance_release")
class TranceRelease(Source):
    """Rows of the released TRANCE layout (see the module docstring); ``split``: train, val, test
    (by line, as preprocess.py cuts data.jsonl) or all (each row keeps its split)."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, setting: str = "all", split: str = "all"):
        self.ctx = ctx
        self.root = Path(dir).expanduser()
        if not self.root.is_dir():
            raise UsageError(f"--source-dir {dir}: not a directory (expected TRANCE's data.jsonl or info/*.json "
                             "and image/)")
        if setting not in SETTINGS:
            raise UsageError(f"trance_release: setting {setting!r} is not one of {', '.join(SETTINGS)}")
        if split not in (*SPLITS, "all"):
            raise UsageError(f"trance_release: split {split!r} is not one of {', '.join(SPLITS)}, all")
        self.setting, self.split = setting, split
        data = self.root / "data.jsonl"
        info = sorted(p for p in (self.root / "info").glob("*.json") if is_regular_file(p)) \
            if (self.root / "info").is_dir() else []
        if is_regular_file(data):
            self.files = [data]
        elif info:
            self.files = info
        else:
            raise UsageError(f"--source-dir {dir}: no data.jsonl and no info/*.json (TRANCE's released layout: "
                             "data.jsonl or info/*.json, with the images in image/)")

    def _samples(self) -> Iterator[tuple[int, str, dict | BadRecord]]:
        """(position, where, sample or BadRecord) in file order."""
        if self.files[0].name == "data.jsonl":
            self.ctx.record_file(self.files[0])
            for k, (lineno, rec) in enumerate(jsonl_records(self.files[0])):
                yield k, f"data.jsonl:{lineno}", rec
            return
        for k, path in enumerate(self.files):
            where = f"info/{printable(path.name)}"
            try:
                rec: dict | BadRecord = parse_object(decode_line(path.read_bytes(), where), where)
                self.ctx.record_file(path)
            except BadRecord as e:
                rec = e
            except OSError as e:
                rec = BadRecord("bad_json", f"{where}: {e.strerror or e}")
            yield k, where, rec

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        n = 0
        for k, where, rec in self._samples():
            split = self._split_of(k)
            if self.split != "all" and split != self.split:
                continue
            for item in self._items(k, where, rec, split):
                n += 1
                if n > start:
                    yield item

    def _split_of(self, k: int) -> str:
        bound = 0
        for name, size in zip(SPLITS, SPLIT_SIZES):
            bound += size
            if k < bound:
                return name
        return "test"

    def _items(self, k: int, where: str, rec: dict | BadRecord, split: str) -> list[dict | Reject]:
        idx = rec.get("idx", k) if isinstance(rec, dict) else k
        sample_id = f"trance-{idx}" if isinstance(idx, int) and not isinstance(idx, bool) else f"trance-{k}"
        row = {"id": sample_id, "sample_id": sample_id, "source": "trance", "split": split}
        try:
            if isinstance(rec, BadRecord):
                raise rec
            states = rec.get("states")
            if not isinstance(states, list) or len(states) < 2 or not all(isinstance(s, dict) for s in states):
                raise BadRecord("bad_sample", f"{where}: 'states' should be a list of at least 2 states")
            initial = check_objects(states[0].get("objects"), f"{where}: states[0]")
            final = check_objects(states[-1].get("objects"), f"{where}: states[-1]")
            if len(final) != len(initial):
                raise BadRecord("bad_sample", f"{where}: {len(initial)} objects in the initial state, "
                                              f"{len(final)} in the final one")
            seq = check_sample_transformations(rec.get("transformations"), len(initial), where)
            init_image = image_name(states[0], CAMERAS["center"], f"{where}: states[0]")
            views = _views(self.setting, len(seq))
            finals = {v: image_name(states[-1], CAMERAS[v], f"{where}: states[-1]") for v in views}
        except BadRecord as e:
            return [Reject(row, e.reason, e.detail)]
        base = {**row, "objects": object_records(initial), "final_objects": object_records(final),
                "transformations": seq, "n_transformations": len(seq), "question": question_text(initial),
                "answer": answer_text(seq), "image_files": [init_image], "cameras": None}
        return [{**base, "id": f"{sample_id}-{v[0].upper()}", "final_view": v, "setting": setting_of(v, len(seq)),
                 "image_files": [init_image, finals[v]], "image_root": str(self.root)} for v in views]


def find_image_file(root: Path, name: str) -> Path | None:
    for folder in (root / "image", root / "images", root):
        p = folder / name
        if is_regular_file(p):
            return p
    return None


@step("load_trance_images")
def load_trance_images(rows: list[dict], ctx: StepContext) -> Iterator[dict | Reject]:
    """Read and fully decode the initial and final images of each released row into ``images``
    (stored as read) with their ``width``/``height``; procedural rows (already drawn) pass through."""
    for row in rows:
        if row.get("images") is not None or "image_files" not in row:
            yield row
            continue
        root = Path(row["image_root"])
        images, size, bad = [], None, None
        for name in row["image_files"]:
            path = find_image_file(root, name)
            if path is None:
                bad = Reject(row, "missing_image", f"{name}: not in {root / 'image'}")
                break
            try:
                im = read_image(path)
            except BadImage as e:
                bad = Reject(row, e.reason, e.detail)
                break
            ctx.record_file(path, im.data, kind="media")
            images.append(im.data)
            size = size or (im.width, im.height)
        if bad is not None:
            yield bad
            continue
        yield {**row, "images": images, "width": size[0], "height": size[1]}

