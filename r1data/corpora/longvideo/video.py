"""Reading long videos: probe, split into fixed-length clips, sample frames, cut clip files.

decord decodes (it seeks to keyframes, so sampling 256 frames of an hour does not decode the
hour); ffmpeg cuts and transcodes clip files. Everything that can go wrong with a file is a
:class:`VideoError` whose ``reason`` is one of ``unreadable_path``, ``zero_length``,
``corrupt_video``, ``unsupported_codec``, ``truncated_video``: the step rejects that video
with it and the build goes on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from r1data.corpora.longvideo.render import ffmpeg_exe
from r1data.steps.base import RecordError

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi")
# codecs decord 0.6 (its bundled FFmpeg) decodes; AV1 is the common one it cannot
DECODABLE = {"h264", "hevc", "vp8", "vp9", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg", "theora"}


T = TypeVar("T")


class VideoError(RecordError):
    """A video that cannot be used; ``reason`` is a short rejects-table key."""


@dataclass(frozen=True)
class VideoInfo:
    n_frames: int
    fps: float
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps if self.fps > 0 else 0.0


def ffprobe_codec(path: str | Path) -> str | None:
    """The first video stream's codec name by ffprobe, or None (no ffprobe, or no stream)."""
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                              "stream=codec_name", "-of", "json", str(path)],
                             capture_output=True, text=True, timeout=60)
        streams = json.loads(out.stdout or "{}").get("streams") or []
    except (subprocess.SubprocessError, json.JSONDecodeError, OSError):
        return None
    return str(streams[0].get("codec_name")) if streams else None


def open_video(path: str | Path, num_threads: int = 0):  # -> decord.VideoReader
    """A decord reader, or :class:`VideoError` saying why the file cannot be read.

    ``num_threads`` 0 is decord's default (FFmpeg picks, several threads on a multi-core
    machine); see :func:`with_decoder` for why 1 is sometimes needed."""
    import decord

    p = Path(path)
    if not p.is_file():
        what = "is a directory" if p.is_dir() else "no such file" if not p.is_symlink() else "a broken link"
        raise VideoError("unreadable_path", f"{p}: {what}")
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            fh.read(1)
    except OSError as e:
        raise VideoError("unreadable_path", f"{p}: {e.strerror or e}") from None
    if size == 0:
        raise VideoError("zero_length", f"{p}: the file is empty")
    try:
        return decord.VideoReader(str(p), ctx=decord.cpu(0), num_threads=num_threads)
    except Exception as e:  # decord raises RuntimeError / DECORDError with ffmpeg's words
        raise _classify(p, e) from None


def _classify(path: Path, error: Exception) -> VideoError:
    """Tell an unsupported codec from a cut-off file from garbage, with ffprobe when present."""
    msg = str(error).strip().splitlines()[-1][:200] if str(error).strip() else type(error).__name__
    codec = ffprobe_codec(path)
    if codec is not None and codec not in DECODABLE:
        return VideoError("unsupported_codec", f"{path.name}: codec {codec} cannot be decoded "
                                                f"(transcode to H.264 first)")
    if "cannot find video stream" in msg and codec is None:
        return VideoError("unsupported_codec", f"{path.name}: no decodable video stream ({msg})")
    if codec is not None or "av_read_frame" in msg:
        return VideoError("truncated_video", f"{path.name}: the header reads but the frames do not ({msg})")
    return VideoError("corrupt_video", f"{path.name}: not a readable video ({msg})")


def with_decoder(path: str | Path, read: Callable[[Any], T]) -> T:
    """``read(reader)`` on a decord reader of ``path``; if decoding fails, once more with one
    decoder thread before giving up (the second attempt's error propagates).

    decord's default multithreaded decoder fails on some valid files: a VP9 WebM encoded in
    realtime mode (``-deadline realtime``) stops with "Thread worker: Error sending packet"
    (``avcodec_send_packet`` returns EAGAIN; dmlc/decord issue 246), while one or two
    threads read every frame. A :class:`VideoError` from ``read`` is final.
    """
    vr = open_video(path)
    try:
        return read(vr)
    except VideoError:
        raise
    except Exception:
        del vr
    return read(open_video(path, num_threads=1))


class _FrameError(RuntimeError):
    """A frame that does not decode (retried single-threaded, then a ``truncated_video``)."""


def _last_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[-1][:160] if text else type(error).__name__


def probe_video(path: str | Path, min_seconds: float = 1.0) -> VideoInfo:
    """Frame count, fps and size of a video whose first and last frames decode.

    Decoding the last frame catches files cut short after a complete header.
    """
    def first_and_last(vr: Any) -> tuple[int, float, np.ndarray]:
        n = len(vr)
        fps = float(vr.get_avg_fps() or 0.0)
        if n <= 0 or fps <= 0:
            raise VideoError("zero_length", f"{Path(path).name}: {n} frames at {fps:g} fps")
        try:
            return n, fps, vr.get_batch([0, n - 1]).asnumpy()
        except Exception as e:
            raise _FrameError(f"frame {n - 1} of {n} does not decode ({_last_line(e)})") from None

    try:
        n, fps, first_last = with_decoder(path, first_and_last)
    except _FrameError as e:
        raise VideoError("truncated_video", f"{Path(path).name}: {e}") from None
    info = VideoInfo(n, fps, int(first_last.shape[2]), int(first_last.shape[1]))
    if info.duration < min_seconds:
        raise VideoError("too_short", f"{Path(path).name}: {info.duration:.2f} s < {min_seconds:g} s")
    return info


def uniform_indices(n_frames: int, count: int) -> np.ndarray:
    """``count`` frame indices spread evenly over ``[0, n_frames - 1]`` (LongVILA's linspace)."""
    if n_frames <= 0 or count <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.linspace(0, n_frames - 1, count, dtype=np.int64)


def clip_spans(duration: float, clip_seconds: float, min_last: float = 1.0) -> list[tuple[float, float]]:
    """Fixed-length clips ``[(0, 10), (10, 20), ...]``; a last clip shorter than ``min_last``
    seconds is merged into the one before."""
    spans: list[tuple[float, float]] = []
    t = 0.0
    while t < duration - 1e-6:
        end = min(duration, t + clip_seconds)
        if spans and end - t < min_last:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((round(t, 3), round(end, 3)))
        t = end
    return spans


def clip_frame_indices(spans: list[tuple[float, float]], fps: float, n_frames: int,
                       per_clip: int) -> list[np.ndarray]:
    """``per_clip`` evenly spaced frame indices inside each clip."""
    out = []
    for start, end in spans:
        first = min(n_frames - 1, int(np.floor(start * fps)))
        last = max(first, min(n_frames - 1, int(np.ceil(end * fps)) - 1))
        out.append(first + uniform_indices(last - first + 1, per_clip))
    return out


def read_frames(vr, indices: np.ndarray | list[int], height: int = 0) -> np.ndarray:  # vr: decord.VideoReader
    """Frames at ``indices`` as ``N x H x W x 3`` uint8, in the order asked; each frame is
    scaled down to ``height`` rows as it is decoded when ``0 < height <`` the video's.

    Frames are visited in increasing order, each reached either by decoding on from the last
    one (``skip_frames``) or by seeking (decord restarts at the keyframe before the target and
    flushes its decoder, several ms each). Which is cheaper depends on the resolution and the
    gap, so both costs are measured as the read goes: dense samples of a small video decode
    straight through, sparse samples of a large one (256 frames of an hour) seek. Either way
    the frames are the same. Memory: the output array and one decoded frame.
    """
    idx = np.asarray(indices, dtype=np.int64)
    if len(idx) == 0:
        return np.zeros((0, 0, 0, 3), np.uint8)
    keys = np.asarray(vr.get_key_indices(), dtype=np.int64)
    wanted = np.unique(idx)
    out: np.ndarray | None = None
    cur = -1                                   # the last frame decoded, -1 before any
    seek_s = seeks = skip_s = skipped = 0.0
    per_frame = None                           # measured seconds to decode on by one frame
    for slot, i in enumerate(wanted.tolist()):
        gap = i - cur - 1
        key = int(keys[np.searchsorted(keys, i, side="right") - 1]) if len(keys) else 0
        t = time.perf_counter()
        if cur < 0 or key > cur and (per_frame is None or gap * per_frame > seek_s / seeks):
            vr.seek_accurate(i)
            frame = vr.next().asnumpy()
            seek_s += time.perf_counter() - t
            seeks += 1
            if per_frame is None:              # until a skip is measured: a seek's decode, per frame
                per_frame = seek_s / (i - key + 1)
        else:
            if gap > 0:
                vr.skip_frames(gap)
            frame = vr.next().asnumpy()
            skip_s += time.perf_counter() - t
            skipped += gap + 1
            per_frame = skip_s / skipped
        frame = resize_frames(frame[None], height)[0]
        if out is None:
            out = np.empty((len(wanted), *frame.shape), np.uint8)
        out[slot] = frame
        cur = i
    assert out is not None
    return out if len(wanted) == len(idx) and np.array_equal(wanted, idx) else out[np.searchsorted(wanted, idx)]


def resize_frames(frames: np.ndarray, height: int) -> np.ndarray:
    """Frames scaled down to ``height`` rows (even width, aspect kept); as-is when ``height <= 0``
    or when they are no taller.

    Done after decoding: decord's own resize garbles widths that are not a multiple of 32.
    """
    if height <= 0 or len(frames) == 0 or frames.shape[1] <= height:
        return frames
    from PIL import Image

    width = max(2, int(round(frames.shape[2] * height / frames.shape[1] / 2)) * 2)
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR)) for f in frames])


def format_timestamp(seconds: float) -> str:
    """``75.0`` -> ``"0:01:15"`` (the H:MM:SS of LongVideo-Reason's timestamps)."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def write_clips(path: str | Path, out_dir: str | Path, clip_seconds: float, *,
                height: int | None = None) -> list[Path]:
    """Cut a video into ``clip_seconds`` H.264 clips ``NAME_000.mp4, ...`` with one ffmpeg run.

    Keyframes are forced at each boundary so the segment muxer cuts exactly there. Raises
    :class:`VideoError` (``transcode_failed``) with ffmpeg's last error line.
    """
    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pattern = out_dir / f"{path.stem}_%03d.mp4"
    import ffmpeg  # ffmpeg-python builds the command line; the binary is ffmpeg_exe()

    extra = {"vf": f"scale=-2:{height}"} if height else {}
    stream = (ffmpeg.input(str(path))
              .output(str(pattern), an=None, vcodec="libx264", preset="ultrafast", pix_fmt="yuv420p",
                      force_key_frames=f"expr:gte(t,n_forced*{clip_seconds:g})", f="segment",
                      segment_time=f"{clip_seconds:g}", reset_timestamps=1, **extra)
              .global_args("-loglevel", "error").overwrite_output())
    try:
        stream.run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as e:
        err = (e.stderr or b"").decode(errors="replace").strip()
        raise VideoError("transcode_failed", f"{path.name}: {err.splitlines()[-1] if err else e}") from None
    return sorted(out_dir.glob(f"{path.stem}_[0-9][0-9][0-9].mp4"))
