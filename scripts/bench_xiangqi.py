"""Benchmark the xiangqi corpus: engine utilisation, pairs/s, the time for 5M pairs.

    python scripts/bench_xiangqi.py                       # builds of 1000 and 3000 rows, --workers 2
    python scripts/bench_xiangqi.py --size 500 --workers 1

Everything below is measured in one run, so the ratios hold on a shared machine even when
the absolute speeds do not (the load average is printed before and after):

1. **The engine's own speed**: Fairy-Stockfish's ``bench`` (xiangqi, depth 13, one thread), and
   a fixed-nodes search of the built corpus's own positions *outside r1data*: a raw UCI loop,
   every position of a game sent at once (no waiting on Python), one ``ucinewgame`` per game
   as the build does, ``--workers`` engines at a time. Nodes per second as the engines report.
2. **What the build delivers**: ``r1data build xiangqi --workers N`` at the spec's budget, the
   nodes its engines searched (the ``engine_nodes`` counter: self-play, evaluation, restarts
   and replays) per second of the build's wall time, everything around them included.
   **Utilisation** = delivered nodes/s / the raw loop's nodes/s. Two build sizes give the
   marginal rate too (start-up excluded), and that the time grows linearly.
3. **The projection**: 5,000,000 pairs at the marginal pairs/s; and from the CPU time per pair
   (build, workers, engines), what two otherwise idle cores would take.
4. Move generation: the engine's pipelined ``go perft 1`` and r1data's own rules (the verifier)
   against a plain loop over ``pyffish.legal_moves``, same move sets.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PAIRS = 5_000_000


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the engine's own speed -------------------------------------------------------------------

def engine_bench(engine: str, copies: int) -> float:
    """Total nodes/s of ``copies`` concurrent ``bench`` runs (xiangqi, hash 16, 1 thread, depth 13)."""
    cmd = "setoption name UCI_Variant value xiangqi\nbench 16 1 13 default depth\nquit\n"
    procs = [subprocess.Popen([engine], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for _ in range(copies)]
    total = 0.0
    for p in procs:
        _, err = p.communicate(cmd, timeout=600)
        m = re.search(r"Nodes/second\s*:\s*(\d+)", err)
        total += int(m[1]) if m else 0.0
    return total


def _raw_searches(engine: str, games: list[list[str]], nodes: int, multipv: int, out: list) -> None:
    """One engine, games in order: ucinewgame, then every position's search sent at once."""
    p = subprocess.Popen([engine], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, bufsize=1)
    assert p.stdin and p.stdout
    p.stdin.write(f"uci\nsetoption name UCI_Variant value xiangqi\nsetoption name Threads value 1\n"
                  f"setoption name Hash value 16\nsetoption name Contempt value 0\n"
                  f"setoption name MultiPV value {multipv}\nisready\n")
    p.stdin.flush()
    while not p.stdout.readline().startswith("readyok"):
        pass
    searched = 0
    t0 = time.perf_counter()
    for fens in games:
        p.stdin.write("ucinewgame\n" + "".join(f"position fen {f}\ngo nodes {nodes}\n" for f in fens))
        p.stdin.flush()
        done, last = 0, 0
        while done < len(fens):
            line = p.stdout.readline()
            if line.startswith("info") and " nodes " in line:
                last = int(line.split(" nodes ", 1)[1].split()[0])
            elif line.startswith("bestmove"):
                searched += last
                done += 1
    wall = time.perf_counter() - t0
    p.stdin.write("quit\n")
    p.stdin.flush()
    p.wait()
    out.append((searched, wall))


def raw_loop(engine: str, games: list[list[str]], nodes: int, multipv: int, engines: int) -> tuple[float, int]:
    """Nodes/s of ``engines`` raw UCI loops sharing the games, and the positions searched."""
    results: list = []
    threads = [threading.Thread(target=_raw_searches, args=(engine, games[i::engines], nodes, multipv, results))
               for i in range(engines)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return sum(n for n, _ in results) / wall, sum(len(g) for g in games)


# -- the build ------------------------------------------------------------------------------------

def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_build(size: int, workers: int, out: Path) -> dict:
    from r1data.corpora.xiangqi.analysis import close_all
    from r1data.engine.runner import build

    cpu0, child0 = time.process_time(), children_cpu()
    t = time.perf_counter()
    result = build("xiangqi", out, size=size, workers=workers, progress=False, workspace=None, overwrite=True)
    close_all()     # with --workers 1 the engine is this process's child: reap it for its CPU time
    wall = time.perf_counter() - t
    cpu = time.process_time() - cpu0 + children_cpu() - child0
    c = result.manifest["counters"]
    return {"wall": wall, "rows": result.manifest["rows"], "nodes": c.get("engine_nodes", 0), "cpu": cpu,
            "searches": c.get("engine_searches", 0), "manifest": result.manifest}


def corpus_games(out: Path) -> list[list[str]]:
    import r1data

    corpus = r1data.open_corpus(out)
    games: dict[str, list[tuple[int, str]]] = {}
    for split in corpus.manifest["splits"]:
        t = corpus.table(split)
        for gid, ply, fen in zip(t.column("game_id").to_pylist(), t.column("ply").to_pylist(),
                                 t.column("fen").to_pylist()):
            games.setdefault(gid, []).append((ply, fen))
    return [[f for _, f in sorted(v)] for _, v in sorted(games.items())]


# -- move generation ---------------------------------------------------------------------------

def random_positions(n: int, seed: int = 0) -> list[str]:
    """FENs from seeded random playouts."""
    from r1data.corpora.xiangqi.board import START_FEN, Board
    from r1data.corpora.xiangqi.rules import legal_moves

    rng = np.random.default_rng(seed)
    fens: list[str] = []
    while len(fens) < n:
        board = Board.from_fen(START_FEN)
        for _ in range(int(rng.integers(10, 80))):
            fen = board.fen()
            legal = legal_moves(fen)
            if not legal:
                break
            fens.append(fen)
            board.push(legal[int(rng.integers(len(legal)))])
    return fens[:n]


def bench_legal_moves(fens: list[str]) -> None:
    import pyffish

    from r1data.corpora.xiangqi.analysis import Analyzer
    from r1data.corpora.xiangqi.board import VARIANT, from_engine
    from r1data.corpora.xiangqi.rules import legal_moves

    t = time.perf_counter()
    baseline = [sorted(from_engine(m) for m in pyffish.legal_moves(VARIANT, f, [])) for f in fens]
    t_base = time.perf_counter() - t
    analyzer = Analyzer(cache_size=0)
    analyzer.engine.legal_moves(fens[:1])       # start the process outside the timing
    t = time.perf_counter()
    ours = analyzer.engine.legal_moves(fens)
    t_engine = time.perf_counter() - t
    analyzer.close()
    t = time.perf_counter()
    rules = [legal_moves(f) for f in fens]
    t_rules = time.perf_counter() - t
    assert ours == baseline == rules, "the engine, the rules and pyffish disagree on a move set"
    n = len(fens)
    print(f"\nlegal moves, {n} positions (same move sets from all three):")
    print(f"  plain loop over pyffish.legal_moves   {n / t_base:10,.0f} positions/s")
    print(f"  pipelined go perft 1 (one process)    {n / t_engine:10,.0f} positions/s  ({t_base / t_engine:.1f}x)")
    print(f"  rules.legal_moves (the verifier)      {n / t_rules:10,.0f} positions/s  ({t_base / t_rules:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1000, help="rows of the smaller build (the larger: 3x)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--positions", type=int, default=1000, help="positions for the move-generation figure")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from r1data.corpora.xiangqi.uci import resolve_engine

    engine = resolve_engine(None)
    print(f"machine: {os.cpu_count()} CPU cores; load average {load()} (1, 5, 15 min) at the start")
    w = args.workers
    bench1 = engine_bench(engine, 1)
    benchw = engine_bench(engine, w) if w > 1 else bench1
    print(f"fairy-stockfish bench (xiangqi, depth 13): {bench1:,.0f} nodes/s one engine, "
          f"{benchw:,.0f} with {w} at once")

    with tempfile.TemporaryDirectory(prefix="bench-xiangqi-") as tmp:
        small = run_build(args.size, w, Path(tmp) / "small")
        large = run_build(3 * args.size, w, Path(tmp) / "large")
        spec = large["manifest"]["spec"]
        ev = next(s["params"] for s in spec["steps"] if s["step"] == "xiangqi_evaluate")
        games = corpus_games(Path(tmp) / "large")
    own, positions = raw_loop(engine, games, ev["nodes"], ev["multipv"], w)

    print(f"\nbuild xiangqi --workers {w} at the spec's budget ({ev['nodes']:,} nodes, MultiPV {ev['multipv']}):")
    for b in (small, large):
        print(f"  {b['rows']:6,d} pairs in {b['wall']:6.1f} s = {b['rows'] / b['wall']:6.1f} pairs/s; "
              f"{b['nodes'] / b['wall']:10,.0f} nodes/s delivered; {b['searches'] / b['rows']:.2f} searches "
              f"and {b['cpu'] / b['rows'] * 1000:.1f} ms CPU per pair")
    d_rows, d_wall, d_nodes = large["rows"] - small["rows"], large["wall"] - small["wall"], large["nodes"] - small["nodes"]
    marginal = d_rows / d_wall
    print(f"  marginal (the larger minus the smaller): {marginal:.1f} pairs/s, {d_nodes / d_wall:,.0f} nodes/s; "
          f"time per pair {large['wall'] / large['rows'] * 1000:.1f} ms vs {small['wall'] / small['rows'] * 1000:.1f} ms")
    print(f"raw UCI loop over the same {positions:,} positions, {w} engine(s) at once: {own:,.0f} nodes/s")
    print(f"\nutilisation (delivered / the engine's own nodes/s, both measured now):")
    print(f"  whole build {large['nodes'] / large['wall'] / own:.2f}; marginal {d_nodes / d_wall / own:.2f}; "
          f"against bench {large['nodes'] / large['wall'] / benchw:.2f}")
    hours = PAIRS / marginal / 3600
    cpu_pair = large["cpu"] / large["rows"]
    ideal = PAIRS * cpu_pair / min(w, os.cpu_count() or 1) / 3600
    print(f"projection for {PAIRS:,} pairs with --workers {w}: {hours:.1f} h at {marginal:.1f} pairs/s "
          f"(measured now); {ideal:.1f} h from {cpu_pair * 1000:.1f} ms CPU per pair on {min(w, os.cpu_count() or 1)} idle cores")
    m = large["manifest"]
    dedup = next(s for s in m["steps"] if s["step"] == "dedup")
    print(f"duplicates: {dedup['rejected']} of {dedup['in']} positions ({dedup['rejected'] / max(1, dedup['in']):.1%})")
    print(f"load average {load()} at the end")

    bench_legal_moves(random_positions(args.positions))


if __name__ == "__main__":
    main()
