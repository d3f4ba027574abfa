"""The end of a build's pipeline: rows into split shards, rejects into the rejects table.

Rows are typed against the schema here (a value of the wrong type is a ``write/schema``
reject), cut at the size asked for (the rest is counted as ``rows_beyond_size``), and sent to
``data/SPLIT-*.arrow`` by their ``split`` field; a split that is not a plain name is a
``write/invalid_split`` reject (it would be part of a file name). Rejected records of every
step go to ``rejects/rejects-*.arrow`` with their step, reason, detail and a JSON view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from r1data.engine.pipeline import record_json, utf8_safe
from r1data.engine.shards import ShardInfo, ShardSeries
from r1data.schema import RecordSchema
from r1data.spec import NAME_RE
from r1data.steps.base import Reject, Stats

REJECTS_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("step", pa.string()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("source_index", pa.int64()),
    ("record", pa.string()),
])


class Writer:
    """The shards of one build; ``state`` (from :meth:`checkpoint`) continues a resumed one."""

    def __init__(self, out: Path, schema: RecordSchema, target_bytes: int, size: int | None, stats: Stats,
                 state: dict | None = None):
        self.out = out
        self.record_schema = schema
        self.schema = schema.arrow_schema()
        self.target_bytes = target_bytes
        self.size = size
        self.stats = stats
        state = state or {}
        self.kept: int = int(state.get("kept", 0))
        self.series = {split: ShardSeries(out, f"data/{split}", self.schema, target_bytes, s)
                       for split, s in (state.get("series") or {}).items() if NAME_RE.fullmatch(split)}
        self.rejects = ShardSeries(out, "rejects/rejects", REJECTS_SCHEMA, target_bytes, state.get("rejects"))

    @property
    def rolled(self) -> bool:
        """Whether a shard was completed since the last checkpoint."""
        return any(s.rolled for s in self.series.values()) or self.rejects.rolled

    def write(self, rows: list[dict], rejects: list[tuple[str, Reject]]) -> None:
        """Write one batch: the rows that survive typing and the size, and every reject."""
        if rows:
            rows = self._drop_bad_splits(rows, rejects)
        if rows:
            batch, bad = self.record_schema.to_batch(rows)
            if bad:
                bad_idx = {i for i, _ in bad}
                for i, reason in bad:
                    rejects.append(("write", Reject(rows[i], "schema", reason)))
                    self.stats.reject("write", "schema")
                rows = [row for i, row in enumerate(rows) if i not in bad_idx]
            if self.size is not None and self.kept + len(rows) > self.size:
                keep = self.size - self.kept
                self.stats.count("rows_beyond_size", len(rows) - keep)
                rows = rows[:keep]
                batch = batch.slice(0, keep)
            splits = [row.get("split") or "train" for row in rows]
            names = set(splits)
            for name in sorted(names, key=splits.index) if len(names) > 1 else names:
                if name not in self.series:
                    self.series[name] = ShardSeries(self.out, f"data/{name}", self.schema, self.target_bytes)
                if len(names) == 1:
                    part = batch
                else:
                    part = batch.take(pa.array([i for i, s in enumerate(splits) if s == name], pa.int64()))
                self.series[name].write(part)
            self.kept += len(rows)
        if rejects:
            for step, rj in rejects:
                if step == "source":      # the steps counted theirs; the source's are counted here
                    self.stats.reject(step, rj.reason)
            self.rejects.write(pa.RecordBatch.from_pylist([
                {"id": utf8_safe(str(rj.row.get("id"))) if rj.row.get("id") is not None else None,
                 "step": utf8_safe(step), "reason": utf8_safe(str(rj.reason)), "detail": utf8_safe(str(rj.detail)),
                 "source_index": _int_or_none(rj.row.get("_source_index")), "record": record_json(rj.row)}
                for step, rj in rejects], schema=REJECTS_SCHEMA))

    def _drop_bad_splits(self, rows: list[dict], rejects: list[tuple[str, Reject]]) -> list[dict]:
        """A split name is part of a file name: anything but a plain name is a reject."""
        names = {row.get("split") for row in rows}
        if all(n is None or n == "" or (isinstance(n, str) and n in self.series) for n in names):
            return rows          # the usual case: splits already written, checked when first seen
        good = []
        for row in rows:
            split = row.get("split")
            if split is None or split == "" or (isinstance(split, str) and NAME_RE.fullmatch(split)):
                good.append(row)
            else:
                rejects.append(("write", Reject(row, "invalid_split", f"split {split!r} is not a plain name "
                                                "(letters, digits, '_' and '-')")))
                self.stats.reject("write", "invalid_split")
        return good

    def checkpoint(self) -> dict[str, Any]:
        """Make everything written durable; what a resume needs (``kept``, ``series``, ``rejects``)."""
        return {"kept": self.kept, "series": {name: s.checkpoint() for name, s in self.series.items()},
                "rejects": self.rejects.checkpoint()}

    def close(self) -> None:
        """Close the open shards (the rejects table always has one, maybe empty)."""
        for s in self.series.values():
            s.close_all()
        self.rejects.close_all(always_one=True)

    def final_names(self) -> tuple[dict[str, dict], list[ShardInfo]]:
        """Give closed shards their final names; the manifest's ``splits`` and rejects shards."""
        splits = {}
        for name in sorted(self.series, key=_split_order):
            shards = self.series[name].final_names()
            if shards:
                splits[name] = {"rows": sum(s.rows for s in shards), "shards": [s.to_dict() for s in shards]}
        return splits, self.rejects.final_names()


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _split_order(name: str) -> tuple[int, str]:
    order = {"train": 0, "validation": 1, "test": 2}
    return order.get(name, 3), name
