"""Speed of `r1data report` on a 10,000-row build, against reading the same rows with pyarrow.

    python scripts/bench_report.py [--corpus vqa_verify] [--rows 10000] [--base 200] [--samples 24] [--repeat 3]

A ``--base``-row build of ``--corpus`` is made once (real rows: images, boxes, text), then
tiled into a build of ``--rows`` rows (new ids, the same shards' layout and manifest), so the
benchmark does not wait on a 10,000-row generation. Then, in this process:

* baseline: pyarrow reads every shard of the build into memory (``pa.ipc.open_file(...)
  .read_all()`` on an ordinary file: every byte, images included);
* report: ``build_report`` (figures over every row, ``--samples`` rows drawn per split with their
  images inlined, the rejects), written to a file.

Prints both times (best of ``--repeat``, wall and CPU) and the report's as a multiple of the baseline's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc


def make_base(corpus: str, size: int, folder: Path) -> Path:
    from r1data.cli import main

    out = folder / f"{corpus}-base"
    code = main(["build", corpus, "--size", str(size), "-o", str(out), "--no-progress"])
    if code != 0:
        raise SystemExit(f"building {corpus} failed ({code})")
    return out


def tile(base: Path, rows: int, folder: Path) -> Path:
    """A copy of the build ``base`` with ``rows`` rows: its rows repeated with new ids."""
    manifest = json.loads((base / "manifest.json").read_text())
    out = folder / f"{manifest['corpus']}-{rows}"
    shutil.rmtree(out, ignore_errors=True)
    (out / "data").mkdir(parents=True)
    shutil.copytree(base / "rejects", out / "rejects")
    for extra in ("videos", "frames"):          # files the rows point at (longvideo)
        if (base / extra).exists():
            shutil.copytree(base / extra, out / extra)
    total = sum(s["rows"] for s in manifest["splits"].values())
    for split, entry in manifest["splits"].items():
        table = pa.concat_tables([pa.ipc.open_file(pa.memory_map(str(base / s["file"]))).read_all()
                                  for s in entry["shards"]])
        want = max(1, round(rows * entry["rows"] / total))
        parts, n, k = [], 0, 0
        while n < want:
            part = table.slice(0, min(table.num_rows, want - n))
            ids = pc.binary_join_element_wise(part.column("id"), pa.scalar(f"~{k}"), "")
            parts.append(part.set_column(part.schema.get_field_index("id"), "id", ids))
            n += part.num_rows
            k += 1
        big = pa.concat_tables(parts)
        name = f"data/{split}-00000-of-00001.arrow"
        with pa.OSFile(str(out / name), "wb") as sink, pa.ipc.new_file(sink, big.schema) as writer:
            writer.write_table(big, max_chunksize=1000)
        entry["rows"] = big.num_rows
        entry["shards"] = [{"file": name, "rows": big.num_rows, "bytes": (out / name).stat().st_size, "sha256": ""}]
    manifest["rows"] = sum(s["rows"] for s in manifest["splits"].values())
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def read_with_pyarrow(build: Path) -> int:
    manifest = json.loads((build / "manifest.json").read_text())
    n = 0
    for entry in manifest["splits"].values():
        for s in entry["shards"]:
            with pa.OSFile(str(build / s["file"])) as f:
                n += pa.ipc.open_file(f).read_all().num_rows
    return n


def best(fn, repeat: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """Best wall time, best CPU time (this process, all threads) and the result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="vqa_verify")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--base", type=int, default=200, help="rows actually built, then tiled to --rows")
    ap.add_argument("--samples", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from r1data.report.page import build_report

    with tempfile.TemporaryDirectory(prefix="bench_report-") as tmp:
        folder = Path(tmp)
        base = make_base(args.corpus, args.base, folder)
        build = tile(base, args.rows, folder)
        mb = sum(p.stat().st_size for p in (build / "data").glob("*.arrow")) / 1e6
        read_s, read_cpu, n = best(lambda: read_with_pyarrow(build), args.repeat)
        html = folder / "report.html"
        report_s, report_cpu, result = best(lambda: build_report(build, html, samples=args.samples), args.repeat)
        print(f"{args.corpus}: {n:,} rows, {mb:,.0f} MB of shards")
        print(f"pyarrow read of every shard:  {read_s:.3f} s wall, {read_cpu:.3f} s CPU")
        print(f"r1data report ({args.samples} rows drawn per split, figures over all rows): {report_s:.3f} s wall, "
              f"{report_cpu:.3f} s CPU ({result.bytes / 1e6:.1f} MB page, {result.cards} rows drawn)")  # type: ignore[attr-defined]
        print(f"ratio report / read: {report_s / read_s:.1f}x wall, {report_cpu / max(read_cpu, 1e-9):.1f}x CPU")


if __name__ == "__main__":
    main()
