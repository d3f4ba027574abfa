"""Speed of the image corpora: build rate, worker scaling and the mask IoU reward.

    python scripts/bench_images.py [--size N] [--corpora vqa_verify earthreason embodied_points trance got]
                                   [--pairs 1000] [--mask-size 1024] [--chunk 100] [--skip-builds | --only-builds]
                                   [--two-workers-only]

1. ``r1data build CORPUS`` with ``--workers 1`` and ``--workers 2`` (the offline default,
   ``--size`` rows, default: the spec's size), each in a fresh subprocess: rows/s as the
   build reports it, wall seconds, the scaling ratio (rows/s with 2 workers over 1) and the
   CPU seconds of the 2-worker build (driver and workers; half of it estimates its wall time
   on two idle cores). ``--corpora scene30k --two-workers-only`` times scene30k's full build alone.
   A corpus whose spec is missing or whose build fails is reported as skipped, with why.
2. 3D views/s: the shared renderer (``r1data.render3d``: z-buffer, shadows, instance buffer)
   against the Pillow painter's-algorithm renderer scene30k used before it (kept below as the
   baseline), on the same ``--scenes`` procedural rooms, 224 px, in one run: perspective
   views/s of each in CPU time, with and without PNG encoding, and the ratio; the CPU per scene
   of scene30k's render_views (a map and 8 candidates). Also the tabletop scenes
   (VQA-Verify / Embodied-Points), now drawn as sprites through the same renderer.
3. The mask IoU of the ``segearth.iou`` reward (``r1data.geometry.mask_iou_batch``) on
   ``--pairs`` pairs of ``--mask-size``^2 masks, against a plain numpy loop computing
   ``(p & g).sum() / (p | g).sum()`` per pair: the speed-up ratio. Masks are made and scored
   ``--chunk`` pairs at a time so memory stays flat (1,000 pairs of 1024^2 would be 2 GB).

Not a test: prints figures, asserts nothing. Image decode/encode dominates the builds.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RATE = re.compile(r"rows kept in ([\d.]+) s \(([\d,.]+) rows/s\)")


def build_rate(corpus: str, size: int | None, workers: int) -> tuple[float, float, float, float] | str:
    """(rows/s reported, engine seconds, wall seconds, CPU seconds of the build and its
    workers) or why it could not run."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "r1data", "build", corpus, "-o", str(Path(tmp) / "out"),
               "--workers", str(workers), "--no-progress"]
        if size:
            cmd += ["--size", str(size)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = RATE.search(proc.stdout)
    if proc.returncode != 0 or not m:
        last = (proc.stderr or proc.stdout).strip().splitlines()
        return f"build failed (exit {proc.returncode}): {last[-1] if last else 'no output'}"
    return float(m.group(2).replace(",", "")), float(m.group(1)), wall, cpu


def bench_builds(corpora: list[str], size: int | None, one_worker: bool = True) -> None:
    print(f"1. build rate, offline default, {'spec size' if not size else f'{size:,} rows'}")
    print(f"   {'corpus':<16} {'rows/s w=1':>11} {'rows/s w=2':>11} {'wall w=1':>9} {'wall w=2':>9} {'scaling':>8}"
          f" {'CPU w=2':>8} {'CPU/2':>7}")
    for corpus in corpora:
        if not (REPO / "pipelines" / f"{corpus}.yaml").is_file():
            print(f"   {corpus:<16} skipped: no pipelines/{corpus}.yaml")
            continue
        one = build_rate(corpus, size, 1) if one_worker else None
        if isinstance(one, str):
            print(f"   {corpus:<16} skipped: {one}")
            continue
        two = build_rate(corpus, size, 2)
        if isinstance(two, str):
            print(f"   {corpus:<16} {one[0] if one else float('nan'):>11.1f}  workers 2 skipped: {two}")
            continue
        r1, w1, scale = (f"{one[0]:>11.1f}", f"{one[2]:>8.1f}s", f"{two[0] / one[0]:>7.2f}x") if one else \
            (f"{'-':>11}", f"{'-':>9}", f"{'-':>8}")
        print(f"   {corpus:<16} {r1} {two[0]:>11.1f} {w1} {two[2]:>8.1f}s {scale} {two[3]:>7.1f}s {two[3] / 2:>6.1f}s")
    print("   CPU w=2: user+sys of the build and its workers; CPU/2 estimates the wall time on two idle cores")


# -- the renderer scene30k used before r1data.render3d: the baseline of figure 2 ------------------

def _legacy_perspective(scene, eye, target, size, fov_deg=75.0):  # type: ignore[no-untyped-def]
    """Pillow polygons far to near by mean depth, back faces culled (the old render.py)."""
    import math

    from PIL import Image, ImageDraw

    from r1data.corpora.scene30k.render import object_rgb, scene_bounds
    from r1data.render3d import box_corners

    faces = [(0, 1, 2, 3), (4, 7, 6, 5), (0, 4, 5, 1), (1, 5, 6, 2), (2, 6, 7, 3), (3, 7, 4, 0)]
    light = np.array([0.35, -0.45, 0.82]) / np.linalg.norm([0.35, -0.45, 0.82])
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    f = (size / 2) / math.tan(math.radians(fov_deg) / 2)

    def project(p):  # type: ignore[no-untyped-def]
        rel = p - eye
        z = rel @ forward
        return np.column_stack([size / 2 + f * (rel @ right) / np.maximum(z, 1e-6),
                                size / 2 - f * (rel @ up) / np.maximum(z, 1e-6)]), z

    img = Image.new("RGB", (size, size), (225, 222, 215))
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = scene_bounds(scene)
    uv, z = project(np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]], dtype=float))
    if (z > 0.05).all():
        draw.polygon([tuple(p) for p in uv], fill=(205, 200, 190))
    else:
        draw.rectangle([0, size * 0.45, size, size], fill=(205, 200, 190))
    polys = []
    for obj in scene.objects:
        corners = box_corners(obj.center, obj.extent, obj.yaw)
        uv, z = project(corners)
        base = np.array(object_rgb(obj), dtype=float)
        for face in faces:
            if (z[list(face)] < 0.05).any():
                continue
            pts = corners[list(face)]
            normal = np.cross(pts[1] - pts[0], pts[2] - pts[0])
            normal /= np.linalg.norm(normal)
            if normal @ (pts.mean(axis=0) - eye) >= 0:
                continue
            shade = 0.45 + 0.55 * max(0.0, float(normal @ light))
            polys.append((float(z[list(face)].mean()), [tuple(p) for p in uv[list(face)]],
                          tuple(int(min(255, c * shade)) for c in base)))
    for _, pts, rgb in sorted(polys, key=lambda t: -t[0]):
        draw.polygon(pts, fill=rgb, outline=tuple(int(c * 0.5) for c in rgb))
    return np.asarray(img)


def bench_views(n_scenes: int, repeats: int = 3) -> None:
    """Views/s of render3d against the old Pillow painter on the same rooms and cameras, CPU
    time of this process (the best of ``repeats`` rounds, old and new alternating), so that
    other work on the machine moves both figures alike."""
    from r1data.corpora.scene30k.procedural import CATALOG, make_room
    from r1data.corpora.scene30k.render import candidate_cameras, draw_views, scene_3d
    from r1data.render3d import png_bytes, render
    from r1data.steps.base import record_rng

    rooms = sorted(CATALOG)
    scenes = [make_room(record_rng(1234, "source", "scene", i), f"b{i}", rooms[i % len(rooms)], (7, 14))
              for i in range(n_scenes)]
    cams = [candidate_cameras(s, 8, 224, 60.0, (1.6, 3.2), 1.5) for s in scenes]
    t0 = time.perf_counter()
    render(scene_3d(scenes[0]), cams[0][0], outline_strength=0.25)        # numba loads (or compiles) its code
    first = time.perf_counter() - t0

    def old(encode: bool) -> None:
        for s, cs in zip(scenes, cams):
            for c in cs:
                img = _legacy_perspective(s, c.position, c.position + c.pose[:3, 2], 224)
                if encode:
                    png_bytes(img)

    def new(encode: bool) -> None:
        for s, cs in zip(scenes, cams):
            s3d = scene_3d(s)
            for c in cs:
                out = render(s3d, c, outline_strength=0.25)
                if encode:
                    png_bytes(out.image)

    def cpu(fn, *args) -> float:  # type: ignore[no-untyped-def]
        t = time.process_time()
        fn(*args)
        return time.process_time() - t

    timings = {}
    for name, encode in (("render", False), ("render+png", True)):
        rounds = [(cpu(old, encode), cpu(new, encode)) for _ in range(repeats)]
        timings[name] = (min(r[0] for r in rounds), min(r[1] for r in rounds))
    t_scene = min(cpu(lambda: [draw_views(s, None, size=224, candidates=8, top_down=True, fov=60.0,
                                          heights=(1.6, 3.2), radius=1.5) for s in scenes]) for _ in range(repeats))
    n = 8 * n_scenes
    print(f"2. 3D views, {n_scenes} procedural rooms x 8 candidate views, 224 px (CPU time, best of {repeats})")
    for name, (t_old, t_new) in timings.items():
        print(f"   {name:<11} old Pillow painter: {n / t_old:7.1f} views/s   render3d: {n / t_new:7.1f} views/s   "
              f"ratio new/old: {t_old / t_new:.2f}x")
    print(f"   scene30k render_views (map + 8 candidates, shadows, outlines, instance buffers, PNGs): "
          f"{t_scene / n_scenes * 1000:.1f} ms of CPU per scene; first render in a process {first:.2f} s")
    import r1data.corpora.tabletop as tt

    t0 = time.process_time()
    for i in range(n_scenes):
        tt.generate_scene(record_rng(7, i), f"t{i}", "tabletop" if i % 2 else "indoor")
    print(f"   tabletop scenes (layout + sprites through render3d, 640x480): "
          f"{n_scenes / (time.process_time() - t0):.1f} scenes/s")


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
    print(f"3. mask IoU, {pairs:,} pairs of {size}x{size} masks")
    print(f"   geometry.mask_iou_batch (segearth.iou): {t_batch:.2f} s ({pairs / t_batch:,.0f} pairs/s)")
    print(f"   plain numpy loop:                      {t_loop:.2f} s ({pairs / t_loop:,.0f} pairs/s)")
    print(f"   speed-up: {t_loop / t_batch:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=None, help="rows per build (default: the spec's size)")
    ap.add_argument("--corpora", nargs="+", default=["vqa_verify", "earthreason", "embodied_points", "trance", "got"])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--mask-size", type=int, default=1024)
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--scenes", type=int, default=40, help="procedural rooms for the 3D views figure")
    ap.add_argument("--skip-builds", action="store_true", help="only the views and mask IoU figures")
    ap.add_argument("--only-builds", action="store_true", help="only the build figures")
    ap.add_argument("--two-workers-only", action="store_true",
                    help="build with --workers 2 only (scene30k's full build: --corpora scene30k)")
    args = ap.parse_args()
    if not args.skip_builds:
        bench_builds(args.corpora, args.size, one_worker=not args.two_workers_only)
    if not args.only_builds:
        bench_views(args.scenes)
        bench_mask_iou(args.pairs, args.mask_size, args.chunk)


if __name__ == "__main__":
    main()
