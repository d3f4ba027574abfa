#!/usr/bin/env python
"""Engine throughput against plain pyarrow, in the same process.

Both sides generate the same synthetic rows (the built-in ``synthetic`` source) in the same
batches; the baseline converts each batch with ``RecordBatch.from_pylist`` and writes an
Arrow IPC file, the engine runs ``r1data.build`` with one no-op step (shards, checksums,
rejects table, checkpoints, manifest). Runs alternate and the median of each is compared.
Both sides are single-threaded in this process, so CPU time is the figure that other load
on the machine does not move; wall time is printed too.

    python scripts/bench_engine.py [--rows 200000] [--repeats 5]

Target: the engine reaches at least 0.8 of plain pyarrow's rows/s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import yaml

from r1data import build
from r1data.schema import RecordSchema, load_schema
from r1data.steps.base import StepContext
from r1data.steps.synthetic import Synthetic

SCHEMA = {"name": "bench", "fields": {"id": "string", "text": "string", "value": "float32", "label": "int32",
                                      "tags": "list<string>"}}


def workspace(root: Path, rows: int, batch: int) -> Path:
    (root / "pipelines").mkdir(parents=True)
    (root / "schemas").mkdir()
    (root / "schemas" / "bench.yaml").write_text(yaml.safe_dump(SCHEMA))
    spec = {"name": "bench", "schema": "bench", "seed": 0, "size": rows, "source": "syn",
            "sources": {"syn": {"reader": "synthetic"}}, "output": {"batch_size": batch},
            "steps": [{"step": "passthrough"}]}
    (root / "pipelines" / "bench.yaml").write_text(yaml.safe_dump(spec))
    return root


def plain_pyarrow(schema: RecordSchema, rows: int, batch: int, out: Path) -> tuple[float, float]:
    arrow_schema = schema.arrow_schema()
    source = Synthetic(StepContext(seed=0, corpus="bench", step="source"))
    t0, c0 = time.perf_counter(), time.process_time()
    with pa.OSFile(str(out), "wb") as sink, pa.ipc.new_file(sink, arrow_schema) as writer:
        buf: list[dict] = []
        for i, row in enumerate(source.read(0)):
            if i >= rows:
                break
            buf.append(row)
            if len(buf) == batch:
                writer.write_batch(pa.RecordBatch.from_pylist(buf, schema=arrow_schema))
                buf = []
        if buf:
            writer.write_batch(pa.RecordBatch.from_pylist(buf, schema=arrow_schema))
    return rows / (time.perf_counter() - t0), rows / (time.process_time() - c0)


def engine(ws: Path, rows: int, out: Path) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    result = build("bench", out, workspace=ws, progress=False, overwrite=True)
    assert result.manifest["rows"] == rows
    return rows / (time.perf_counter() - t0), rows / (time.process_time() - c0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = workspace(root / "ws", args.rows, args.batch)
        schema = load_schema(ws / "schemas" / "bench.yaml")
        base, eng = [], []
        engine(ws, args.rows, root / "warm")   # imports, first-touch costs
        for _ in range(args.repeats):
            base.append(plain_pyarrow(schema, args.rows, args.batch, root / "plain.arrow"))
            eng.append(engine(ws, args.rows, root / "out"))
    print(f"rows: {args.rows:,} in batches of {args.batch}, {args.repeats} alternating runs, medians")
    for k, label in ((1, "CPU time"), (0, "wall time")):
        b = statistics.median(x[k] for x in base)
        e = statistics.median(x[k] for x in eng)
        print(f"{label:>9}: plain pyarrow {b:>9,.0f} rows/s   r1data engine {e:>9,.0f} rows/s   "
              f"ratio {e / b:.2f}{'  (target >= 0.80)' if k == 1 else ''}")


if __name__ == "__main__":
    main()
