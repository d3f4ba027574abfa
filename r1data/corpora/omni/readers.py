"""Readers of the datasets Omni-R1 trains on, as their releases lay them out.

**RefAVS** (Ref-AVS, GeWu-Lab; read by Omni-R1's ``load_datasets/refavs.py`` @ 1de42f8 and by the Ref-AVS
authors' own loaders)::

    ROOT/metadata.csv                         header row; columns used: uid, fid, exp, split (vid = uid
                                              without its last two "_" parts, as both loaders compute it)
    ROOT/media/VID/frames/0.jpg .. 9.jpg      ten frames of the 10-second clip (one a second)
    ROOT/media/VID/audio.wav                  its sound
    ROOT/gt_mask/VID/fid_FID/00000.png ..     the referred object's mask in each frame ("0000{i}.png")

**ReVOS / MeVIS** (as Sa2VA repackages them, the copies Omni-R1's ``load_datasets/revos.py`` and
``mevis.py`` read)::

    meta_expressions JSON   {"videos": {VID: {"frames": [NAME, ...], "expressions": {EXP_ID: {"exp": TEXT,
                            "obj_id": [...], "anno_id": [...]}}}}}
    mask_dict.json          {ANNO_ID: [RLE or null per frame]}, RLE = COCO {"size": [h, w], "counts": str}
    frames                  FRAMES_DIR/VID/NAME.jpg

ReVOS: ``ROOT/meta_expressions_train_.json``, ``ROOT/mask_dict.json``, frames under ``ROOT`` itself
(revos.py's defaults); MeVIS: ``ROOT/train/meta_expressions.json``, ``ROOT/train/mask_dict.json``,
``ROOT/train/JPEGImages``. Masks are decoded with pycocotools. An expression refers to up to
``max_objects`` objects (revos.py: ``select_number=3``; it picks them at random, we take the first).

Verified: file names, keys and layout, from those loaders (not against downloaded releases). Not
verified: the frame rate of the released frames (``frames_fps``, used only to time the mp4 made
from them); Omni-R1's own timing reward assumes 2 frames a second of its sampled frames, as here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from r1data.errors import UsageError
from r1data.sourcefiles import BadRecord, is_regular_file, load_json_file
from r1data.steps.base import Reject, Source, StepContext, source

REFAVS_FRAMES = 10
REFAVS_COLUMNS = ("uid", "fid", "exp", "split")


@source("refavs")
class RefAVS(Source):
    """The expressions of one RefAVS ``split`` (train, val, test), in ``metadata.csv`` order."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, split: str = "train", frames_fps: float = 1.0):
        self.ctx = ctx
        self.root = Path(dir).expanduser().resolve()
        meta = self.root / "metadata.csv"
        if not is_regular_file(meta):
            raise UsageError(f"--source-dir {dir}: no metadata.csv (source refavs reads ROOT/metadata.csv, "
                             f"ROOT/media/VID/frames, ROOT/media/VID/audio.wav, ROOT/gt_mask/VID/fid_FID)")
        try:
            with open(meta, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                header = reader.fieldnames or []
                rows = list(enumerate(reader, 2))
        except (UnicodeDecodeError, csv.Error) as e:
            raise UsageError(f"{meta}: not a UTF-8 CSV ({e})") from None
        missing = [c for c in REFAVS_COLUMNS if c not in header]
        if missing:
            raise UsageError(f"{meta}: no column {', '.join(missing)} (columns: {', '.join(header)})")
        splits = sorted({r.get("split") or "" for _, r in rows})
        if split not in splits:
            raise UsageError(f"{meta}: no split {split!r} (splits: {', '.join(splits)}); "
                             f"--source-param split=NAME")
        ctx.record_file(meta)
        self.rows = [(n, r) for n, r in rows if r.get("split") == split]
        self.frames_fps = float(frames_fps)

    def __len__(self) -> int:
        return len(self.rows)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for line, rec in self.rows[start:]:
            where = f"metadata.csv:{line}"
            try:
                yield self.parse(rec, where)
            except BadRecord as e:
                yield Reject({"id": where, "video_id": "", "source": "refavs"}, e.reason, e.detail)

    def parse(self, rec: dict, where: str) -> dict:
        uid, fid, exp = (str(rec.get(k) or "").strip() for k in ("uid", "fid", "exp"))
        if not uid or not fid or not exp:
            raise BadRecord("missing_field", f"{where}: uid, fid and exp must be set")
        if uid.count("_") < 2:
            raise BadRecord("bad_field", f"{where}: uid {uid!r} is not VID_X_Y")
        vid = uid.rsplit("_", 2)[0]
        media = self.root / "media" / vid
        masks = self.root / "gt_mask" / vid / f"fid_{fid}"
        if not masks.is_dir():
            raise BadRecord("missing_mask", f"{where}: no mask folder gt_mask/{vid}/fid_{fid}")
        mask_paths = [str(masks / f"0000{i}.png") for i in range(REFAVS_FRAMES)]
        for p in mask_paths:
            if Path(p).is_file():
                self.ctx.record_file(p, kind="media")
        return {"id": f"refavs-{uid}-{fid}", "video_id": vid, "source": "refavs", "av_script": None,
                "frame_paths": [str(media / "frames" / f"{i}.jpg") for i in range(REFAVS_FRAMES)],
                "audio_path": str(media / "audio.wav"), "frames_fps": self.frames_fps, "family": "audio",
                "expression": exp, "targets": [0], "reference": "", "expression_kind": "refavs",
                "keyframe_times": [i / self.frames_fps for i in range(REFAVS_FRAMES)],
                "mask_source": {"kind": "png", "paths": mask_paths}}


class _VOS(Source):
    """ReVOS / MeVIS in Sa2VA's layout (see the module docstring)."""

    takes_dir = True
    name = "revos"
    defaults = ("meta_expressions_train_.json", "mask_dict.json", "")

    def __init__(self, ctx: StepContext, *, dir: str, expressions: str | None = None, masks: str | None = None,
                 frames: str | None = None, frames_fps: float = 6.0, max_objects: int = 3):
        self.ctx = ctx
        self.root = Path(dir).expanduser().resolve()
        exp_name, mask_name, frames_name = (expressions or self.defaults[0], masks or self.defaults[1],
                                            self.defaults[2] if frames is None else frames)
        exp_file, mask_file = self.root / exp_name, self.root / mask_name
        for f, what in ((exp_file, "expressions"), (mask_file, "masks")):
            if not f.exists():
                raise UsageError(f"--source-dir {dir}: no {f.relative_to(self.root)} (source {self.name}; "
                                 f"--source-param {what}=PATH names another)")
        meta = load_json_file(exp_file, f"{self.name} expressions")
        if not isinstance(meta, dict) or not isinstance(meta.get("videos"), dict):
            raise UsageError(f"{exp_file}: expected {{\"videos\": {{VID: ...}}}}")
        self.mask_dict = load_json_file(mask_file, f"{self.name} masks")
        if not isinstance(self.mask_dict, dict):
            raise UsageError(f"{mask_file}: expected {{ANNO_ID: [RLE per frame]}}")
        ctx.record_file(exp_file)
        ctx.record_file(mask_file)
        self.frames_dir = self.root / frames_name
        self.frames_fps = float(frames_fps)
        self.max_objects = int(max_objects)
        self.items = []
        for vid in sorted(meta["videos"]):
            v = meta["videos"][vid]
            exps = v.get("expressions") if isinstance(v, dict) else None
            for exp_id in sorted(exps or {}, key=lambda k: (len(k), k)):
                self.items.append((vid, exp_id, v, exps[exp_id]))
            if not exps:
                self.items.append((vid, None, v, None))
        self.file = exp_file.name

    def __len__(self) -> int:
        return len(self.items)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for vid, exp_id, video, exp in self.items[start:]:
            where = f"{self.file}: videos[{vid!r}]" + (f".expressions[{exp_id!r}]" if exp_id is not None else "")
            try:
                yield self.parse(vid, exp_id, video, exp, where)
            except BadRecord as e:
                yield Reject({"id": f"{self.name}-{vid}-{exp_id}", "video_id": str(vid), "source": self.name},
                             e.reason, e.detail)

    def parse(self, vid: str, exp_id: str | None, video: dict, exp: dict | None, where: str) -> dict:
        frames = video.get("frames")
        if not isinstance(frames, list) or not frames or not all(isinstance(f, str) for f in frames):
            raise BadRecord("bad_field", f"{where}: 'frames' should be a list of frame names")
        if not isinstance(exp, dict):
            raise BadRecord("bad_field", f"{where}: no expression")
        text = exp.get("exp")
        if not isinstance(text, str) or not text.strip():
            raise BadRecord("missing_field", f"{where}: no 'exp' text")
        anno = exp.get("anno_id")
        if not isinstance(anno, list) or not anno:
            raise BadRecord("no_object", f"{where}: 'anno_id' lists no object")
        rles = []
        for a in anno[: self.max_objects]:
            per_frame = self.mask_dict.get(str(a))
            if not isinstance(per_frame, list):
                raise BadRecord("missing_mask", f"{where}: mask_dict has no masks for anno_id {a!r}")
            if len(per_frame) != len(frames):
                raise BadRecord("bad_mask", f"{where}: anno_id {a!r} has {len(per_frame)} masks for "
                                            f"{len(frames)} frames")
            rles.append(per_frame)
        names = sorted(frames)
        return {"id": f"{self.name}-{vid}-{exp_id}", "video_id": str(vid), "source": self.name, "av_script": None,
                "frame_paths": [str(self.frames_dir / vid / f"{f}.jpg") for f in names],
                "frames_fps": self.frames_fps, "family": "video", "expression": text.strip(),
                "targets": list(range(len(rles))), "reference": "", "expression_kind": self.name,
                "keyframe_times": None, "mask_source": {"kind": "rle", "rles": rles}}


@source("revos")
class ReVOS(_VOS):
    """ReVOS expressions and masks as Sa2VA packages them (see the module docstring)."""

    name = "revos"
    defaults = ("meta_expressions_train_.json", "mask_dict.json", "")


@source("mevis")
class MeVIS(_VOS):
    """MeVIS expressions and masks as Sa2VA packages them (see the module docstring)."""

    name = "mevis"
    defaults = ("train/meta_expressions.json", "train/mask_dict.json", "train/JPEGImages")
