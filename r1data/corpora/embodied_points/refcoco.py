"""RefCOCO / RefCOCO+ / RefCOCOg (and RefCLEF) as the ``refer`` toolkit lays them out: REG rows.

The toolkit (github.com/lichengunc/refer, ``refer.py`` and ``data/README.md``) reads
``DATA/{dataset}/refs({splitBy}).p`` and ``DATA/{dataset}/instances.json``, with the COCO
images in ``DATA/images/mscoco/images/train2014/``. Each dataset ships several ``splitBy``
variants: RefCOCO ``unc`` and ``google``, RefCOCO+ ``unc``, RefCOCOg ``google`` and ``umd``
(the README recommends ``umd`` for RefCOCOg: train/val/test with no image in two splits).
The toolkit takes ``splitBy`` explicitly, so does this reader: ``split_by`` names the variant,
its default being the standard one (``unc`` for RefCOCO and RefCOCO+, ``umd`` for RefCOCOg);
when the dataset cannot be told from the folder name and several variants are there, the
build stops and lists them. ``split`` follows ``REFER.getRefIds``: ``train``, ``val``,
``test`` (any test split), ``testA`` / ``testB`` / ``testC`` (splits containing that letter,
so ``testAB`` counts for both), ``testAB``..., or ``all``.

Refs: ``{ref_id, ann_id, image_id, category_id, split, sentences: [{sent, raw, tokens,
sent_id}]}``; one row per sentence. A ``refs(...).json`` holding the same list is read too.
A ref or an annotation that cannot be used is a reject naming its place in the file.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from r1data.corpora.embodied_points.readers import (BadInput, _area, _FolderSource, _polygons, _region_row,
                                                    check_box, load_image)
from r1data.corpora.vqa_verify.imagefiles import MAX_PIXELS
from r1data.corpora.vqa_verify.releases import xywh_box
from r1data.errors import UsageError
from r1data.sourcefiles import (BadRecord, check_object, choose_release, find_release_files, int_field, json_type,
                                list_field, load_json_file, text_field)
from r1data.steps.base import RecordError, Reject, StepContext, source

DATASETS = ("refcoco", "refcoco+", "refcocog", "refclef")
STANDARD_SPLIT_BY = {"refcoco": "unc", "refcoco+": "unc", "refcocog": "umd", "refclef": "unc"}
REFS_FILE = re.compile(r"^refs\((?P<name>[A-Za-z0-9_-]+)\)\.(?:p|json)$")


class _PlainUnpickler(pickle.Unpickler):
    """Loads the refer toolkit's pickles (lists, dicts, strings, numbers) and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refs pickle refers to {module}.{name}: only plain data is read")


def refer_split_matches(wanted: str, split: str) -> bool:
    """``REFER.getRefIds(split=wanted)``'s test on a ref's ``split``."""
    if wanted == "all":
        return True
    if wanted in ("testA", "testB", "testC"):
        return wanted[-1] in split
    if wanted == "test":
        return "test" in split
    return split == wanted


def dataset_folder(root: Path, dataset: str | None) -> tuple[Path, str | None]:
    """The folder holding ``instances.json`` and the refs, and the dataset's name if known.

    ``root`` is the toolkit's data folder (``refcoco/``, ``refcocog/``... inside) or one
    dataset's folder."""
    if (root / "instances.json").is_file():
        name = dataset or (root.name if root.name in DATASETS else None)
        return root, name
    present = [d for d in DATASETS if (root / d / "instances.json").is_file()]
    if dataset is not None:
        if dataset not in present:
            raise UsageError(f"{root}: no {dataset}/instances.json (datasets here: {', '.join(present) or 'none'})")
        return root / dataset, dataset
    if len(present) == 1:
        return root / present[0], present[0]
    if present:
        raise UsageError(f"{root}: holds {', '.join(present)}; say which with dataset "
                         f"(--source-param dataset={present[0]} or in the spec)")
    raise UsageError(f"{root}: expected the refer toolkit's data folder (refcoco/instances.json, "
                     "refcoco/refs(unc).p, ...) or one dataset's folder with instances.json")


def load_refs(path: Path) -> list:
    try:
        if path.suffix == ".p":
            with path.open("rb") as f:
                refs = _PlainUnpickler(f, encoding="latin1").load()
        else:
            refs = load_json_file(path, "refer toolkit refs")
    except (pickle.UnpicklingError, ValueError, EOFError, OSError, IndexError, KeyError, TypeError) as e:
        raise UsageError(f"{path}: cannot read the refs ({type(e).__name__}: {e})") from None
    if not isinstance(refs, list):
        raise UsageError(f"{path}: expected a list of refs, got {json_type(refs)}")
    return refs


def _by_id(entries: Any) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for e in entries if isinstance(entries, list) else []:
        if isinstance(e, dict):
            try:
                out.setdefault(int_field(e, "id", "entry"), e)
            except BadRecord:
                pass
    return out


@source("refcoco")
class RefCOCOSource(_FolderSource):
    """RefCOCO / RefCOCO+ / RefCOCOg referring expressions over COCO instances (REG rows).

    ``dataset`` (refcoco, refcoco+, refcocog, refclef) picks one from the toolkit's data
    folder; ``split_by`` the refs variant (default: the dataset's standard one); ``refs``,
    ``instances`` (files) and ``images`` (a folder), relative to the dataset folder, override
    what is found."""

    def __init__(self, ctx: StepContext, *, dir: str, split: str = "train", dataset: str | None = None,
                 split_by: str | None = None, refs: str | None = None, instances: str = "instances.json",
                 images: str | None = None, points: int = 3, max_pixels: int = MAX_PIXELS):
        super().__init__(ctx, dir, max_pixels)
        if dataset is not None and dataset not in DATASETS:
            raise UsageError(f"dataset: expected one of {', '.join(DATASETS)}, got {dataset!r}")
        folder, name = dataset_folder(self.root, dataset)
        self.split_by = split_by
        if refs:
            refs_path = folder / refs
        else:
            found = find_release_files(folder, REFS_FILE, depth=0)
            wanted = split_by or STANDARD_SPLIT_BY.get(name or "")
            if wanted is None and len(found) > 1:
                raise UsageError(f"{folder}: refs for several splitBy variants ({', '.join(found)}); say which "
                                 f"with split_by (--source-param split_by={next(iter(found))}), as the refer "
                                 "toolkit's REFER(data_root, dataset, splitBy) does")
            self.split_by, (refs_path,) = choose_release(found, wanted, what="refer toolkit refs files",
                                                         key="split_by", root=folder)
        inst_path = folder / instances
        if not inst_path.is_file():
            raise UsageError(f"{folder}: expected {instances} (the dataset's COCO instances)")
        all_refs = load_refs(refs_path)
        coco = load_json_file(inst_path, "COCO instances")
        ctx.record_file(refs_path)
        ctx.record_file(inst_path)
        if not isinstance(coco, dict):
            raise UsageError(f"{inst_path}: expected a COCO instances object, got {json_type(coco)}")
        # entries without a usable id cannot be referred to: a ref naming them is rejected
        self.images = _by_id(coco.get("images"))
        self.anns = _by_id(coco.get("annotations"))
        self.cats = {k: c.get("name") if isinstance(c.get("name"), str) else ""
                     for k, c in _by_id(coco.get("categories")).items()}
        self.points = points
        self.bad: list[Reject] = []
        kept, splits = self._refs(all_refs, refs_path.name, split)
        if not kept:
            first = f"; {len(self.bad)} refs rejected, the first: {self.bad[0].detail}" if self.bad else ""
            raise UsageError(f"split: no ref of {refs_path} is in split {split!r} "
                             f"(its splits: {', '.join(sorted(splits)) or 'none'}; or all){first}")
        self.image_dir = self._image_dir(folder, images, kept)
        self.items: list[tuple[dict, int]] = [(r, k) for r in kept for k in range(len(r["sentences"]))]

    def _refs(self, refs: list, name: str, split: str) -> tuple[list[dict], set[str]]:
        kept, splits = [], set()
        for i, r in enumerate(refs):
            where = f"{name}[{i}]"
            try:
                rec = check_object(r, where)
                rec = {**rec, "ref_id": int_field(rec, "ref_id", where), "ann_id": int_field(rec, "ann_id", where),
                       "image_id": int_field(rec, "image_id", where), "split": text_field(rec, "split", where),
                       "sentences": [check_object(s, where) for s in list_field(rec, "sentences", where)]}
            except BadRecord as e:
                self.bad.append(Reject({"id": where, "source": "refcoco"}, e.reason, e.detail))
                continue
            splits.add(rec["split"])
            if refer_split_matches(split, rec["split"]):
                kept.append(rec)
        return sorted(kept, key=lambda r: r["ref_id"]), splits

    def _image_dir(self, folder: Path, given: str | None, refs: list[dict]) -> Path:
        """``images`` if given; else where the first ref's image is: the toolkit's
        ``DATA/images/mscoco/images/train2014`` (``.../saiapr_tc-12`` for RefCLEF), or
        ``images/`` or ``train2014/`` beside the refs."""
        if given:
            return folder / given
        data = folder.parent
        candidates = [data / "images/mscoco/images/train2014", data / "images/saiapr_tc-12",
                      folder / "images", folder / "train2014", data / "train2014", folder]
        first = next((self.images.get(r["image_id"]) for r in refs if r["image_id"] in self.images), None)
        name = first.get("file_name") if isinstance(first, dict) else None
        for c in candidates:
            if isinstance(name, str) and (c / name).is_file():
                return c
        return next((c for c in candidates if c.is_dir() and c != folder), folder / "images")

    def __len__(self) -> int:
        return len(self.bad) + len(self.items)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        yield from self.bad[start:]
        for ref, k in self.items[max(0, start - len(self.bad)):]:
            row = {"id": f"refcoco-{ref['ref_id']}-{k}", "scene_id": f"coco-{ref['image_id']}", "source": "refcoco",
                   # the split step keeps RefCOCO's own split (train, val, testA, testB)
                   "split": str(ref.get("split") or "") if isinstance(ref, dict) else ""}
            try:
                sent = ref["sentences"][k]
                where = f"ref {ref['ref_id']} sentence {k}"
                row["instruction"] = (text_field(sent, "sent", where, required=False)
                                      or text_field(sent, "raw", where)).strip()
                yield {**row, **self._row(ref, k)}
            except RecordError as e:
                yield Reject(row, e.reason, e.detail)

    def _row(self, ref: dict, k: int) -> dict:
        from r1data.corpora.tabletop import polygons_to_mask
        from r1data.geometry import rle_decode

        info, ann = self.images.get(ref["image_id"]), self.anns.get(ref["ann_id"])
        if info is None or ann is None:
            raise BadInput("bad_annotation", f"image {ref['image_id']} or annotation {ref['ann_id']} not in instances")
        where = f"instances.json annotation {ref['ann_id']}"
        path = self.image_dir / text_field(info, "file_name", f"instances.json image {ref['image_id']}")
        image = load_image(path, self.max_pixels)
        self.ctx.record_file(path, kind="media")
        _, w, h = image
        if (info.get("width"), info.get("height")) not in ((w, h), (None, None)):
            raise BadInput("image_size_mismatch", f"{info['file_name']} is {w}x{h}, instances say "
                                                  f"{info.get('width')}x{info.get('height')}")
        if "bbox" not in ann:
            raise BadInput("bad_annotation", f"{where}: no 'bbox'")
        check_box(xywh_box(ann["bbox"], where), w, h, "bbox")
        seg = ann.get("segmentation")
        polygon = None
        if isinstance(seg, dict):
            if isinstance(seg.get("counts"), str):
                raise BadInput("unsupported_mask", "compressed RLE: decode with pycocotools and store counts as a list")
            if not isinstance(seg.get("size"), list) or list(seg["size"]) != [h, w]:
                raise BadInput("mask_size_mismatch", f"RLE size {seg.get('size')} != image {h}x{w} (h, w)")
            try:
                mask = rle_decode(seg)
            except (TypeError, ValueError, KeyError) as e:
                raise BadInput("bad_annotation", f"{where}: unreadable RLE ({e})") from None
        else:
            polys = _polygons(seg, w, h, "segmentation")
            if not polys:
                raise BadInput("bad_annotation", "no polygon with >= 3 vertices")
            mask = polygons_to_mask([p.tolist() for p in polys], w, h)
            polygon = max(polys, key=_area).tolist()
        rng = self.ctx.rng("refcoco", ref["ref_id"], k)
        n = int(rng.integers(1, self.points + 1))
        cat = ann.get("category_id")
        category = self.cats.get(cat, "") if isinstance(cat, int) else ""
        return _region_row(image, mask, polygon, rng, "point_rec", "REG", n, target_category=category, target_part="")
