"""Render a :class:`~r1data.corpora.longvideo.script.Script` to an H.264 mp4 with ffmpeg.

Frames are drawn with numpy (filled circles, squares and triangles on a flat background)
and piped raw to one ``ffmpeg`` process, so a minutes-long low-resolution video takes a
second or two. Keyframes every ``gop_seconds`` keep uniform seeking cheap for readers.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from r1data.corpora.longvideo.script import COLORS, Script


def ffmpeg_exe() -> str:
    """The ``ffmpeg`` binary: the system one when on PATH, else imageio-ffmpeg's bundled one."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as e:  # no binary anywhere: say what to install
        raise RuntimeError(f"no ffmpeg binary: install ffmpeg or imageio-ffmpeg ({e})") from None


def shape_masks(width: int, height: int, radius: float) -> dict[str, np.ndarray]:
    """Boolean stamps of each shape in a (2r+1) square, drawn once and pasted per frame."""
    r = int(round(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    circle = xx ** 2 + yy ** 2 <= radius ** 2
    square = (np.abs(xx) <= radius * 0.85) & (np.abs(yy) <= radius * 0.85)
    # an upward triangle: below the two slanted sides, above the base
    triangle = (yy <= radius * 0.8) & (yy >= -radius + 2 * np.abs(xx) * 0.9)
    return {"circle": circle, "square": square, "triangle": triangle}


def stamp_window(pos: tuple[float, float], r: int, width: int, height: int
                 ) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """Where a ``(2r+1)``-pixel stamp centred at ``pos`` (0-1 coordinates) lands on a frame:
    ``(frame rows, frame columns), (stamp rows, stamp columns)``, clipped to the frame (objects
    slide in from off-screen); None when none of it is on the frame."""
    cx, cy = int(round(pos[0] * width)), int(round(pos[1] * height))
    x0, y0 = cx - r, cy - r
    sx0, sy0 = max(0, -x0), max(0, -y0)
    sx1, sy1 = min(2 * r + 1, width - x0), min(2 * r + 1, height - y0)
    if sx1 <= sx0 or sy1 <= sy0:
        return None
    return (slice(y0 + sy0, y0 + sy1), slice(x0 + sx0, x0 + sx1)), (slice(sy0, sy1), slice(sx0, sx1))


def draw_frame(script: Script, t: float, width: int, height: int,
               stamps: dict[str, np.ndarray]) -> np.ndarray:
    """The RGB frame (``height x width x 3`` uint8) at ``t`` seconds."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = script.background
    r = stamps["circle"].shape[0] // 2
    for o in script.objects:
        pos = script.position(o.id, t)
        window = None if pos is None else stamp_window(pos, r, width, height)
        if window is None:
            continue
        on_frame, on_stamp = window
        frame[on_frame][stamps[o.shape][on_stamp]] = COLORS[o.color]
    return frame


def render_video(script: Script, path: str | Path, *, width: int = 160, height: int = 120,
                 fps: float = 8.0, gop_seconds: float = 2.0, crf: int = 28) -> Path:
    """Write ``script`` as an mp4 at ``path`` (atomically: a partial file never has the name).

    Raises ``RuntimeError`` with ffmpeg's last error line when encoding fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part.mp4")
    n = int(round(script.duration * fps))
    stamps = shape_masks(width, height, radius=height / 11)
    import ffmpeg  # ffmpeg-python builds the command line; the binary is ffmpeg_exe()

    stream = (ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", r=f"{fps:g}")
              .output(str(tmp), vcodec="libx264", preset="ultrafast", crf=crf, pix_fmt="yuv420p",
                      g=max(1, int(round(gop_seconds * fps))), movflags="+faststart")
              .global_args("-loglevel", "error").overwrite_output())
    return encode_piped(stream, (draw_frame(script, i / fps, width, height, stamps) for i in range(n)), tmp, path)


def encode_piped(stream: Any, frames: Iterable[np.ndarray], tmp: Path, path: Path) -> Path:
    """Run the ffmpeg-python ``stream`` (reading raw RGB frames from ``pipe:``, writing ``tmp``),
    feed it ``frames``, then move ``tmp`` to ``path``. ``RuntimeError`` with ffmpeg's last error
    line when encoding fails (``tmp`` removed)."""
    proc = stream.run_async(cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True)
    assert proc.stdin is not None
    try:
        for frame in frames:
            proc.stdin.write(frame.tobytes())
        proc.stdin.close()
    except BrokenPipeError:
        pass  # ffmpeg died: its stderr says why, below
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0:
        tmp.unlink(missing_ok=True)
        last = err.strip().splitlines()[-1] if err.strip() else f"exit code {proc.returncode}"
        raise RuntimeError(f"ffmpeg could not encode {path.name}: {last}")
    os.replace(tmp, path)
    return path


def write_procedural_folder(folder: str | Path, count: int, *, seed: int = 0, duration: float = 60.0,
                            objects: int = 3, width: int = 160, height: int = 120,
                            fps: float = 8.0) -> list[Path]:
    """Render ``count`` procedural videos into ``folder`` as ``NAME.mp4`` plus their event
    logs ``NAME.events.json``: a folder the ``video_folder`` source reads with ground truth."""
    from r1data.corpora.longvideo.script import make_script
    from r1data.steps.base import record_rng

    folder = Path(folder)
    paths = []
    for i in range(count):
        vid = f"proc{i:04d}"
        script = make_script(record_rng(seed, "video", i), vid, duration, objects)
        paths.append(render_video(script, folder / f"{vid}.mp4", width=width, height=height, fps=fps))
        (folder / f"{vid}.events.json").write_text(script.to_json())
    return paths
