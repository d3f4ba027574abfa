"""Benchmark longvideo's video reading on a one-hour video made here.

1. Uniform sampling: 256 frames spread evenly over the hour, with r1data's reader (decord,
   ``open_video`` + ``uniform_indices`` + ``read_frames``) against the plain ``ffmpeg`` command
   line extracting the same frames (one run with a ``select`` filter): printed as a ratio.
2. Segmentation: the hour cut into 10 s clips with ``frames_per_clip`` frames decoded in each
   (what ``cut_clips`` does), in clips/s; and clip files cut by ffmpeg (``write_clips``), in clips/s.
3. Memory: peak resident memory of this process after each phase, and of the ffmpeg runs
   (an upper bound: ru_maxrss counts the forked Python's pages too).
4. love (LOVE-R1): one rollout's views of the hour, as the decoupled trainer builds them (768 fast
   frames and one 30 s zoom clip of 16 frames, decoded, stamped with their second in red, resized to
   the pixel budgets): seconds, as a ratio to the plain uniform sample of phase 1.
5. omni (Omni-R1): rendering a video with every object's sound mixed in by ffmpeg, against the same
   video rendered without a sound track (the cost of the audio, as a ratio), and the exact masks of
   one keyframe a second (FrameTruth), in frames/s.

    python scripts/bench_video.py                 # 1 hour, 640x360 at 8 fps
    python scripts/bench_video.py --minutes 10    # quicker
    python scripts/bench_video.py --only love,omni --minutes 10
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r1data.corpora.longvideo.render import ffmpeg_exe, render_video  # noqa: E402
from r1data.corpora.longvideo.script import make_script  # noqa: E402
from r1data.corpora.longvideo.video import (clip_frame_indices, clip_spans, open_video, read_frames,  # noqa: E402
                                            uniform_indices, write_clips)


def run_measured(cmd: list[str]) -> tuple[bytes, float]:
    """Run a command; its stdout and its peak memory in MB (``wait4``'s ru_maxrss, which also
    counts this process's pages at the fork: an upper bound)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{Path(cmd[0]).name} failed: {err.decode(errors='replace').strip()[-300:]}")
    return out, usage.ru_maxrss / 1024


def _balanced_sum(terms: list[str]) -> str:
    """``(a+b)+(c+d)``: ffmpeg's expression parser runs out of stack on a flat 256-term sum."""
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    return f"({_balanced_sum(terms[:mid])}+{_balanced_sum(terms[mid:])})"


def ffmpeg_seek_each(path: Path, indices: np.ndarray, fps: float, width: int, height: int) -> np.ndarray:
    """The other command-line way: one ``ffmpeg -ss T -i VIDEO -frames:v 1`` per frame."""
    frames = []
    for i in indices:
        cmd = [ffmpeg_exe(), "-loglevel", "error", "-ss", f"{i / fps:.6f}", "-i", str(path), "-frames:v", "1",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"]
        out, mb = run_measured(cmd)
        PEAKS["ffmpeg -ss"] = max(PEAKS.get("ffmpeg -ss", 0.0), mb)
        frames.append(np.frombuffer(out, np.uint8))
    return np.stack(frames).reshape(-1, height, width, 3)


def ffmpeg_select(path: Path, indices: np.ndarray, width: int, height: int) -> np.ndarray:
    """The baseline: one ffmpeg command extracting exactly these frame numbers as raw RGB."""
    expr = _balanced_sum([f"eq(n\\,{int(i)})" for i in indices])
    cmd = [ffmpeg_exe(), "-loglevel", "error", "-threads", "0", "-i", str(path), "-vf", f"select={expr}",
           "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"]
    out, mb = run_measured(cmd)
    PEAKS["ffmpeg select"] = max(PEAKS.get("ffmpeg select", 0.0), mb)
    return np.frombuffer(out, np.uint8).reshape(-1, height, width, 3)


PEAKS: dict[str, float] = {}     # peak resident memory (MB) by phase


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of(n: int, fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def bench_love(video: Path, t_uniform: float, args: argparse.Namespace) -> None:
    """LOVE-R1's fast view and one zoom clip of the video, as the decoupled trainer asks for them."""
    from r1data.train.recipe import ZoomSpec
    from r1data.train.zoom_data import ZoomViews

    spec = ZoomSpec()
    mid = int(args.minutes * 60 / 2)

    def views() -> int:
        parts, images = ZoomViews(spec).content(video, "question", [[mid, mid + 30]])
        return len(images)

    t_views, n_images = best_of(args.repeat, views)
    PEAKS["love views (this process so far)"] = rss_peak_mb()
    print(f"love: one rollout's views ({n_images} frames: {n_images - 16} fast at {spec.fast_pixels} px, 16 zoomed at "
          f"{spec.slow_pixels} px, timestamped) {t_views:.3f} s -> ratio {t_views / t_uniform:.1f}x "
          f"(views time / uniform {args.frames}-frame sample time)")


def bench_omni(tmp: Path, args: argparse.Namespace) -> None:
    """An audio-visual render (sounds mixed by ffmpeg) against the same video without sound; exact masks."""
    from r1data.corpora.omni.render import FrameTruth, render_av_video
    from r1data.corpora.omni.scene import make_av_script

    script = make_av_script(np.random.default_rng(0), "bench", args.omni_seconds, 5)
    kw = dict(width=args.width, height=args.height, fps=args.fps)
    t_audio, _ = best_of(args.repeat, lambda: render_av_video(script, tmp / "av.mp4", audio=True, **kw))
    t_plain, _ = best_of(args.repeat, lambda: render_av_video(script, tmp / "plain.mp4", audio=False, **kw))
    print(f"omni: {script.duration:.0f} s at {args.width}x{args.height}, {len(script.calls)} sounds of "
          f"{len(script.motion.objects)} objects: with the mixed sound track {t_audio:.2f} s, without {t_plain:.2f} s "
          f"-> ratio {t_audio / t_plain:.2f}x (audio-visual time / video-only time)")
    truth = FrameTruth(script, args.width, args.height, args.fps)
    frames = [int(s * args.fps) for s in range(int(script.duration))]
    t = time.perf_counter()
    for i in frames:
        truth.masks(i)
    dt = time.perf_counter() - t
    print(f"omni: exact masks of {len(frames)} keyframes (one a second) in {dt:.2f} s -> {len(frames) / dt:.0f} frames/s")
    PEAKS["omni (this process so far)"] = rss_peak_mb()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0, help="length of the test video (default 60)")
    ap.add_argument("--frames", type=int, default=256, help="frames to sample uniformly (default 256)")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--fps", type=float, default=8.0)
    ap.add_argument("--clip-seconds", type=float, default=10.0)
    ap.add_argument("--frames-per-clip", type=int, default=4)
    ap.add_argument("--frame-height", type=int, default=360, help="cut_clips' frame_height (default 360)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    ap.add_argument("--omni-seconds", type=float, default=120.0, help="length of omni's test video (default 120)")
    ap.add_argument("--only", default="longvideo,love,omni", help="comma-separated phases (longvideo, love, omni)")
    args = ap.parse_args()
    only = set(args.only.split(","))

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "hour.mp4"
        t = time.perf_counter()
        script = make_script(np.random.default_rng(0), "bench", args.minutes * 60, 5)
        render_video(script, video, width=args.width, height=args.height, fps=args.fps)
        print(f"video: {script.duration / 60:.1f} min, {args.width}x{args.height} at {args.fps:g} fps, "
              f"{len(script.events)} events, {video.stat().st_size / 1e6:.1f} MB, rendered in "
              f"{time.perf_counter() - t:.1f} s")

        vr = open_video(video)
        n = len(vr)
        idx = uniform_indices(n, args.frames)

        def r1data_sample() -> np.ndarray:
            return read_frames(open_video(video), idx)

        t_ours, ours = best_of(args.repeat, r1data_sample)
        PEAKS["r1data sample (this process so far)"] = rss_peak_mb()
        if "love" in only:
            bench_love(video, t_ours, args)
        if "longvideo" not in only:
            if "omni" in only:
                bench_omni(Path(tmp), args)
            print("peak memory: " + ", ".join(f"{k} {v:.0f} MB" for k, v in PEAKS.items()))
            return
        t_ff, theirs = best_of(args.repeat, lambda: ffmpeg_select(video, idx, args.width, args.height))
        t_seek, seek = best_of(1, lambda: ffmpeg_seek_each(video, idx, args.fps, args.width, args.height))
        assert isinstance(ours, np.ndarray) and isinstance(theirs, np.ndarray) and isinstance(seek, np.ndarray)
        same = ours.shape == theirs.shape
        diff = float(np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in zip(ours, theirs)])) \
            if same else float("nan")
        print(f"sample {args.frames} frames of {n}: r1data (decord) {t_ours:.3f} s, ffmpeg CLI select "
              f"{t_ff:.3f} s -> ratio {t_ff / t_ours:.1f}x (ffmpeg time / r1data time); "
              f"shapes {'match' if same else f'differ {ours.shape} vs {theirs.shape}'}, mean |diff| {diff:.2f}")
        print(f"sample {args.frames} frames: ffmpeg CLI, one -ss seek per frame {t_seek:.3f} s -> ratio "
              f"{t_seek / t_ours:.1f}x (ffmpeg time / r1data time)")

        spans = clip_spans(script.duration, args.clip_seconds)

        def segment() -> int:
            r = open_video(video)
            per_clip = clip_frame_indices(spans, r.get_avg_fps(), len(r), args.frames_per_clip)
            frames = read_frames(r, np.concatenate(per_clip), height=args.frame_height)
            return len(np.split(frames, len(spans)))

        t_seg, _ = best_of(args.repeat, segment)
        PEAKS["segmentation (this process so far)"] = rss_peak_mb()
        print(f"segmentation ({args.clip_seconds:g} s clips, {args.frames_per_clip} frames each): "
              f"{len(spans)} clips in {t_seg:.2f} s -> {len(spans) / t_seg:.0f} clips/s")
        t = time.perf_counter()
        files = write_clips(video, Path(tmp) / "clips", args.clip_seconds)
        t_cut = time.perf_counter() - t
        print(f"clip files (ffmpeg segment, H.264): {len(files)} clips in {t_cut:.2f} s -> "
              f"{len(files) / t_cut:.0f} clips/s")
        if "omni" in only:
            bench_omni(Path(tmp), args)

    print("peak memory: " + ", ".join(f"{k} {v:.0f} MB" for k, v in PEAKS.items()))


if __name__ == "__main__":
    main()
