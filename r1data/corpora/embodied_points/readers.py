"""Real sources of embodied_points: part masks (OFG), trajectories (VTG); RefCOCO (REG) is in
:mod:`.refcoco`. The shared image, mask and geometry checks are here.

Each reads a folder (``--source-dir``) and yields finished task rows (the generator steps pass
them through). Layouts, all coordinates in pixels of the image file:

* ``part_masks``: ``annotations.jsonl``, one part per line: ``image``, ``object``, ``part``,
  optional ``instruction``, and ``mask`` (a PNG path, foreground > 0) or ``segmentation``
  (``[[x, y], ...]`` or COCO flat polygons).
* ``trajectories``: ``annotations.jsonl``, one trace per line: ``image``, ``instruction``,
  ``trajectory`` ``[[x, y], ...]`` (resampled to 8 points, uniform in point index as
  Embodied-R1's reward resamples), the object to
  move as ``object_box`` [x1, y1, x2, y2] or ``object_mask`` (PNG path) and the target region
  as ``target_box`` or ``target_mask``.

Bad input is rejected with a reason, never fatal: ``missing_image``, ``corrupt_image``
(undecodable or truncated), ``image_too_large``, ``mask_size_mismatch``, ``box_outside_image``,
``points_outside_image``, ``empty_mask``, ``bad_annotation``, and for JSONL lines that cannot
be read ``bad_json``, ``bad_encoding``, ``bad_text``, ``missing_field``, ``bad_field``
(:mod:`r1data.sourcefiles`), each with the file and line in its detail.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from r1data.corpora.embodied_points.tasks import (PART_PHRASES, TRACE_POINTS, answer_string, mask_to_png,
                                                  region_task)
from r1data.corpora.vqa_verify.imagefiles import MAX_PIXELS, BadImage, read_image
from r1data.errors import UsageError
from r1data.sourcefiles import BadRecord, is_regular_file, jsonl_records, text_field
from r1data.steps.base import RecordError, Reject, Source, StepContext, source


class BadInput(RecordError):
    """A record that cannot be used: ``reason`` goes to the rejects table."""


def load_image(path: Path, max_pixels: int = MAX_PIXELS) -> tuple[bytes, int, int]:
    """The file's bytes (PNG/JPEG kept as is, other formats re-encoded to PNG) and its size.

    Decodes every pixel (:func:`~r1data.corpora.vqa_verify.imagefiles.read_image`), so a
    truncated file fails here rather than in training; more than ``max_pixels`` pixels is
    ``image_too_large``."""
    from PIL import Image

    try:
        im = read_image(path, max_pixels)
    except BadImage as e:
        raise BadInput(e.reason, e.detail) from None
    data = im.data
    if im.format not in ("PNG", "JPEG"):
        with Image.open(io.BytesIO(data)) as pil:
            buf = io.BytesIO()
            pil.convert("RGB").save(buf, format="PNG")
            data = buf.getvalue()
    return data, im.width, im.height


def load_mask(path: Path, width: int, height: int) -> np.ndarray:
    """A mask file (foreground > 0 in the first channel) that must match the image size."""
    from r1data.geometry import png_to_mask

    if not is_regular_file(path):
        raise BadInput("missing_mask", f"{path} does not exist or is not a regular file")
    try:
        mask = png_to_mask(path.read_bytes())
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise BadInput("corrupt_mask", f"{path.name}: {e}") from None
    if mask.shape != (height, width):
        raise BadInput("mask_size_mismatch",
                       f"{path.name} is {mask.shape[1]}x{mask.shape[0]}, the image {width}x{height}")
    return mask


def check_points(points: Any, width: int, height: int, what: str) -> np.ndarray:
    """(N, 2) floats, each inside the image, else ``points_outside_image``/``bad_annotation``."""
    from r1data.geometry import points_inside_image

    try:
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise BadInput("bad_annotation", f"{what} is not a list of [x, y]") from None
    bad = ~points_inside_image(pts, width, height)
    if bad.any():
        raise BadInput("points_outside_image", f"{what} point {pts[bad][0].tolist()} outside the {width}x{height} image")
    return pts


def check_box(box: Any, width: int, height: int, what: str) -> list[float]:
    """``[x1, y1, x2, y2]`` inside the image with x1 < x2, y1 < y2."""
    try:
        b = [float(v) for v in box]
    except (TypeError, ValueError):
        raise BadInput("bad_annotation", f"{what} is not [x1, y1, x2, y2]") from None
    if len(b) != 4 or not (b[0] < b[2] and b[1] < b[3]):
        raise BadInput("bad_annotation", f"{what} {box} is not [x1, y1, x2, y2] with x1 < x2, y1 < y2")
    if b[0] < 0 or b[1] < 0 or b[2] > width or b[3] > height:
        raise BadInput("box_outside_image", f"{what} {b} outside the {width}x{height} image")
    return b


def _mask_box(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def _polygons(segmentation: Any, width: int, height: int, what: str) -> list[np.ndarray]:
    """COCO flat polygons or one ``[[x, y], ...]`` -> checked (K, 2) arrays."""
    if not isinstance(segmentation, list) or not segmentation:
        raise BadInput("bad_annotation", f"{what} is not a polygon list")
    flat = all(isinstance(v, (int, float)) for v in segmentation)
    pairs = all(isinstance(v, list) and len(v) == 2 for v in segmentation)
    polys = [segmentation] if flat or pairs else segmentation
    out = [check_points(p, width, height, what) for p in polys]
    return [p for p in out if len(p) >= 3]


def _region_row(image: tuple[bytes, int, int], mask: np.ndarray, polygon: list[list[float]] | None,
                rng: np.random.Generator, data_type: str, ability: str, n_points: int, **extra: Any) -> dict:
    from r1data.corpora.tabletop import mask_outline

    data, w, h = image
    if not mask.any():
        raise BadInput("empty_mask", "the target mask is empty")
    poly = polygon if polygon and len(polygon) >= 3 else mask_outline(mask)
    payload, points = region_task(data_type, mask, poly, rng, n_points)
    if not points:
        raise BadInput("no_interior_point", "no point lies inside both the mask and its polygon")
    return {"ability": ability, "data_type": data_type, "answer": answer_string(data_type, payload),
            "points": points, "images": [data], "width": w, "height": h, "target_box": _mask_box(mask),
            "target_mask": mask_to_png(mask), "kind": "", "objects": [], **extra}


class _FolderSource(Source):
    takes_dir = True

    def __init__(self, ctx: StepContext, dir: str, max_pixels: int = MAX_PIXELS):
        self.ctx = ctx
        self.root = Path(dir).expanduser()
        if not self.root.is_dir():
            raise UsageError(f"--source-dir {dir}: no such directory")
        if max_pixels < 1:
            raise UsageError(f"max_pixels: expected a positive number of pixels, got {max_pixels}")
        self.max_pixels = max_pixels

    def _jsonl(self, name: str) -> list[tuple[int, dict | BadRecord]]:
        path = self.root / name
        if not is_regular_file(path):
            raise UsageError(f"{self.root}: expected {name} (one JSON object per line), a regular file")
        self.ctx.record_file(path)
        return list(jsonl_records(path))

    def image(self, rec: dict, where: str, key: str = "image") -> tuple[bytes, int, int]:
        """The record's image (a path relative to the folder), checked and recorded."""
        path = self.root / text_field(rec, key, where)
        data, w, h = load_image(path, self.max_pixels)
        self.ctx.record_file(path, kind="media")
        return data, w, h

    def mask(self, rec: dict, key: str, where: str, width: int, height: int) -> np.ndarray:
        path = self.root / text_field(rec, key, where)
        mask = load_mask(path, width, height)
        self.ctx.record_file(path, kind="media")
        return mask


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


@source("part_masks")
class PartMasksSource(_FolderSource):
    """Functional parts (handles, lids, knobs...) with masks or polygons (OFG rows)."""

    def __init__(self, ctx: StepContext, *, dir: str, annotations: str = "annotations.jsonl", points: int = 2,
                 max_pixels: int = MAX_PIXELS):
        super().__init__(ctx, dir, max_pixels)
        self.name = annotations
        self.lines = self._jsonl(annotations)
        self.points = points

    def __len__(self) -> int:
        return len(self.lines)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for n, rec in self.lines[start:]:
            row: dict = {"id": f"part-{n}", "source": "part_masks"}
            try:
                if isinstance(rec, BadRecord):
                    raise rec
                yield {**row, **self._row(n, rec, row)}
            except RecordError as e:
                yield Reject(row, e.reason, e.detail)

    def _row(self, n: int, rec: dict, row: dict) -> dict:
        from r1data.corpora.tabletop import polygons_to_mask

        where = f"{self.name}:{n}"
        obj = text_field(rec, "object", where, required=False).strip()
        part = text_field(rec, "part", where).strip()
        row.update(id=text_field(rec, "id", where, required=False) or row["id"],
                   scene_id=text_field(rec, "image", where))
        phrases = PART_PHRASES.get(part, ("the {part} of {obj}",))
        row["instruction"] = text_field(rec, "instruction", where, required=False) or \
            phrases[0].format(obj=f"the {obj}", part=part)
        image = self.image(rec, where)
        _, w, h = image
        polygon = None
        if rec.get("mask"):
            mask = self.mask(rec, "mask", where, w, h)
        else:
            polys = _polygons(rec.get("segmentation"), w, h, "segmentation")
            if not polys:
                raise BadInput("bad_annotation", f"{where}: no polygon with >= 3 vertices")
            mask = polygons_to_mask([p.tolist() for p in polys], w, h)
            polygon = max(polys, key=_area).tolist()
        rng = self.ctx.rng("part_masks", n)
        return {**row, **_region_row(image, mask, polygon, rng, "grounding_rec", "OFG",
                                     int(rng.integers(1, self.points + 1)), target_category=obj, target_part=part)}


@source("trajectories")
class TrajectoriesSource(_FolderSource):
    """Visual traces given as point lists, resampled to 8 points (VTG rows)."""

    def __init__(self, ctx: StepContext, *, dir: str, annotations: str = "annotations.jsonl",
                 max_pixels: int = MAX_PIXELS):
        super().__init__(ctx, dir, max_pixels)
        self.name = annotations
        self.lines = self._jsonl(annotations)

    def __len__(self) -> int:
        return len(self.lines)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for n, rec in self.lines[start:]:
            row: dict = {"id": f"trace-{n}", "source": "trajectories"}
            try:
                if isinstance(rec, BadRecord):
                    raise rec
                yield {**row, **self._row(n, rec)}
            except RecordError as e:
                yield Reject(row, e.reason, e.detail)

    def _row(self, n: int, rec: dict) -> dict:
        from r1data.geometry import resample_polyline

        where = f"{self.name}:{n}"
        image = text_field(rec, "image", where)
        instruction = text_field(rec, "instruction", where).strip()
        data, w, h = self.image(rec, where)
        raw = check_points(rec.get("trajectory"), w, h, "trajectory")
        if len(raw) < 2:
            raise BadInput("bad_annotation", f"{where}: trajectory has fewer than 2 points")
        trace = np.rint(resample_polyline(raw, TRACE_POINTS))
        trace = [[int(min(max(x, 0), w - 1)), int(min(max(y, 0), h - 1))] for x, y in trace]
        out: dict = {"id": text_field(rec, "id", where, required=False) or f"trace-{n}", "scene_id": image,
                     "instruction": instruction, "ability": "VTG",
                     "data_type": "fsd_visual_trace", "answer": answer_string("fsd_visual_trace", {"trajectory": trace}),
                     "points": trace, "images": [data], "width": w, "height": h, "kind": "", "objects": [],
                     "target_category": text_field(rec, "object", where, required=False),
                     "target_part": "", "relation": text_field(rec, "relation", where, required=False)}
        for key in ("object", "target"):
            if rec.get(f"{key}_mask"):
                mask = self.mask(rec, f"{key}_mask", where, w, h)
                if not mask.any():
                    raise BadInput("empty_mask", f"{where}: {key}_mask is empty")
                out[f"{key}_mask"] = mask_to_png(mask)
                out[f"{key}_box"] = _mask_box(mask)
            elif rec.get(f"{key}_box") is not None:
                out[f"{key}_box"] = check_box(rec[f"{key}_box"], w, h, f"{key}_box")
            else:
                raise BadInput("bad_annotation", f"{where}: needs {key}_box or {key}_mask")
        return out
