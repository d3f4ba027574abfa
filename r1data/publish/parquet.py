"""Arrow shards -> Parquet files in the Hub's layout: ``data/<split>-XXXXX-of-YYYYY.parquet``.

Files are cut at about ``max_shard_mb`` (the Hub's dataset viewer and ``push_to_hub`` use
500 MB); row groups are small when rows carry images or video (100 rows, as ``datasets`` writes
them) so the viewer can page through them without reading a whole file. Images stay embedded
(``{"bytes", "path"}`` structs) and the schema keeps the ``huggingface`` metadata, so
``load_dataset`` on the folder gets the declared features back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

IMAGE_ROW_GROUP = 100        # rows per row group when rows hold images or video
TEXT_ROW_GROUP = 10_000


@dataclass
class SplitFiles:
    """What was written for one split."""

    name: str
    rows: int = 0
    num_bytes: int = 0              # uncompressed Arrow bytes (the card's ``num_bytes``)
    files: list[Path] = field(default_factory=list)

    @property
    def download_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def has_media(schema: pa.Schema) -> bool:
    """Whether the ``huggingface`` features in ``schema`` hold an Image or Video anywhere."""
    meta = (schema.metadata or {}).get(b"huggingface", b"")
    return b'"Image"' in meta or b'"Video"' in meta


def write_split(name: str, batches: Iterable[pa.RecordBatch], schema: pa.Schema, data_dir: Path,
                *, max_shard_mb: float = 500.0) -> SplitFiles:
    """Write one split's batches as Parquet files under ``data_dir`` and name them ``-of-N``.

    Batches stream through: memory holds one row group, not the split. Files are written under
    temporary names and renamed once their count is known.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    row_group = IMAGE_ROW_GROUP if has_media(schema) else TEXT_ROW_GROUP
    limit = max(1, int(max_shard_mb * 1024 * 1024))
    out = SplitFiles(name)
    tmp_files: list[Path] = []
    writer: pq.ParquetWriter | None = None
    written = 0

    def open_next() -> pq.ParquetWriter:
        path = data_dir / f".{name}-{len(tmp_files):05d}.parquet.tmp"
        tmp_files.append(path)
        return pq.ParquetWriter(str(path), schema, compression="zstd", write_statistics=True)

    try:
        for batch in _rechunk(batches, row_group):
            if writer is None:
                writer, written = open_next(), 0
            writer.write_batch(batch, row_group_size=row_group)
            out.rows += batch.num_rows
            out.num_bytes += batch.nbytes
            written += batch.nbytes
            if written >= limit:
                writer.close()
                writer = None
        if writer is None and not tmp_files:   # an empty split still gets one (empty) file
            writer = open_next()
    finally:
        if writer is not None:
            writer.close()
    total = len(tmp_files)
    for i, tmp in enumerate(tmp_files):
        final = data_dir / f"{name}-{i:05d}-of-{total:05d}.parquet"
        os.replace(tmp, final)
        out.files.append(final)
    return out


def _rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Re-cut batches into ``rows``-row batches (the last one shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            head, rest = table.slice(0, rows), table.slice(rows)
            yield head.combine_chunks().to_batches()[0]
            pending = rest.to_batches() if rest.num_rows else []
            count = rest.num_rows
    if count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def ipc_batches(files: Iterable[Path]) -> Iterator[pa.RecordBatch]:
    """The record batches of Arrow IPC shard files, one at a time (memory-mapped)."""
    for f in files:
        with pa.memory_map(str(f)) as src:
            reader = pa.ipc.open_file(src)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
