"""``dedup``: drop rows whose key fields equal an earlier row's."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from r1data.parsing import normalize_answer
from r1data.steps.base import Reject, StepContext, step


@step("dedup", stateful=True)
class Dedup:
    """Exact dedup on ``key`` fields (text normalised when ``normalize``), first one wins.

    A binary key field (an image's bytes, or an image struct ``{bytes, path}``) counts by its
    content: two different files of the same name are two images, one file under two names
    is one. Readers of real data set ``image_id`` to the image's path relative to the source
    folder (or the dataset's own image id), never to the bare file stem.

    State is a set of 64-bit hashes; at each checkpoint the new hashes are appended to a file
    so that a resumed build rejects exactly what an uninterrupted one would.
    """

    def __init__(self, ctx: StepContext, *, key: list[str], normalize: bool = True):
        self.key = list(key)
        self.normalize = normalize
        self.seen: set[int] = set()
        self.unsaved: list[int] = []

    @staticmethod
    def summarize(stats: dict, counters: dict) -> dict:
        """For the manifest: how many rows were duplicates, and their share of the rows seen."""
        seen = stats.get("in", 0)
        return {"duplicates": stats.get("rejected", 0),
                "duplicate_rate": round(stats.get("rejected", 0) / seen, 6) if seen else None}

    def key_hash(self, row: dict) -> int:
        values = [_content(row.get(k)) for k in self.key]
        if self.normalize:
            values = [normalize_answer(v) if isinstance(v, str) else v for v in values]
        digest = hashlib.blake2b(json.dumps(values, sort_keys=True, default=str).encode(),
                                 digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        for row in rows:
            h = self.key_hash(row)
            if h in self.seen:
                yield Reject(row, "duplicate", "same " + ", ".join(self.key) + " as an earlier row")
                continue
            self.seen.add(h)
            self.unsaved.append(h)
            yield row

    # -- checkpoint state: an append-only file of uint64 hashes -----------------------------
    def save_state(self, folder: Path) -> dict:
        path = folder / "dedup.u64"
        if self.unsaved:
            with open(path, "ab") as f:
                f.write(np.asarray(self.unsaved, dtype=np.uint64).tobytes())
                f.flush()
                os.fsync(f.fileno())
            self.unsaved = []
        return {"count": len(self.seen)}

    def load_state(self, folder: Path, info: dict) -> None:
        path = folder / "dedup.u64"
        count = int(info.get("count", 0))
        data = np.fromfile(path, dtype=np.uint64, count=count) if count else np.zeros(0, np.uint64)
        if len(data) != count:
            raise RuntimeError(f"{path}: dedup state holds {len(data)} keys, checkpoint says {count}")
        with open(path, "ab") as f:  # drop keys written after the checkpoint
            f.truncate(count * 8)
        self.seen = set(int(x) for x in data)
        self.unsaved = []


def _content(value: object) -> object:
    """Bytes (and image structs holding bytes) as a digest of their content, for the key."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"sha256": hashlib.sha256(value).hexdigest()}
    if isinstance(value, dict) and isinstance(value.get("bytes"), (bytes, bytearray)):
        return {"sha256": hashlib.sha256(value["bytes"]).hexdigest()}
    return value
