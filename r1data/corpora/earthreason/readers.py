"""The released EarthReason layout, and the step that loads its images and labels.

``earthreason`` reads ``DIR/{split}/images/*.jpg|png``, ``DIR/{split}/labels/*.png``
(single-channel; pixel != 0 is foreground) and ``DIR/{split}/QAs/*.json|txt`` holding
``{"questions": [...], "answer": [...]}``, paired by file stem (SegEarth-R1 pairs them by
sorted name order, so the stems must agree). ``DIR/{split}/{split}/...`` (a nested copy) is
accepted too. An empty ``answer`` list is an empty-target sample. ``DIR`` may also be the
split folder itself. ``split: all`` reads every released split found (train, val, test); each
row carries its split, which the ``split`` step keeps (val becomes validation).

The source reads only the QA files (a QA file that is not UTF-8, not a JSON object or holds a
lone surrogate is a reject: ``bad_encoding``, ``bad_json``, ``bad_text``; the wrong shape is
``bad_qa``); ``load_earthreason_files`` (in the workers) reads and fully decodes image and
label and rejects: ``missing_image`` (a QA file without an image), ``missing_mask``,
``corrupt_image`` / ``corrupt_mask`` (unreadable or truncated), ``image_too_large`` /
``decompression_bomb`` (more than ``max_pixels`` pixels) and ``mask_size_mismatch`` (label
and image differ in size). Every file read is recorded for the manifest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from r1data.corpora.earthreason.questions import EMPTY_ANSWER
from r1data.corpora.vqa_verify.imagefiles import MAX_PIXELS, BadImage, find_image, read_image
from r1data.errors import UsageError
from r1data.sourcefiles import BadRecord, decode_line, is_regular_file, parse_object, printable
from r1data.steps.base import Reject, Source, StepContext, source, step


RELEASED_SPLITS = ("train", "val", "test")


def split_folder(dir: str, split: str) -> Path:
    """The folder holding ``images/``, ``labels/`` and ``QAs/`` for ``split``."""
    d = Path(dir)
    if not d.is_dir():
        raise UsageError(f"--source-dir {dir}: not a directory (expected EarthReason's {split}/images, labels, QAs)")
    for cand in (d / split / split, d / split, d):
        if (cand / "QAs").is_dir():
            return cand
    raise UsageError(f"--source-dir {dir}: no {split}/QAs folder (expected {split}/images, {split}/labels, "
                     f"{split}/QAs as released in earth-insights/EarthReason)")


@source("earthreason")
class EarthReasonReader(Source):
    """Rows of the released EarthReason layout (see the module docstring)."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, split: str = "train"):
        self.ctx = ctx
        self.root = Path(dir).expanduser()
        if split == "all":
            splits = [s for s in RELEASED_SPLITS if any((c / "QAs").is_dir() for c in (Path(dir) / s / s, Path(dir) / s))]
            if not splits:
                split_folder(dir, "train")   # the one-line error naming what was expected
        else:
            splits = [split]
        self.qa_files: list[tuple[str, Path, Path]] = []   # (split, split folder, QA file)
        for name in splits:
            folder = split_folder(dir, name)
            # only regular files: a FIFO named x.json would block the reader forever
            self.qa_files.extend((name, folder, p) for p in sorted((folder / "QAs").iterdir())
                                 if p.suffix.lower() in (".json", ".txt") and is_regular_file(p))

    def __len__(self) -> int:
        return len(self.qa_files)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for split, folder, path in self.qa_files[start:]:
            stem = printable(path.stem)
            row = {"id": f"{split}-{stem}", "image_id": stem, "source": "earthreason", "split": split}
            if stem != path.stem:
                yield Reject(row, "bad_file_name", f"QAs/{printable(path.name)}: the file name is not UTF-8")
                continue
            try:
                qa = parse_object(decode_line(path.read_bytes(), path.name), path.name)
            except OSError as e:
                yield Reject(row, "bad_qa", f"{path}: {e.strerror or e}")
                continue
            except BadRecord as e:
                yield Reject(row, e.reason, e.detail)
                continue
            self.ctx.record_file(path)
            questions = qa.get("questions") if isinstance(qa, dict) else None
            answers = qa.get("answer", []) if isinstance(qa, dict) else None
            if not isinstance(questions, list) or not questions or not all(isinstance(q, str) for q in questions) \
                    or not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
                yield Reject(row, "bad_qa", f"{path}: expected {{\"questions\": [str, ...], \"answer\": [str, ...]}}")
                continue
            image = find_image(folder / "images", stem)
            if image is None:
                yield Reject(row, "missing_image", f"{path.name}: no image {stem}.* in {folder / 'images'}")
                continue
            yield {**row, "image_path": str(image), "label_path": str(folder / "labels" / f"{stem}.png"),
                   "question": questions[0], "questions": questions,
                   "answer": answers[0] if answers else EMPTY_ANSWER, "empty_by_qa": not answers,
                   "target_class": "", "classes": []}


@step("load_earthreason_files")
def load_earthreason_files(rows: list[dict], ctx: StepContext, *,
                           max_pixels: int = MAX_PIXELS) -> Iterator[dict | Reject]:
    """Read image and label of each released row into ``image``, ``mask_array``, ``width``,
    ``height`` and ``empty``; rows that already hold a mask (procedural ones) pass through.
    Images and labels of more than ``max_pixels`` pixels are rejected before decoding."""
    if max_pixels < 1:
        raise UsageError(f"load_earthreason_files: max_pixels must be positive, got {max_pixels}")
    for row in rows:
        if row.get("mask_array") is not None:
            yield row
            continue
        try:
            im = read_image(Path(row["image_path"]), max_pixels)
        except BadImage as e:
            yield Reject(row, e.reason, e.detail)
            continue
        try:
            label = read_image(Path(row["label_path"]), max_pixels)
        except BadImage as e:
            reason = {"missing_image": "missing_mask", "corrupt_image": "corrupt_mask"}.get(e.reason, e.reason)
            yield Reject(row, reason, e.detail)
            continue
        ctx.record_file(row["image_path"], im.data, kind="media")
        ctx.record_file(row["label_path"], label.data, kind="media")
        if (label.width, label.height) != (im.width, im.height):
            yield Reject(row, "mask_size_mismatch", f"{row['label_path']} is {label.width}x{label.height}, "
                                                    f"the image {im.width}x{im.height}")
            continue
        from r1data.geometry import png_to_mask

        mask = png_to_mask(label.data) if label.data[:8] == b"\x89PNG\r\n\x1a\n" else _any_to_mask(label.data)
        empty = not mask.any()
        if row.get("empty_by_qa") and not empty:
            ctx.stats.count("empty_answer_nonempty_mask")   # kept: the mask is the ground truth
        ctx.stats.count("empty_targets", int(empty))
        yield {**row, "image": im.data, "width": im.width, "height": im.height, "mask_array": mask, "empty": empty}


def _any_to_mask(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im)
    return (arr[..., 0] if arr.ndim == 3 else arr) > 0
