"""The steps of the omni corpus, in spec order (``pipelines/omni.yaml``)::

    render_av_video | mux_frames -> probe_video (longvideo's) -> plan_expressions -> check_audio
    -> keyframes -> format_omni_rows -> verify -> dedup -> split

Procedural rows carry an ``av_script`` (rendered here with its sounds); released rows (RefAVS,
ReVOS, MeVIS) carry their frames, audio and masks as the readers found them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
import numpy as np

from r1data.corpora.omni import masks as rle
from r1data.corpora.omni.expressions import FAMILIES, PROBLEM_TYPES, expressions, refavs_prompt, video_prompt
from r1data.corpora.omni.render import FrameTruth, render_av_video
from r1data.corpora.longvideo.steps import build_folder
from r1data.errors import UsageError
from r1data.steps.base import PositiveInt, Reject, StepContext, step


@step("render_av_video")
def render_av_video_step(rows: list[dict], ctx: StepContext, *, width: int = 160, height: int = 120,
                         fps: float = 8.0, audio: bool = True, folder: str = "videos") -> Iterator[dict | Reject]:
    """Render rows with an ``av_script`` to ``OUTPUT/videos/ID-DIGEST.mp4``: H.264 frames and the
    objects' sounds mixed by ffmpeg into an AAC track (``audio: false`` leaves the track out). A file
    left by an interrupted build is reused (the digest covers the script, the size and the audio)."""
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise UsageError(f"render_av_video: width and height must be even and >= 32, got {width}x{height}")
    root = build_folder(ctx)
    for row in rows:
        script = row.get("av_script")
        if script is None:
            yield row
            continue
        digest = hashlib.blake2b(f"{script.to_json()}|{width}x{height}@{fps:g}|{audio}".encode(),
                                 digest_size=4).hexdigest()
        rel = f"{folder}/{row['video_id']}-{digest}.mp4"
        path = root / rel
        if not path.exists():
            try:
                render_av_video(script, path, width=width, height=height, fps=fps, audio=audio)
            except RuntimeError as e:
                yield Reject(row, "render_failed", str(e))
                continue
            ctx.stats.count("videos_rendered")
        row["video_path"], row["videos"] = str(path), rel
        row["render_fps"] = fps
        yield row


def _ffmpeg() -> str:
    from r1data.corpora.longvideo.render import ffmpeg_exe

    return ffmpeg_exe()


def encode_frames(frames: list[str], audio: str | None, fps: float, path: Path) -> None:
    """Frames (decoded with PIL, all at the first one's size, even) piped to one ffmpeg run as H.264 at
    ``fps``, with ``audio`` as AAC when given: exactly one video frame per image. ``RuntimeError``
    with ffmpeg's (or PIL's) last words when it fails."""
    import ffmpeg
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.part.mp4")
    with Image.open(frames[0]) as first:
        w, h = first.size
    w, h = max(2, w // 2 * 2), max(2, h // 2 * 2)
    video = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{w}x{h}", r=f"{fps:g}")
    streams = [video.video]
    kwargs: dict = {"vcodec": "libx264", "preset": "ultrafast", "pix_fmt": "yuv420p", "movflags": "+faststart"}
    if audio:
        streams.append(ffmpeg.input(str(audio)).audio)
        kwargs.update(acodec="aac")
    proc = (ffmpeg.output(*streams, str(tmp), **kwargs).global_args("-loglevel", "error").overwrite_output()
            .run_async(cmd=_ffmpeg(), pipe_stdin=True, pipe_stderr=True))
    try:
        for f in frames:
            with Image.open(f) as im:
                proc.stdin.write(np.asarray(im.convert("RGB").resize((w, h))).tobytes())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    except OSError as e:              # a frame PIL cannot read
        proc.kill()
        proc.wait()
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"{Path(f).name}: {e}") from None
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(err.strip().splitlines()[-1] if err.strip() else f"exit code {proc.returncode}")
    tmp.replace(path)


@step("mux_frames")
def mux_frames(rows: list[dict], ctx: StepContext, *, folder: str = "videos") -> Iterator[dict | Reject]:
    """Released rows given as frames (``frame_paths``, at ``frames_fps``) and an optional ``audio_path``
    become one mp4 under ``OUTPUT/videos/`` (frames as H.264, the audio as AAC), so every row has a
    playable video with its sound. A row whose audio file is named but missing keeps no audio (the
    ``check_audio`` step then rejects an audio question)."""
    root = build_folder(ctx)
    for row in rows:
        frames = row.get("frame_paths")
        if not frames or row.get("video_path"):
            yield row
            continue
        audio = row.get("audio_path")
        has_audio = bool(audio) and Path(audio).is_file()
        key = "|".join(frames) + f"|{audio if has_audio else ''}|{row['frames_fps']}"
        rel = f"{folder}/{row['video_id']}-{hashlib.blake2b(key.encode(), digest_size=4).hexdigest()}.mp4"
        path = root / rel
        if not path.exists():
            missing = [f for f in frames if not Path(f).is_file()]
            if missing:
                yield Reject(row, "missing_frame", f"{missing[0]}: no such frame ({len(missing)} missing)")
                continue
            try:
                encode_frames(frames, audio if has_audio else None, float(row["frames_fps"]), path)
            except RuntimeError as e:
                yield Reject(row, "transcode_failed", f"{row['video_id']}: {e}")
                continue
        for f in frames:
            ctx.record_file(f, kind="media")
        if has_audio:
            ctx.record_file(audio, kind="media")
        row["video_path"], row["videos"] = str(path), rel
        row["render_fps"] = float(row["frames_fps"])
        yield row


@step("plan_expressions", expands=True)
def plan_expressions(rows: list[dict], ctx: StepContext, *, families: list[str] = list(FAMILIES),
                     per_family: PositiveInt = 2) -> Iterator[dict | Reject]:
    """Up to ``per_family`` referring expressions per video and family (distinct objects first, by
    the video's seeded generator), one row each; a released expression passes through. A video with
    no expression is rejected (``no_expression``)."""
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise UsageError(f"plan_expressions: families must be some of {', '.join(FAMILIES)}, got {families}")
    for row in rows:
        if row.get("expression"):
            yield row
            continue
        script = row["av_script"]
        made = 0
        for family in families:
            found = expressions(script, family)
            rng = ctx.rng(row["id"], family)
            order = [found[int(i)] for i in rng.permutation(len(found))]
            picked, targets = [], set()
            for e in order:                      # distinct objects first
                if e.target not in targets:
                    picked.append(e)
                    targets.add(e.target)
            picked += [e for e in order if e not in picked]
            for e in picked[:per_family]:
                out = dict(row)
                out.update(id=f"{row['id']}-{e.kind}", family=family, expression=e.text, targets=[e.target],
                           reference=e.reference, keyframe_times=list(e.times), expression_kind=e.kind)
                made += 1
                yield out
        if not made:
            yield Reject(row, "no_expression", "the video supports no expression of " + ", ".join(families))


def has_audio_stream(path: str | Path) -> bool | None:
    """Whether the file has an audio stream (ffprobe); None when ffprobe is missing or fails."""
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-v", "error", "-select_streams", "a", "-show_entries", "stream=codec_type",
                              "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
        return bool(json.loads(out.stdout or "{}").get("streams"))
    except (subprocess.SubprocessError, json.JSONDecodeError, OSError):
        return None


@step("check_audio")
def check_audio(rows: list[dict], ctx: StepContext, *, require_for: list[str] = ["audio"]) -> Iterator[dict | Reject]:
    """Record whether each video has a sound track (``has_audio``, ffprobe) and reject a row of a
    family that needs one (the audio family: its expression names the object by its sound) when the
    video has none (``no_audio_track``)."""
    if shutil.which("ffprobe") is None:
        raise UsageError("check_audio needs ffprobe (apt-get install ffmpeg)")
    seen: dict[str, bool | None] = {}
    for row in rows:
        path = row["video_path"]
        if path not in seen:
            seen[path] = has_audio_stream(path)
        row["has_audio"] = bool(seen[path])
        if row["family"] in require_for and not row["has_audio"]:
            yield Reject(row, "no_audio_track", f"{Path(path).name} has no audio track; the expression "
                                                f"{row['expression']!r} names the object by its sound")
            continue
        yield row


class _Truth:
    """The masks of a row's target objects in frame ``i`` of its video: drawn (procedural),
    decoded from PNG masks (RefAVS) or from COCO RLE (ReVOS/MeVIS)."""

    def __init__(self, row: dict):
        self.row = row
        self.source = row.get("mask_source")
        self.truth = None
        if row.get("av_script") is not None:
            self.truth = FrameTruth(row["av_script"], int(row["video_width"]), int(row["video_height"]),
                                    float(row["render_fps"]))

    def targets(self, i: int) -> list[np.ndarray]:
        h, w = int(self.row["video_height"]), int(self.row["video_width"])
        if self.truth is not None:
            masks = self.truth.masks(i)
            return [masks.get(t, np.zeros((h, w), bool)) for t in self.row["targets"]]
        kind = self.source["kind"]
        if kind == "png":
            paths = self.source["paths"]
            return [_png_mask(paths[i], (w, h)) if i < len(paths) else np.zeros((h, w), bool)]
        out = []
        for per_frame in self.source["rles"]:
            entry = per_frame[i] if i < len(per_frame) else None
            out.append(_fit(rle.decode(entry), (w, h)) if entry else np.zeros((h, w), bool))
        return out

    def objects(self, i: int) -> list[dict]:
        """Every visible object's name and box (procedural only: the stand-in grounder's scene)."""
        if self.truth is None:
            return []
        script = self.row["av_script"]
        return [{"name": script.name(oid), "box": rle.box(m)} for oid, m in sorted(self.truth.masks(i).items())]


def _fit(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A mask at the video's size (ReVOS/MeVIS masks match their frames; muxing evens odd sizes)."""
    w, h = size
    if mask.shape == (h, w):
        return mask
    out = np.zeros((h, w), bool)
    hh, ww = min(h, mask.shape[0]), min(w, mask.shape[1])
    out[:hh, :ww] = mask[:hh, :ww]
    return out


def _png_mask(path: str, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        gray = im.convert("L")
        if gray.size != size:                 # refavs.py resizes the mask to its frame
            gray = gray.resize(size, Image.NEAREST)
        return np.asarray(gray) > 0


def spread_visible(truth: _Truth, n: int, count: int, candidates: int = 32) -> list[int]:
    """``count`` frame indices spread over the frames (at most ``candidates`` looked at) where a target shows."""
    looked = sorted({int(v) for v in np.linspace(0, n - 1, min(n, candidates)).astype(int)})
    visible = [i for i in looked if any(m.any() for m in truth.targets(i))]
    if len(visible) <= count:
        return visible
    return [visible[int(k)] for k in np.linspace(0, len(visible) - 1, count).astype(int)]


def _frame_png(path: str, index: int) -> bytes:
    import io

    from PIL import Image

    from r1data.corpora.longvideo.video import read_frames, with_decoder

    frame = with_decoder(path, lambda vr: read_frames(vr, [index]))[0]
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


@step("keyframes")
def keyframes(rows: list[dict], ctx: StepContext, *, max_keyframes: PositiveInt = 4, min_frames: PositiveInt = 16,
              max_frames: PositiveInt = 24) -> Iterator[dict | Reject]:
    """Each row's keyframes (at most ``max_keyframes``, the first ones where a target is visible)
    with the targets' boxes and COCO-RLE masks; the first keyframe's image (decoded from the video),
    its target box ``bbox`` and mask, and every object there (procedural: what the stand-in grounder
    reads); and Omni-R1's sampled frames for the timing reward: ``min_frames``..``max_frames``
    (a number drawn per row, as revos.py does) spread evenly over the video, each with the targets'
    boxes and mask areas. A row with no visible keyframe is rejected (``no_visible_keyframe``)."""
    for row in rows:
        fps = float(row["video_fps"])
        n = int(row["video_frames"])
        try:
            truth = _Truth(row)
            kfs = []
            times = row.get("keyframe_times")
            if times is None:                # released masks: well-spread frames where a target shows
                times = [i / fps for i in spread_visible(truth, n, max_keyframes)]
            for t in times:
                i = min(n - 1, int(round(float(t) * fps)))
                targets = truth.targets(i)
                if not any(m.any() for m in targets):
                    continue
                kfs.append({"time": round(i / fps, 4), "frame_index": i,
                            "boxes": [rle.box(m) or [-1.0] * 4 for m in targets],
                            "masks": [rle.encode(m) for m in targets]})
                if len(kfs) == max_keyframes:
                    break
            if not kfs:
                yield Reject(row, "no_visible_keyframe", f"no target visible at {times}")
                continue
            first = kfs[0]
            union = np.any(np.stack(truth.targets(first["frame_index"])), axis=0)
            rng = ctx.rng(row["id"], "frames")
            count = n if n <= min_frames else int(rng.integers(min_frames, max_frames + 1))
            sampled = [int(v) for v in np.linspace(0, n - 1, count).astype(int)]
            frame_boxes, frame_area = [], []
            for i in sampled:
                targets = truth.targets(i)
                frame_boxes.append([rle.box(m) or [-1.0] * 4 for m in targets])
                frame_area.append([int(m.sum()) for m in targets])
            image = _frame_png(row["video_path"], first["frame_index"])
        except ValueError as e:            # an unreadable released mask
            yield Reject(row, "bad_mask", str(e))
            continue
        row.update(keyframes=kfs, keyframe_time=first["time"], keyframe_image=image,
                   bbox=rle.box(union) or [-1.0] * 4, keyframe_mask=rle.png(union),
                   keyframe_objects=truth.objects(first["frame_index"]), frame_indices=sampled,
                   frame_boxes=frame_boxes, frame_mask_area=frame_area)
        yield row


@step("format_omni_rows")
def format_omni_rows(rows: list[dict], ctx: StepContext) -> Iterator[dict]:
    """Omni-R1's columns: ``problem_type`` (refavs / video-segmentation), ``problem`` (the expression),
    ``prompt_text`` (REFAVS_TEMPLATE, or revos.py's forced 4-moment template with the sampled frames'
    length), ``sound_events`` (every call: spans for review), ``width``/``height`` and the event log."""
    for row in rows:
        row["problem_type"] = PROBLEM_TYPES[row["family"]]
        row["problem"] = row["expression"]
        if row["family"] == "audio":
            row["prompt_text"] = refavs_prompt(row["expression"])
        else:
            row["prompt_text"] = video_prompt(row["expression"], len(row["frame_indices"]),
                                              ctx.rng(row["id"], "prompt"))
        row["width"], row["height"] = int(row["video_width"]), int(row["video_height"])
        row["duration"] = float(row["video_duration"])
        row["data_type"] = "video"
        script = row.get("av_script")
        row["sound_events"] = script.spans() if script is not None else row.get("sound_events") or []
        row["event_log"] = json.loads(script.to_json()) if script is not None else None
        yield row


def keyframe_problems(row: dict) -> list[str]:
    """What is wrong with a row's keyframes (empty: nothing)."""
    problems = []
    w, h = row.get("width") or 0, row.get("height") or 0
    for k in row.get("keyframes") or []:
        for box, mask in zip(k["boxes"], k["masks"]):
            if box[0] < 0:
                continue
            x1, y1, x2, y2 = box
            if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
                problems.append(f"box {box} at {k['time']} s is outside the {w}x{h} frame")
            try:
                m = rle.decode(mask)
            except ValueError as e:
                problems.append(f"mask at {k['time']} s: {e}")
                continue
            if rle.box(m) != box:
                problems.append(f"box {box} at {k['time']} s is not its mask's {rle.box(m)}")
    return problems

