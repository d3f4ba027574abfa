"""Speed of the image corpora: build rate, worker scaling and the mask IoU reward.

    python scripts/bench_images.py [--size N] [--corpora vqa_verify earthreason embodied_points]
                                   [--pairs 1000] [--mask-size 1024] [--chunk 100]

1. ``r1data build CORPUS`` with ``--workers 1`` and ``--workers 2`` (the offline default,
   ``--size`` rows, default: the spec's size), each in a fresh subprocess: rows/s as the
   build reports it, wall seconds, and the scaling ratio (rows/s with 2 workers over 1).
   A corpus whose spec is missing or whose build fails is reported as skipped, with why.
2. The mask IoU of the ``segearth.iou`` reward (``r1data.geometry.mask_iou_batch``) on
   ``--pairs`` pairs of ``--mask-size``^2 masks, against a plain numpy loop computing
   ``(p & g).sum() / (p | g).sum()`` per pair: the speed-up ratio. Masks are made and scored
   ``--chunk`` pairs at a time so memory stays flat (1,000 pairs of 1024^2 would be 2 GB).

Not a test: prints figures, asserts nothing. Image decode/encode dominates the builds.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RATE = re.compile(r"rows kept in ([\d.]+) s \(([\d,.]+) rows/s\)")


def build_rate(corpus: str, size: int | None, workers: int) -> tuple[float, float, float] | str:
    """(rows/s reported, engine seconds, wall seconds) or why it could not run."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "r1data", "build", corpus, "-o", str(Path(tmp) / "out"),
               "--workers", str(workers), "--no-progress"]
        if size:
            cmd += ["--size", str(size)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    m = RATE.search(proc.stdout)
    if proc.returncode != 0 or not m:
        last = (proc.stderr or proc.stdout).strip().splitlines()
        return f"build failed (exit {proc.returncode}): {last[-1] if last else 'no output'}"
    return float(m.group(2).replace(",", "")), float(m.group(1)), wall


def bench_builds(corpora: list[str], size: int | None) -> None:
    print(f"1. build rate, offline default, {'spec size' if not size else f'{size:,} rows'}")
    print(f"   {'corpus':<16} {'rows/s w=1':>11} {'rows/s w=2':>11} {'wall w=1':>9} {'wall w=2':>9} {'scaling':>8}")
    for corpus in corpora:
        if not (REPO / "pipelines" / f"{corpus}.yaml").is_file():
            print(f"   {corpus:<16} skipped: no pipelines/{corpus}.yaml")
            continue
        one = build_rate(corpus, size, 1)
        if isinstance(one, str):
            print(f"   {corpus:<16} skipped: {one}")
            continue
        two = build_rate(corpus, size, 2)
        if isinstance(two, str):
            print(f"   {corpus:<16} {one[0]:>11.1f}  workers 2 skipped: {two}")
            continue
        print(f"   {corpus:<16} {one[0]:>11.1f} {two[0]:>11.1f} {one[2]:>8.1f}s {two[2]:>8.1f}s "
              f"{two[0] / one[0]:>7.2f}x")


def _mask_pairs(rng: np.random.Generator, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Blob-like masks (rectangles unioned) and a shifted, partly different prediction each."""
    gt = np.zeros((n, size, size), dtype=bool)
    for i in range(n):
        for _ in range(3):
            x, y = rng.integers(0, size * 3 // 4, size=2)
            w, h = rng.integers(size // 16, size // 4, size=2)
            gt[i, y:y + h, x:x + w] = True
    pred = np.roll(gt, int(rng.integers(1, size // 32)), axis=2)
    pred[:, : size // 8] ^= True
    return pred, gt


def bench_mask_iou(pairs: int, size: int, chunk: int) -> None:
    from r1data.geometry import mask_iou_batch

    rng = np.random.default_rng(0)
    t_batch = t_loop = 0.0
    done = 0
    while done < pairs:
        n = min(chunk, pairs - done)
        pred, gt = _mask_pairs(rng, n, size)
        t0 = time.perf_counter()
        iou, _, _ = mask_iou_batch(pred, gt, empty=1.0)
        t_batch += time.perf_counter() - t0
        t0 = time.perf_counter()
        loop = np.empty(n)
        for i in range(n):                       # the baseline: a plain numpy loop per pair
            p, g = pred[i], gt[i]
            union = (p | g).sum()
            loop[i] = (p & g).sum() / union if union else 1.0
        t_loop += time.perf_counter() - t0
        assert np.allclose(iou, loop)            # same numbers, or the ratio means nothing
        done += n
    print(f"2. mask IoU, {pairs:,} pairs of {size}x{size} masks")
    print(f"   geometry.mask_iou_batch (segearth.iou): {t_batch:.2f} s ({pairs / t_batch:,.0f} pairs/s)")
    print(f"   plain numpy loop:                      {t_loop:.2f} s ({pairs / t_loop:,.0f} pairs/s)")
    print(f"   speed-up: {t_loop / t_batch:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=None, help="rows per build (default: the spec's size)")
    ap.add_argument("--corpora", nargs="+", default=["vqa_verify", "earthreason", "embodied_points"])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--mask-size", type=int, default=1024)
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--skip-builds", action="store_true", help="only the mask IoU figure")
    args = ap.parse_args()
    if not args.skip_builds:
        bench_builds(args.corpora, args.size)
    bench_mask_iou(args.pairs, args.mask_size, args.chunk)


if __name__ == "__main__":
    main()
