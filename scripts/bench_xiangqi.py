"""Benchmark the xiangqi corpus: move generation, end-to-end pairs/s, worker scaling.

    python scripts/bench_xiangqi.py                 # 2000 positions, 300-row builds
    python scripts/bench_xiangqi.py --positions 500 --size 100

Prints, each as a ratio against a baseline measured in the same process:

1. legal-move generation, positions/s: the corpus's pipelined ``go perft 1`` on one persistent
   fairy-stockfish process against a plain loop over ``pyffish.legal_moves`` (same positions,
   same move sets checked);
2. board-move pairs/s of a whole ``r1data build xiangqi`` at the spec's engine budget with
   ``--workers 1`` and ``--workers 2`` (the scaling ratio), and the time that projects for the
   paper's 5,000,000 pairs on this machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def random_positions(n: int, seed: int = 0) -> list[str]:
    """FENs from seeded random playouts (the engine lists the moves, the board plays them)."""
    from r1data.corpora.xiangqi.analysis import Analyzer
    from r1data.corpora.xiangqi.board import START_FEN, Board

    rng = np.random.default_rng(seed)
    analyzer = Analyzer(cache_size=0)
    fens: list[str] = []
    while len(fens) < n:
        board = Board.from_fen(START_FEN)
        for _ in range(int(rng.integers(10, 80))):
            fen = board.fen()
            legal = analyzer.engine.legal_moves([fen])[0]
            if not legal:
                break
            fens.append(fen)
            board.push(legal[int(rng.integers(len(legal)))])
    analyzer.close()
    return fens[:n]


def bench_legal_moves(fens: list[str]) -> None:
    import pyffish

    from r1data.corpora.xiangqi.analysis import Analyzer
    from r1data.corpora.xiangqi.board import VARIANT, from_engine

    t = time.perf_counter()
    baseline = [sorted(from_engine(m) for m in pyffish.legal_moves(VARIANT, f, [])) for f in fens]
    t_base = time.perf_counter() - t

    analyzer = Analyzer(cache_size=0)
    analyzer.engine.legal_moves(fens[:1])       # start the process outside the timing
    t = time.perf_counter()
    ours = analyzer.engine.legal_moves(fens)
    t_ours = time.perf_counter() - t
    analyzer.close()
    assert ours == baseline, "the engine and pyffish disagree on a move set"
    n = len(fens)
    print(f"legal moves, {n} positions (same move sets):")
    print(f"  plain loop over pyffish.legal_moves   {n / t_base:10,.0f} positions/s")
    print(f"  pipelined go perft 1 (one process)    {n / t_ours:10,.0f} positions/s")
    print(f"  ratio                                 {t_base / t_ours:10.1f}x")


def bench_build(size: int, workers: int) -> tuple[float, int]:
    from r1data.engine.runner import build

    with tempfile.TemporaryDirectory(prefix="bench-xiangqi-") as out:
        t = time.perf_counter()
        result = build("xiangqi", Path(out) / "c", size=size, workers=workers, progress=False,
                       workspace=None)
        wall = time.perf_counter() - t
        return wall, result.manifest["rows"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=2000, help="positions for the move-generation figure")
    parser.add_argument("--size", type=int, default=300, help="rows of each end-to-end build")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    print(f"machine: {os.cpu_count()} CPU cores")
    bench_legal_moves(random_positions(args.positions))

    rates = {}
    for workers in (1, 2):
        wall, rows = bench_build(args.size, workers)
        rates[workers] = rows / wall
        print(f"build xiangqi --size {args.size} --workers {workers}: {rows} pairs in {wall:.1f} s "
              f"= {rates[workers]:.1f} pairs/s")
    print(f"  scaling ratio (workers 2 / workers 1)  {rates[2] / rates[1]:.2f}x")
    best = max(rates.values())
    hours = 5_000_000 / best / 3600
    print(f"projected for 5,000,000 pairs at {best:.1f} pairs/s: {hours:,.0f} h ({hours / 24:.1f} days) "
          "on this machine")


if __name__ == "__main__":
    main()
