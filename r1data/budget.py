"""The training recipe's image budget: what a row's images cost the model, checked at build time
and again by ``r1data train`` before training starts.

A Qwen2-VL / Qwen2.5-VL processor resizes each image to ``smart_resize(height, width, 28,
min_pixels, max_pixels)`` and feeds ``(h / 28) * (w / 28)`` tokens of it (14-pixel patches
merged 2 x 2). The recipe says which images a row feeds (``data.images`` or the schema's image
field, its first ``data.max_images``; or ``data.video_frames`` frames of the video, which
``r1data train`` feeds as images), the processor's bounds (``data.min_pixels``,
``data.max_pixels``; the processor's defaults 3,136 and 1,003,520 when unset) and the limit:
``data.max_image_tokens``, else ``data.max_prompt_tokens`` (the images alone must fit the
prompt). The sizes come from the fields the schema declares (``size: [width, height]``), so
nothing is decoded; an image with no declared size is measured from its header.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from r1data.frames import QWEN_FACTOR, stored_size

log = logging.getLogger(__name__)

DEFAULT_MIN_PIXELS = 56 * 56           # Qwen2.5-VL's image processor
DEFAULT_MAX_PIXELS = 28 * 28 * 1280


def smart_resize_many(height: Any, width: Any, min_pixels: int | None, max_pixels: int | None,
                      factor: int = QWEN_FACTOR) -> tuple[np.ndarray, np.ndarray]:
    """:func:`r1data.geometry.smart_resize` over arrays: (h_bar, w_bar); 0 where the size is
    missing, not positive or of an aspect ratio of 200 or more (the processor refuses those)."""
    h = np.asarray(height, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    lo = float(min_pixels or DEFAULT_MIN_PIXELS)
    hi = float(max_pixels or DEFAULT_MAX_PIXELS)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(h) & np.isfinite(w) & (h > 0) & (w > 0)
        ok &= np.maximum(h, w) / np.where(ok, np.minimum(h, w), 1) <= 200
        hs, ws = np.where(ok, h, 1.0), np.where(ok, w, 1.0)
        hb = np.maximum(factor, np.round(hs / factor) * factor)   # numpy rounds halves to even, as Python does
        wb = np.maximum(factor, np.round(ws / factor) * factor)
        over = hb * wb > hi
        beta = np.sqrt(hs * ws / hi)
        hb = np.where(over, np.maximum(factor, np.floor(hs / beta / factor) * factor), hb)
        wb = np.where(over, np.maximum(factor, np.floor(ws / beta / factor) * factor), wb)
        under = ~over & (hb * wb < lo)
        beta = np.sqrt(lo / (hs * ws))
        hb = np.where(under, np.ceil(hs * beta / factor) * factor, hb)
        wb = np.where(under, np.ceil(ws * beta / factor) * factor, wb)
    return np.where(ok, hb, 0).astype(np.int64), np.where(ok, wb, 0).astype(np.int64)


@dataclass(frozen=True)
class ImageBudget:
    """What a recipe feeds the model of each row, and the most image tokens it allows."""

    recipe: str
    model: str
    field: str                   # the image (or video) field fed
    video: bool                  # frames of a video (``count`` frames)
    count: int | None            # max_images, or video_frames
    min_pixels: int
    max_pixels: int
    limit: int | None
    limit_from: str

    @classmethod
    def from_recipe(cls, loaded: Any, schema: Any) -> "ImageBudget | None":
        """The budget of a loaded recipe over a schema (a RecordSchema); None when the recipe
        feeds no image (a text-only corpus, ``images: none``)."""
        from r1data.frames import is_image_type

        r = loaded.recipe
        d = r.data
        if d.images == "none":
            return None
        video = bool(d.video_frames)
        if video:
            name = d.videos or next((f.name for f in schema.fields if f.type.semantic == "video"), None)
        else:
            name = d.images or next((f.name for f in schema.fields if f.role == "image" and is_image_type(f.type)),
                                    None)
        if name is None or name not in schema.names:
            return None
        limit, limit_from = (d.max_image_tokens, "data.max_image_tokens") if d.max_image_tokens else \
            (d.max_prompt_tokens, "data.max_prompt_tokens")
        return cls(str(loaded.file), r.model, name, video, d.video_frames if video else d.max_images,
                   d.min_pixels or DEFAULT_MIN_PIXELS, d.max_pixels or DEFAULT_MAX_PIXELS, limit,
                   limit_from if limit else "")

    def columns(self, schema: Any) -> list[str]:
        """The columns :meth:`tokens` reads."""
        f = schema.field(self.field)
        return [self.field, *(f.size or ())]

    def tokens(self, table: pa.Table, schema: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the image tokens it costs (-1 where a size is unknown) and the smallest
        scale the processor applies to its images (w_bar / width; 0 where unknown)."""
        f = schema.field(self.field)
        n = table.num_rows
        col = table.column(self.field)
        is_list = pa.types.is_list(col.type) or pa.types.is_large_list(col.type)
        if is_list:
            counts = np.asarray(pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False))
        else:
            counts = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=np.int64)
        if self.count:
            counts = np.minimum(counts, self.count) if not self.video else np.where(counts > 0, self.count, 0)
        sizes = self._sizes(table, f, is_list)
        if sizes is None:
            return np.full(n, -1, dtype=np.int64), np.zeros(n)
        w, h = sizes
        hb, wb = smart_resize_many(h, w, self.min_pixels, self.max_pixels)
        per = (hb // QWEN_FACTOR) * (wb // QWEN_FACTOR)
        tokens = np.where(hb > 0, per * counts, -1)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(hb > 0, np.minimum(wb / w, hb / h), 0.0)
        return tokens.astype(np.int64), scale

    def _sizes(self, table: pa.Table, f: Any, is_list: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """Width and height of each row's (first) image: its declared size, else its header."""
        if f.size and all(s in table.column_names for s in f.size):
            cols = [table.column(s) for s in f.size]
            if all(pa.types.is_integer(c.type) for c in cols):
                return (np.asarray(cols[0].to_numpy(zero_copy_only=False), dtype=np.float64),
                        np.asarray(cols[1].to_numpy(zero_copy_only=False), dtype=np.float64))
            # sizes per image (list<int>): the first image's, which costs like the rest
            return tuple(np.asarray([(v[0] if v else np.nan) for v in c.to_pylist()], dtype=np.float64)
                         for c in cols)  # type: ignore[return-value]
        if self.video:
            return None      # a video's size is declared, or unknown (no decoding here)
        w, h = [], []
        for value in table.column(self.field).to_pylist():
            first = (value[0] if value else None) if is_list else value
            size = stored_size(first) if first is not None else None
            w.append(size[0] if size else np.nan)
            h.append(size[1] if size else np.nan)
        return np.asarray(w, dtype=np.float64), np.asarray(h, dtype=np.float64)

    def row_tokens(self, row: dict, schema: Any) -> int | None:
        """The image tokens one row (a dict with :meth:`columns`) costs; None when its size is unknown."""
        from r1data.geometry import smart_resize

        f = schema.field(self.field)
        value = row.get(self.field)
        if value is None or value == []:
            return 0
        count = len(value) if isinstance(value, list) else 1
        if self.count:
            count = self.count if self.video else min(count, self.count)
        size = None
        if f.size:
            w, h = row.get(f.size[0]), row.get(f.size[1])
            w, h = (w[0] if w else None, h[0] if h else None) if isinstance(w, list) else (w, h)
            size = (w, h) if w and h else None
        if size is None and not self.video:
            size = stored_size(value[0] if isinstance(value, list) else value)
        if size is None:
            return None
        try:
            hb, wb = smart_resize(int(size[1]), int(size[0]), QWEN_FACTOR, self.min_pixels, self.max_pixels)
        except ValueError:     # a size the processor refuses (an aspect ratio of 200 or more)
            return None
        return (hb // QWEN_FACTOR) * (wb // QWEN_FACTOR) * count

    def describe(self) -> str:
        what = f"{self.count} frames of {self.field}" if self.video else \
            f"{self.field}" + (f" (first {self.count})" if self.count else "")
        return (f"{what} at smart_resize {self.min_pixels:,}..{self.max_pixels:,} pixels (factor {QWEN_FACTOR}), "
                f"limit {self.limit:,} image tokens ({self.limit_from})" if self.limit else "no limit")

    def over_detail(self, tokens: int) -> str:
        return (f"{tokens:,} image tokens > {self.limit:,} ({self.limit_from} of {Path(self.recipe).name}; "
                f"{self.describe().split(', limit')[0]})")

    def summary(self, table: pa.Table, schema: Any, splits: list[str], ids: list[str]) -> dict:
        """The manifest's ``image_budget`` entry over ``table`` (rows of ``splits``, ``ids``)."""
        tokens, scale = self.tokens(table, schema)
        known = tokens >= 0
        over = known & (tokens > self.limit) if self.limit else np.zeros(len(tokens), dtype=bool)
        by_split: dict[str, int] = {}
        for s, o in zip(splits, over):
            if o:
                by_split[s] = by_split.get(s, 0) + 1
        return {
            "recipe": Path(self.recipe).name, "model": self.model,
            "processor": f"Qwen2-VL smart_resize, factor {QWEN_FACTOR}",
            "images": self.describe().split(" at smart_resize")[0],
            "min_pixels": self.min_pixels, "max_pixels": self.max_pixels,
            "limit": self.limit, "limit_from": self.limit_from,
            "rows": int(len(tokens)), "over": int(over.sum()), "over_by_split": by_split,
            "over_examples": [ids[i] for i in np.flatnonzero(over)[:5]],
            "unknown_size": int((~known).sum()),
            "tokens": ({"min": int(tokens[known].min()), "mean": round(float(tokens[known].mean()), 1),
                        "max": int(tokens[known].max())} if known.any() else None),
            "processor_scale": ([round(float(scale[known].min()), 4), round(float(scale[known].max()), 4)]
                                if known.any() else None),
        }


def over_image_budget(rows: list[dict], budget: Any, schema: Any) -> tuple[list[dict], Any]:
    """The rows whose images fit the recipe's image budget (:mod:`r1data.budget`), and the others
    counted as ``image_budget`` with the tokens against the limit: checked from the sizes the
    rows declare, before any image is decoded or any model loaded."""
    from r1data.train.data import Skipped

    skipped = Skipped()
    if budget is None or not budget.limit:
        return rows, skipped
    keep = []
    for row in rows:
        tokens = budget.row_tokens(row, schema)
        if tokens is not None and tokens > budget.limit:
            skipped.add("image_budget", row.get("id"), budget.over_detail(tokens))
        else:
            keep.append(row)
    return keep, skipped


def build_budget(out: Path, splits: dict, resolved: Any) -> dict | None:
    """The ``image_budget`` manifest entry of a finished build (its recipe ``train/NAME.yaml``);
    None when the corpus has no recipe or its recipe feeds no image."""
    from r1data.errors import R1DataError
    from r1data.train.recipe import load_recipe

    try:
        loaded = load_recipe(resolved.name, resolved.assets, check_trl=False)
    except R1DataError:
        return None        # no recipe for this corpus (or a broken one: `r1data train` says so)
    if loaded.recipe.corpus != resolved.name:
        return None
    budget = ImageBudget.from_recipe(loaded, resolved.schema)
    if budget is None:
        return None
    columns = ["id", *budget.columns(resolved.schema)]
    tables, names = [], []
    for split, entry in splits.items():
        for shard in entry["shards"]:
            with pa.memory_map(str(out / shard["file"])) as src:
                t = pa.ipc.open_file(src).read_all().select(columns)
            tables.append(t)
            names.extend([split] * t.num_rows)
    if not tables:
        return None
    table = pa.concat_tables(tables)
    return budget.summary(table, resolved.schema, names, table.column("id").to_pylist())
