"""Render an :class:`~r1data.corpora.omni.scene.AVScript` to an mp4 with its sounds mixed in by ffmpeg,
and give the exact mask and box of every object in any frame.

Frames are drawn with numpy (longvideo's shapes) and piped raw to one ffmpeg process; each object's
sound track is written as a 16-bit WAV and ffmpeg's ``amix`` mixes them into the AAC audio track of
the same file. An object's mask in frame ``i`` is the pixels of its shape that no later-drawn object
covers, in the frame drawn for time ``i / fps``: the same computation that drew the video.
"""

from __future__ import annotations

import os
import tempfile
import wave
from pathlib import Path

import numpy as np

from r1data.corpora.longvideo.render import encode_piped, shape_masks, stamp_window
from r1data.corpora.longvideo.script import COLORS
from r1data.corpora.omni.scene import AVScript, object_track

SAMPLE_RATE = 16000


def draw(script: AVScript, t: float, width: int, height: int,
         stamps: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The RGB frame at ``t`` and each on-screen object's visible mask (bool H x W)."""
    motion = script.motion
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = motion.background
    owner = np.full((height, width), -1, np.int16)     # which object each pixel shows (drawn in id order)
    r = stamps["circle"].shape[0] // 2
    for o in motion.objects:
        pos = motion.position(o.id, t)
        window = None if pos is None else stamp_window(pos, r, width, height)
        if window is None:
            continue
        on_frame, on_stamp = window
        stamp = stamps[o.shape][on_stamp]
        frame[on_frame][stamp] = COLORS[o.color]
        owner[on_frame][stamp] = o.id
    masks = {o.id: owner == o.id for o in motion.objects}
    return frame, {k: m for k, m in masks.items() if m.any()}


def box_of(mask: np.ndarray) -> list[float]:
    """``[x1, y1, x2, y2]`` of a mask's pixels (the pixel edges: x2 = last column + 1)."""
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def write_wav(path: Path, samples: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    data = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(data.tobytes())


def render_av_video(script: AVScript, path: str | Path, *, width: int = 160, height: int = 120, fps: float = 8.0,
                    gop_seconds: float = 2.0, crf: int = 28, audio: bool = True) -> Path:
    """Write ``script`` as an H.264 + AAC mp4 at ``path`` (atomically). ``audio=False`` leaves the
    sound out (a video without an audio track: what the omni probe rejects for audio questions).

    Raises ``RuntimeError`` with ffmpeg's last error line when encoding fails."""
    import ffmpeg  # ffmpeg-python builds the command line; the binary is ffmpeg_exe()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part.mp4")
    n = int(round(script.duration * fps))
    stamps = shape_masks(width, height, radius=height / 11)
    with tempfile.TemporaryDirectory(prefix="r1data-omni-") as work:
        video = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", r=f"{fps:g}")
        streams = [video.video]
        kwargs: dict = {"vcodec": "libx264", "preset": "ultrafast", "crf": crf, "pix_fmt": "yuv420p",
                        "g": max(1, int(round(gop_seconds * fps))), "movflags": "+faststart"}
        if audio:
            tracks = []
            for o in script.motion.objects:
                wav = Path(work) / f"object{o.id}.wav"
                write_wav(wav, object_track(script, o.id, SAMPLE_RATE))
                tracks.append(ffmpeg.input(str(wav)).audio)
            # each object's track mixed into one, without amix's default 1/N level scaling
            streams.append(ffmpeg.filter(tracks, "amix", inputs=len(tracks), normalize=0, duration="longest"))
            kwargs.update(acodec="aac", ar=SAMPLE_RATE, ac=1, shortest=None)
        stream = ffmpeg.output(*streams, str(tmp), **kwargs).global_args("-loglevel", "error").overwrite_output()
        frames = (draw(script, i / fps, width, height, stamps)[0] for i in range(n))
        return encode_piped(stream, frames, tmp, path)


class FrameTruth:
    """Masks and boxes of a script's objects in frame ``i`` of its rendering (cached per frame)."""

    def __init__(self, script: AVScript, width: int, height: int, fps: float):
        self.script = script
        self.width, self.height, self.fps = width, height, fps
        self.stamps = shape_masks(width, height, radius=height / 11)
        self._cache: dict[int, dict[int, np.ndarray]] = {}

    def masks(self, index: int) -> dict[int, np.ndarray]:
        if index not in self._cache:
            self._cache[index] = draw(self.script, index / self.fps, self.width, self.height, self.stamps)[1]
        return self._cache[index]

    def frame(self, index: int) -> np.ndarray:
        return draw(self.script, index / self.fps, self.width, self.height, self.stamps)[0]
