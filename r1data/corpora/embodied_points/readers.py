"""Real sources of embodied_points: RefCOCO (REG), part masks (OFG), trajectories (VTG).

Each reads a folder (``--source-dir``) and yields finished task rows (the generator steps pass
them through). Layouts, all coordinates in pixels of the image file:

* ``refcoco``: the ``refer`` toolkit layout: ``refs(unc).p`` (pickle) or ``refs.json`` (the
  same list as JSON: ``ref_id, ann_id, image_id, split, sentences[{sent, raw}]``), the COCO
  ``instances.json`` (images, annotations with ``segmentation`` polygons or uncompressed RLE
  and ``bbox`` [x, y, w, h], categories) and the images under ``images/`` (``file_name``).
  One row per sentence.
* ``part_masks``: ``annotations.jsonl``, one part per line: ``image``, ``object``, ``part``,
  optional ``instruction``, and ``mask`` (a PNG path, foreground > 0) or ``segmentation``
  (``[[x, y], ...]`` or COCO flat polygons).
* ``trajectories``: ``annotations.jsonl``, one trace per line: ``image``, ``instruction``,
  ``trajectory`` ``[[x, y], ...]`` (resampled to 8 points, uniform in point index as
  Embodied-R1's reward resamples), the object to
  move as ``object_box`` [x1, y1, x2, y2] or ``object_mask`` (PNG path) and the target region
  as ``target_box`` or ``target_mask``.

Bad input is rejected with a reason, never fatal: ``missing_image``, ``corrupt_image``
(undecodable or truncated), ``mask_size_mismatch``, ``box_outside_image``,
``points_outside_image``, ``empty_mask``, ``bad_annotation``.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from r1data.corpora.embodied_points.tasks import (PART_PHRASES, TRACE_POINTS, answer_string, mask_to_png,
                                                  region_task)
from r1data.errors import UsageError
from r1data.steps.base import RecordError, Reject, Source, StepContext, source


class BadInput(RecordError):
    """A record that cannot be used: ``reason`` goes to the rejects table."""


def load_image(path: Path) -> tuple[bytes, int, int]:
    """The file's bytes (PNG/JPEG kept as is, other formats re-encoded to PNG) and its size.

    Decodes every pixel, so a truncated file fails here rather than in training."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise BadInput("missing_image", f"{path} does not exist")
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
            im.load()
            w, h = im.size
            if fmt not in ("PNG", "JPEG"):
                buf = io.BytesIO()
                im.convert("RGB").save(buf, format="PNG")
                data = buf.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise BadInput("corrupt_image", f"{path.name}: {e}") from None
    return data, w, h


def load_mask(path: Path, width: int, height: int) -> np.ndarray:
    """A mask file (foreground > 0 in the first channel) that must match the image size."""
    from r1data.geometry import png_to_mask

    if not path.is_file():
        raise BadInput("missing_mask", f"{path} does not exist")
    try:
        mask = png_to_mask(path.read_bytes())
    except (OSError, SyntaxError, ValueError) as e:
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

    def __init__(self, ctx: StepContext, dir: str):
        self.ctx = ctx
        self.root = Path(dir).expanduser()
        if not self.root.is_dir():
            raise UsageError(f"--source-dir {dir}: no such directory")

    def _jsonl(self, name: str) -> list[tuple[int, Any]]:
        path = self.root / name
        if not path.is_file():
            raise UsageError(f"{self.root}: expected {name} (one JSON object per line)")
        out: list[tuple[int, Any]] = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    out.append((n, json.loads(line)))
                except ValueError as e:
                    out.append((n, BadInput("bad_annotation", f"{name}:{n}: not JSON: {e}")))
        return out


class _PlainUnpickler(pickle.Unpickler):
    """Loads the refer toolkit's pickles (lists, dicts, strings, numbers) and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refs pickle refers to {module}.{name}: only plain data is read")


@source("refcoco")
class RefCOCOSource(_FolderSource):
    """RefCOCO / RefCOCO+ / RefCOCOg referring expressions over COCO instances (REG rows)."""

    def __init__(self, ctx: StepContext, *, dir: str, split: str = "train", refs: str | None = None,
                 instances: str = "instances.json", images: str = "images", points: int = 3):
        super().__init__(ctx, dir)
        refs_path = self.root / refs if refs else next(
            iter(sorted(self.root.glob("refs(*).p")) + sorted(self.root.glob("refs*.json"))), None)
        if refs_path is None or not refs_path.is_file():
            raise UsageError(f"{self.root}: expected refs(unc).p or refs.json (the refer toolkit's refs)")
        inst_path = self.root / instances
        if not inst_path.is_file():
            raise UsageError(f"{self.root}: expected {instances} (COCO instances)")
        try:
            if refs_path.suffix == ".p":
                with refs_path.open("rb") as f:
                    all_refs = _PlainUnpickler(f, encoding="latin1").load()
            else:
                all_refs = json.loads(refs_path.read_text(encoding="utf-8"))
            coco = json.loads(inst_path.read_text(encoding="utf-8"))
        except (pickle.UnpicklingError, ValueError, EOFError) as e:
            raise UsageError(f"{self.root}: cannot read {refs_path.name} / {instances}: {e}") from None
        if not isinstance(all_refs, list) or not isinstance(coco, dict):
            raise UsageError(f"{refs_path}: expected a list of refs; {inst_path}: a COCO instances object")
        self.images = {im["id"]: im for im in coco.get("images", [])}
        self.anns = {a["id"]: a for a in coco.get("annotations", [])}
        self.cats = {c["id"]: c.get("name", "") for c in coco.get("categories", [])}
        self.image_dir = self.root / images
        self.points = points
        refs_kept = sorted((r for r in all_refs if split == "all" or r.get("split") == split),
                           key=lambda r: r["ref_id"])
        self.items = [(r, k) for r in refs_kept for k in range(len(r.get("sentences") or []))]

    def __len__(self) -> int:
        return len(self.items)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for ref, k in self.items[start:]:
            sent = ref["sentences"][k]
            row = {"id": f"refcoco-{ref['ref_id']}-{k}", "scene_id": f"coco-{ref['image_id']}", "source": "refcoco",
                   "instruction": str(sent.get("sent") or sent.get("raw") or "").strip(),
                   "split": str(ref.get("split") or "")}   # the split step keeps RefCOCO's own (testA...)
            try:
                yield {**row, **self._row(ref, k)}
            except BadInput as e:
                yield Reject(row, e.reason, e.detail)

    def _row(self, ref: dict, k: int) -> dict:
        from r1data.corpora.tabletop import polygons_to_mask
        from r1data.geometry import rle_decode

        info, ann = self.images.get(ref["image_id"]), self.anns.get(ref["ann_id"])
        if info is None or ann is None:
            raise BadInput("bad_annotation", f"image {ref['image_id']} or annotation {ref['ann_id']} not in instances")
        image = load_image(self.image_dir / info["file_name"])
        _, w, h = image
        if (info.get("width"), info.get("height")) not in ((w, h), (None, None)):
            raise BadInput("image_size_mismatch", f"{info['file_name']} is {w}x{h}, instances say "
                                                  f"{info.get('width')}x{info.get('height')}")
        x, y, bw, bh = (float(v) for v in ann["bbox"])
        check_box([x, y, x + bw, y + bh], w, h, "bbox")
        seg = ann.get("segmentation")
        polygon = None
        if isinstance(seg, dict):
            if isinstance(seg.get("counts"), str):
                raise BadInput("unsupported_mask", "compressed RLE: decode with pycocotools and store counts as a list")
            if list(seg.get("size", [])) != [h, w]:
                raise BadInput("mask_size_mismatch", f"RLE size {seg.get('size')} != image {h}x{w} (h, w)")
            mask = rle_decode(seg)
        else:
            polys = _polygons(seg, w, h, "segmentation")
            if not polys:
                raise BadInput("bad_annotation", "no polygon with >= 3 vertices")
            mask = polygons_to_mask([p.tolist() for p in polys], w, h)
            polygon = max(polys, key=_area).tolist()
        rng = self.ctx.rng("refcoco", ref["ref_id"], k)
        n = int(rng.integers(1, self.points + 1))
        return _region_row(image, mask, polygon, rng, "point_rec", "REG", n,
                           target_category=self.cats.get(ann.get("category_id"), ""), target_part="")


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


@source("part_masks")
class PartMasksSource(_FolderSource):
    """Functional parts (handles, lids, knobs...) with masks or polygons (OFG rows)."""

    def __init__(self, ctx: StepContext, *, dir: str, annotations: str = "annotations.jsonl", points: int = 2):
        super().__init__(ctx, dir)
        self.lines = self._jsonl(annotations)
        self.points = points

    def __len__(self) -> int:
        return len(self.lines)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        from r1data.corpora.tabletop import polygons_to_mask

        for n, rec in self.lines[start:]:
            row: dict = {"id": f"part-{n}", "source": "part_masks"}
            try:
                if isinstance(rec, BadInput):
                    raise rec
                obj, part = str(rec.get("object", "")).strip(), str(rec.get("part", "")).strip()
                if not part or not rec.get("image"):
                    raise BadInput("bad_annotation", f"line {n}: needs image and part")
                row.update(id=str(rec.get("id", row["id"])), scene_id=str(rec["image"]))
                phrases = PART_PHRASES.get(part, ("the {part} of {obj}",))
                row["instruction"] = rec.get("instruction") or phrases[0].format(obj=f"the {obj}", part=part)
                image = load_image(self.root / rec["image"])
                _, w, h = image
                polygon = None
                if rec.get("mask"):
                    mask = load_mask(self.root / rec["mask"], w, h)
                else:
                    polys = _polygons(rec.get("segmentation"), w, h, "segmentation")
                    if not polys:
                        raise BadInput("bad_annotation", "no polygon with >= 3 vertices")
                    mask = polygons_to_mask([p.tolist() for p in polys], w, h)
                    polygon = max(polys, key=_area).tolist()
                rng = self.ctx.rng("part_masks", n)
                yield {**row, **_region_row(image, mask, polygon, rng, "grounding_rec", "OFG",
                                            int(rng.integers(1, self.points + 1)), target_category=obj,
                                            target_part=part)}
            except BadInput as e:
                yield Reject(row, e.reason, e.detail)


@source("trajectories")
class TrajectoriesSource(_FolderSource):
    """Visual traces given as point lists, resampled to 8 points (VTG rows)."""

    def __init__(self, ctx: StepContext, *, dir: str, annotations: str = "annotations.jsonl"):
        super().__init__(ctx, dir)
        self.lines = self._jsonl(annotations)

    def __len__(self) -> int:
        return len(self.lines)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for n, rec in self.lines[start:]:
            row: dict = {"id": f"trace-{n}", "source": "trajectories"}
            try:
                if isinstance(rec, BadInput):
                    raise rec
                yield {**row, **self._row(n, rec)}
            except BadInput as e:
                yield Reject(row, e.reason, e.detail)

    def _row(self, n: int, rec: dict) -> dict:
        from r1data.geometry import resample_polyline

        if not rec.get("image") or not rec.get("instruction"):
            raise BadInput("bad_annotation", f"line {n}: needs image and instruction")
        data, w, h = load_image(self.root / rec["image"])
        raw = check_points(rec.get("trajectory"), w, h, "trajectory")
        if len(raw) < 2:
            raise BadInput("bad_annotation", "trajectory has fewer than 2 points")
        trace = np.rint(resample_polyline(raw, TRACE_POINTS))
        trace = [[int(min(max(x, 0), w - 1)), int(min(max(y, 0), h - 1))] for x, y in trace]
        out: dict = {"id": str(rec.get("id", f"trace-{n}")), "scene_id": str(rec["image"]),
                     "instruction": str(rec["instruction"]).strip(), "ability": "VTG",
                     "data_type": "fsd_visual_trace", "answer": answer_string("fsd_visual_trace", {"trajectory": trace}),
                     "points": trace, "images": [data], "width": w, "height": h, "kind": "", "objects": [],
                     "target_category": str(rec.get("object", "")), "target_part": "",
                     "relation": str(rec.get("relation", ""))}
        for key in ("object", "target"):
            if rec.get(f"{key}_mask"):
                mask = load_mask(self.root / rec[f"{key}_mask"], w, h)
                if not mask.any():
                    raise BadInput("empty_mask", f"{key}_mask is empty")
                out[f"{key}_mask"] = mask_to_png(mask)
                out[f"{key}_box"] = _mask_box(mask)
            elif rec.get(f"{key}_box") is not None:
                out[f"{key}_box"] = check_box(rec[f"{key}_box"], w, h, f"{key}_box")
            else:
                raise BadInput("bad_annotation", f"line {n}: needs {key}_box or {key}_mask")
        return out
