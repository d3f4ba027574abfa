"""Throughput of the Ray executor against the local one, on the same corpus, in one process.

    python scripts/bench_ray.py                       # scene30k, 20,000 rows (about a minute locally)
    python scripts/bench_ray.py --corpus xiangqi --size 2000

Prints rows/s for: local (1 process), Ray with 1 worker, Ray with 2 workers, and the ratios
Ray-1 / local (the cost of going through Ray) and Ray-2 / Ray-1 (scaling). Each Ray run starts
and stops its own local cluster; that start-up (several seconds) is counted, as a user pays it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from r1data.engine.runner import build


def timed(corpus: str, size: int, out: Path, **kwargs: object) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    result = build(corpus, out, size=size, progress=False, **kwargs)  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    rows = result.manifest["rows"]
    return rows / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="scene30k")
    ap.add_argument("--size", type=int, default=20_000)
    a = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        local = timed(a.corpus, a.size, base / "local")
        ray1 = timed(a.corpus, a.size, base / "ray1", workers=1, options={"executor": "ray"})
        ray2 = timed(a.corpus, a.size, base / "ray2", workers=2, options={"executor": "ray"})
    print(f"{a.corpus} {a.size:,} rows on {os.cpu_count()} CPUs")
    print(f"  local, 1 process : {local:8.1f} rows/s")
    print(f"  ray, 1 worker    : {ray1:8.1f} rows/s   ratio to local {ray1 / local:.2f}")
    print(f"  ray, 2 workers   : {ray2:8.1f} rows/s   scaling 2/1 workers {ray2 / ray1:.2f}")


if __name__ == "__main__":
    main()
