"""``built_corpus``: a finished build as the source of another spec.

    sources:
      built: {reader: built_corpus, dir: out/longvideo}          # every split, in order
      hard_test: {reader: built_corpus, dir: out/vqa_verify, split: test, limit: 500}

A spec can then filter, re-annotate or roll out (the ``rollout`` step) an existing corpus
without rebuilding it. Rows come in the build's order (its splits in manifest order: train,
validation, test), with every column the build has, each keeping its split (so the new build
writes it to the same split unless a ``split`` step reassigns it). Reading from position ``start``
skips whole shards and record batches, so a resumed build does not re-read what it has done.

A relative path in a ``video`` field (rendered videos live under the build folder) is made
absolute against ``dir``: the new build's rows point at the old build's files, which stay
where they are (not copied).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from r1data.errors import UsageError
from r1data.steps.base import Source, StepContext, source


@source("built_corpus")
class BuiltCorpus(Source):
    """The rows of the finished build in ``dir`` (every split, or one), in order; see the module docstring."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, split: str | None = None, limit: int | None = None):
        from r1data.corpus import Corpus

        self.ctx = ctx
        self.dir = Path(dir)
        self.corpus = Corpus(self.dir)          # a one-line error for a folder that is not a finished build
        splits = self.corpus.splits
        if split is not None and split not in splits:
            raise UsageError(f"source built_corpus: {self.dir} has no split {split!r} (splits: {', '.join(splits)})")
        if limit is not None and limit <= 0:
            raise UsageError(f"source built_corpus: limit must be positive, got {limit}")
        self.splits = [split] if split else splits
        self.limit = limit
        fields = self.corpus.manifest.get("schema", {}).get("fields", {})
        self.video_fields = [name for name, f in fields.items() if f.get("type") == "video"]
        # (split, shard file, rows) in reading order
        self.shards = [(name, self.dir / s["file"], int(s["rows"]))
                       for name in self.splits for s in self.corpus.manifest["splits"][name]["shards"]]

    def __len__(self) -> int:
        total = sum(rows for _, _, rows in self.shards)
        return total if self.limit is None else min(total, self.limit)

    def read(self, start: int = 0) -> Iterator[dict]:
        import pyarrow as pa

        end = len(self)
        pos = 0
        root = self.dir.resolve()
        for split, path, rows in self.shards:
            if pos + rows <= start:              # a whole shard before the resume point
                pos += rows
                continue
            with pa.memory_map(str(path)) as src:
                reader = pa.ipc.open_file(src)
                for b in range(reader.num_record_batches):
                    if pos >= end:
                        return
                    batch = reader.get_batch(b)
                    if pos + batch.num_rows <= start:
                        pos += batch.num_rows
                        continue
                    skip = max(0, start - pos)
                    for row in batch.slice(skip, min(batch.num_rows - skip, end - pos - skip)).to_pylist():
                        for name in self.video_fields:
                            value = row.get(name)
                            if value and not Path(value).is_absolute():
                                row[name] = str(root / value)
                        row["split"] = split
                        yield row
                    pos += batch.num_rows
            if pos >= end:
                return
