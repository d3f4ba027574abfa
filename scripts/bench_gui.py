"""Speed of the gui corpus: screens per second, 1 vs 2 workers, against plain Playwright.

    python scripts/bench_gui.py [--size 400] [--pages 60]

1. Baseline, in this process: ``--pages`` pages of the corpus's own generated apps (the first
   screen of each episode) loaded into one headless Chromium page and screenshotted with plain
   Playwright (``goto about:blank``, ``set_content``, ``screenshot``): screens/s of rendering alone.
2. ``r1data build gui --size N`` with ``--workers 1`` and ``--workers 2``, each in a fresh
   subprocess: screens/s (screenshots the build took, counted in the manifest, over the engine's
   seconds), rows/s, and the ratios: each build against the baseline, 2 workers against 1.

Every screen of a build also costs reading the DOM's boxes and app state, playing the action and
checking its effect, and (per row) the PNG in Arrow; the baseline has none of that. The CPU time
per screen (the build's whole process tree, Chromium included) says what an idle machine gives:
screens/s per core is about 1000 / (ms CPU per screen). Not a test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RATE = re.compile(r"rows kept in ([\d.]+) s \(([\d,.]+) rows/s\)")


def baseline(pages: int) -> float:
    """Screens/s of plain Playwright on the corpus's pages (one browser, one page per device)."""
    from r1data.corpora.gui.browser import ARGS, resolve_chromium
    from r1data.corpora.gui.episodes import GuiApps, GuiEpisodes
    from r1data.steps.base import StepContext

    ctx = StepContext(seed=2504, corpus="gui", step="gui_episodes")
    items = list(itertools.islice(GuiApps(StepContext(seed=2504, corpus="gui", step="source")).read(0), pages))
    planner = GuiEpisodes(ctx)
    plans = [planner.plan(it) for it in items]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=resolve_chromium(), args=ARGS)
        tabs = {}
        for p in plans:
            if p.device not in tabs:
                tabs[p.device] = browser.new_context(viewport={"width": p.device.width, "height": p.device.height},
                                                     device_scale_factor=p.device.scale).new_page()
        for p in plans[:3]:                                          # warm up
            tabs[p.device].set_content(p.html)
        t0 = time.perf_counter()
        for p in plans:
            page = tabs[p.device]
            page.goto("about:blank")
            page.set_content(p.html)
            page.screenshot(type="png")
        dt = time.perf_counter() - t0
        browser.close()
    return len(plans) / dt


def build(size: int, workers: int) -> dict | str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "r1data", "build", "gui", "--size", str(size), "-o", str(out),
               "--workers", str(workers), "--no-progress"]
        t0, cpu0 = time.perf_counter(), _children_cpu()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
        m = RATE.search(proc.stdout)
        if proc.returncode != 0 or not m:
            last = (proc.stderr or proc.stdout).strip().splitlines()
            return f"build failed (exit {proc.returncode}): {last[-1] if last else 'no output'}"
        manifest = json.loads((out / "manifest.json").read_text())
    seconds = float(m.group(1))
    counters = manifest.get("counters", {})
    return {"rows_s": float(m.group(2).replace(",", "")), "seconds": seconds, "wall": wall, "cpu": cpu,
            "screens": counters.get("screens", 0), "episodes": counters.get("episodes", 0),
            "screens_s": counters.get("screens", 0) / seconds}


def _children_cpu() -> float:
    """CPU seconds of finished child process trees (the build, its workers, Chromium)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=400, help="rows per build")
    ap.add_argument("--pages", type=int, default=60, help="pages for the plain Playwright baseline")
    args = ap.parse_args()
    base = baseline(args.pages)
    print(f"baseline: plain Playwright set_content + screenshot of {args.pages} generated pages: {base:.1f} screens/s")
    results = {}
    for workers in (1, 2):
        r = build(args.size, workers)
        if isinstance(r, str):
            print(f"workers {workers}: {r}")
            return
        results[workers] = r
        print(f"workers {workers}: {r['screens']} screens ({r['episodes']} episodes) in {r['seconds']:.1f} s: "
              f"{r['screens_s']:.1f} screens/s ({r['screens_s'] / base:.2f}x baseline), {r['rows_s']:.1f} rows/s, "
              f"wall {r['wall']:.1f} s, {r['cpu'] / max(1, r['screens']) * 1000:.0f} ms CPU per screen "
              f"(build + workers + Chromium)")
    print(f"2 workers / 1 worker: {results[2]['screens_s'] / results[1]['screens_s']:.2f}x screens/s")


if __name__ == "__main__":
    main()
