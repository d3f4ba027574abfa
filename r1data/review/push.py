"""``r1data review push``: choose rows, turn them into tasks with pre-annotations, import the new ones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from r1data.corpus import Corpus
from r1data.errors import UsageError
from r1data.review.convert import image_bytes, image_size, prediction_result
from r1data.review.layout import ID_KEY, ReviewLayout, context_key, derive_layout, schema_from_manifest
from r1data.review.media import Media
from r1data.review.spans import DEFAULT_FPS, FPS_KEY, probe_fps


def corpus_layout(corpus: Corpus) -> ReviewLayout:
    """The review layout of a build: its schema, with as many views as its longest image list."""
    schema = schema_from_manifest(corpus.manifest)
    views: dict[str, int] = {}
    for f in schema.fields:
        t = f.type
        if t.kind == "list" and t.item is not None and t.item.kind == "image" and t.item.semantic != "mask":
            longest = 0
            for split in corpus.splits:
                lengths = pc.list_value_length(corpus.table(split, [f.name]).column(0))
                longest = max(longest, int(pc.max(lengths).as_py() or 0))
            views[f.name] = longest
    try:
        return derive_layout(schema, views)
    except ValueError as e:
        raise UsageError(f"{corpus.path}: {e}") from None


def select_rows(corpus: Corpus, *, sample: int | None, where: str | None, split: str | None,
                seed: int = 0) -> pa.Table:
    """The rows to review, with a ``split`` column.

    ``where`` is DuckDB SQL over the view ``data``; ``sample`` keeps N rows chosen by a hash of
    ``seed`` and the row id, so the same command picks the same rows and a bigger N adds to them.
    """
    import duckdb

    conditions = []
    if where:
        conditions.append(f"({where})")
    if split:
        if split not in corpus.splits:
            raise UsageError(f"{corpus.path} has no split {split!r} (splits: {', '.join(corpus.splits)})")
        conditions.append(f"split = '{split}'")
    sql = "SELECT id, split FROM data" + (" WHERE " + " AND ".join(conditions) if conditions else "")
    try:
        picked = corpus.duckdb().execute(sql).fetchall()
    except duckdb.Error as e:
        raise UsageError(f"--where: {str(e).splitlines()[0]}") from None
    if sample is not None:
        picked.sort(key=lambda r: hashlib.sha256(f"{seed}:{r[0]}".encode()).digest())
        picked = picked[:sample]
    by_split: dict[str, list[str]] = {}
    for rid, sp in picked:
        by_split.setdefault(sp, []).append(rid)
    parts = []
    for sp, ids in by_split.items():
        t = corpus.table(sp)
        t = t.filter(pc.is_in(t.column("id"), pa.array(ids, pa.string())))
        parts.append(t.append_column("split", pa.array([sp] * t.num_rows, pa.string())))
    return pa.concat_tables(parts) if parts else pa.table({"id": pa.array([], pa.string())})


@dataclass
class TaskBuilder:
    layout: ReviewLayout
    media: Media
    model_version: str

    def task(self, row: dict[str, Any]) -> dict:
        data: dict[str, Any] = {ID_KEY: row["id"], "r1data_split": row.get("split")}
        for m in self.layout.media:
            value = row.get(m.field)
            if m.index is not None:
                value = value[m.index] if value and m.index < len(value) else None
            if value is None:
                data[m.key] = ""
            elif m.tag == "Video":
                data[m.key] = self.media.video_url(str(value))
            else:
                data[m.key] = self.media.image_url(image_bytes(value) or b"")
        for name in self.layout.context:
            value = row.get(name)
            data[context_key(name)] = ("" if value is None else
                          "\n".join(str(v) for v in value) if isinstance(value, list) else str(value))
        fps = None
        if self.layout.video:
            fps = self.frame_rate(row)
            data[FPS_KEY] = fps
        size = self.image_size(row)
        result = prediction_result(row, self.layout, size, fps)
        return {"data": data, "predictions": [{"model_version": self.model_version, "result": result}]}

    def frame_rate(self, row: dict[str, Any]) -> float:
        """Frames per second of the row's video: its frame-rate field, else the file's (ffprobe),
        else Label Studio's default. Label Studio is told this rate, so spans convert the same
        way both directions."""
        if self.layout.fps_field and row.get(self.layout.fps_field):
            return round(float(row[self.layout.fps_field]), 4)
        m = next(m for m in self.layout.media if m.key == self.layout.video)
        value = row.get(m.field)
        if value and not str(value).startswith(("http://", "https://", "s3://", "gs://")):
            path = self.media.corpus_dir / str(value) if self.media is not None else None
            fps = probe_fps(str(path)) if path is not None and path.exists() else None
            if fps:
                return round(fps, 4)
        return DEFAULT_FPS

    def image_size(self, row: dict[str, Any]) -> tuple[int, int] | None:
        """Size of the image geometry is drawn on (``None`` when there is no geometry)."""
        if not self.layout.geometry:
            return None
        m = next(m for m in self.layout.media if m.key == self.layout.draw_on)
        value = row.get(m.field)
        if m.index is not None:
            value = value[m.index] if value and m.index < len(value) else None
        data = image_bytes(value)
        return image_size(data) if data else None
