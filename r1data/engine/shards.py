"""Arrow IPC shards that can be checkpointed and resumed byte for byte.

A shard is an Arrow IPC *file* (``ARROW1`` magic, the schema, one message per record
batch, a footer), readable by pyarrow, DuckDB, polars and ``datasets``. Before its footer is
written, a shard being written is a magic number followed by an IPC stream, so after a crash
it can be cut back to a checkpointed byte offset and continued: its batches are read back and
fed through a fresh writer whose first bytes are *compared* with the file instead of written
(they come out identical), and writing goes on after them. The checkpointed prefix is never
rewritten, so a resume killed at any moment leaves a folder the next resume can continue.

A shard is written under a temporary name (``.NAME-00003.arrow.tmp``) and renamed when
complete; the build's final step renames complete shards to ``NAME-00003-of-00007.arrow``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa

from r1data.errors import R1DataError

MAGIC_LEN = 8   # b"ARROW1\0\0"


@dataclass
class ShardInfo:
    file: str          # relative to the output folder
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict:
        return asdict(self)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ResumeError(R1DataError):
    """A checkpointed shard no longer holds what the checkpoint vouches for."""


class _HashingSink:
    """A file object for pyarrow that hashes and counts what goes through it.

    The first ``verify`` bytes are not written but compared with ``existing`` (the shard's
    checkpointed prefix, already on disk): resuming never touches what a checkpoint vouches for.
    """

    def __init__(self, f, existing: memoryview | None = None):  # type: ignore[no-untyped-def]
        self.f = f
        self.hash = hashlib.sha256()
        self.bytes = 0
        self.closed = False
        self.existing = existing
        self.verify = len(existing) if existing is not None else 0

    def write(self, data) -> int:  # type: ignore[no-untyped-def]
        view = memoryview(data).cast("B")
        n = len(view)
        if self.bytes < self.verify:
            k = min(n, self.verify - self.bytes)
            assert self.existing is not None
            if self.existing[self.bytes:self.bytes + k] != view[:k]:
                raise ResumeError(f"{getattr(self.f, 'name', 'a shard')}: its checkpointed bytes differ from "
                                  f"the rows they should hold (at byte {self.bytes:,})")
            if k < n:
                self.f.write(view[k:])
        else:
            self.f.write(view)
        self.hash.update(view)
        self.bytes += n
        return self.bytes

    def tell(self) -> int:
        return self.bytes

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:
        self.closed = True


class ShardFile:
    """One shard being written; ``resume_bytes`` continues a checkpointed one after that offset."""

    def __init__(self, path: Path, schema: pa.Schema, resume_bytes: int | None = None,
                 resume_rows: int = 0):
        self.path = path
        self.rows = 0
        if resume_bytes is None:
            self.f = open(path, "wb")
            self.sink = _HashingSink(self.f)
            self.writer = pa.ipc.new_file(pa.PythonFile(self.sink, mode="w"), schema)
            return
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ResumeError(f"{path}: the shard being written at the checkpoint is missing; the folder was "
                              "changed outside r1data: pass --overwrite to start over") from None
        if size < resume_bytes:
            raise ResumeError(f"{path}: {size:,} bytes, shorter than its checkpoint ({resume_bytes:,} bytes); "
                              "the folder was changed outside r1data: pass --overwrite to start over")
        # cut what was written after the checkpoint (never the checkpointed prefix), then read
        # the prefix back through a memory map and replay it without writing it again
        self.f = open(path, "r+b")
        self.f.truncate(resume_bytes)
        self.f.seek(resume_bytes)
        mm = pa.memory_map(str(path), "r")
        try:
            prefix = mm.read_buffer(resume_bytes)
            try:
                kept = list(pa.ipc.open_stream(prefix.slice(MAGIC_LEN)))
            except (pa.ArrowInvalid, OSError) as e:
                raise ResumeError(f"{path}: its checkpointed part is not readable Arrow ({e}); pass "
                                  "--overwrite to start over") from None
            self.sink = _HashingSink(self.f, memoryview(prefix).cast("B"))
            self.writer = pa.ipc.new_file(pa.PythonFile(self.sink, mode="w"), schema)
            for batch in kept:
                self.write(batch)
            if (self.bytes, self.rows) != (resume_bytes, resume_rows):
                raise ResumeError(f"{path}: replaying its checkpointed part gave {self.bytes} bytes and "
                                  f"{self.rows} rows, the checkpoint says {resume_bytes} and {resume_rows}")
            self.sink.existing = None      # done comparing: drop the view of the map
            del kept, prefix
        finally:
            mm.close()

    @property
    def bytes(self) -> int:
        return self.sink.bytes

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def sync(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self) -> str:
        self.writer.close()
        self.sync()
        self.f.close()
        return self.sink.hash.hexdigest()

    def discard(self) -> None:
        self.f.close()
        self.path.unlink(missing_ok=True)


class ShardSeries:
    """The rolling shards of one split (or of the rejects table).

    ``prefix`` is e.g. ``data/train``: shards are ``data/train-00000.arrow`` and so on.
    """

    def __init__(self, root: Path, prefix: str, schema: pa.Schema, target_bytes: int,
                 state: dict | None = None):
        self.root = root
        self.prefix = prefix
        self.schema = schema
        self.target_bytes = target_bytes
        self.closed: list[ShardInfo] = []
        self.open: ShardFile | None = None
        self.rolled = False
        (root / prefix).parent.mkdir(parents=True, exist_ok=True)
        if state:
            self.closed = [ShardInfo(**s) for s in state.get("closed", [])]
            o = state.get("open")
            if o:
                tmp = self.tmp_path(o["index"])
                if not tmp.exists():
                    done = self.done_path(o["index"])
                    if done.exists():  # completed and renamed after the checkpoint
                        done.rename(tmp)
                self.open = ShardFile(tmp, schema, resume_bytes=o["bytes"], resume_rows=o["rows"])
            self._remove_strays()

    # names
    def tmp_path(self, index: int) -> Path:
        p = self.root / self.prefix
        return p.parent / f".{p.name}-{index:05d}.arrow.tmp"

    def done_path(self, index: int) -> Path:
        p = self.root / self.prefix
        return p.parent / f"{p.name}-{index:05d}.arrow"

    @property
    def next_index(self) -> int:
        return len(self.closed)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.closed) + (self.open.rows if self.open else 0)

    def _remove_strays(self) -> None:
        """Shards past the checkpoint (written after it, before a crash) are dropped."""
        keep = {self.root / s.file for s in self.closed}
        if self.open:
            keep.add(self.open.path)
        p = self.root / self.prefix
        for path in p.parent.glob(f"{p.name}-*.arrow"):
            if path not in keep and "-of-" not in path.name:
                path.unlink()
        for path in p.parent.glob(f".{p.name}-*.arrow.tmp"):
            if path not in keep:
                path.unlink()

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self.open is None:
            self.open = ShardFile(self.tmp_path(self.next_index), self.schema)
        self.open.write(batch)
        if self.open.bytes >= self.target_bytes:
            self._close_open()

    def _close_open(self) -> None:
        assert self.open is not None
        index = self.next_index
        digest = self.open.close()
        done = self.done_path(index)
        os.replace(self.open.path, done)
        self.closed.append(ShardInfo(str(done.relative_to(self.root)), self.open.rows,
                                     self.open.bytes, digest))
        self.open = None
        self.rolled = True

    def checkpoint(self) -> dict:
        """Make everything written durable; return what a resume needs."""
        state: dict = {"closed": [s.to_dict() for s in self.closed], "open": None}
        if self.open is not None:
            self.open.sync()
            state["open"] = {"index": self.next_index, "rows": self.open.rows, "bytes": self.open.bytes}
        self.rolled = False
        return state

    def close_all(self, always_one: bool = False) -> None:
        """Close the shard being written (dropped if empty, unless the series needs one)."""
        if self.open is not None:
            if self.open.rows == 0 and not always_one:
                self.open.discard()
                self.open = None
            else:
                self._close_open()
        if always_one and not self.closed:
            self.open = ShardFile(self.tmp_path(0), self.schema)
            self._close_open()

    def final_names(self) -> list[ShardInfo]:
        """Rename complete shards to ``NAME-00003-of-00007.arrow``; safe to repeat after a crash."""
        assert self.open is None
        total = len(self.closed)
        final = []
        p = self.root / self.prefix
        for i, info in enumerate(self.closed):
            src = self.root / info.file
            dst = p.parent / f"{p.name}-{i:05d}-of-{total:05d}.arrow"
            if src.exists():
                os.replace(src, dst)
            elif not dst.exists():
                raise ResumeError(f"shard {info.file} is missing; the folder was changed outside r1data: "
                                  "pass --overwrite to start over")
            final.append(ShardInfo(str(dst.relative_to(self.root)), info.rows, info.bytes, info.sha256))
        if p.parent.exists():
            fsync_dir(p.parent)
        return final
