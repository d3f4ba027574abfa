"""The video steps of longvideo: render, probe, cut into clips, caption, cache frames, plan.

In spec order (``pipelines/longvideo.yaml``)::

    render_procedural_video -> probe_video -> cut_clips -> caption_clips -> cache_frames
    -> plan_questions -> annotate (questions) -> parse_questions -> balance_answer_letters
    -> format_problem -> annotate (reasoning rewrite) -> verify -> dedup -> split

The steps up to ``parse_questions`` are stateless and run in the workers; the question
steps live in ``qa_steps.py``.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from r1data.corpora.longvideo.questions import CATEGORIES, CATEGORY_SENTENCES
from r1data.corpora.longvideo.render import render_video
from r1data.corpora.longvideo.video import (VideoError, clip_frame_indices, clip_spans, format_timestamp,
                                            probe_video, read_frames, uniform_indices, with_decoder, write_clips)
from r1data.errors import UsageError
from r1data.registry import steps as step_registry
from r1data.steps.base import PositiveInt, Reject, StepContext, step, validate_params


def build_folder(ctx: StepContext) -> Path:
    """Where files made by the build go: the build's output folder (a temp folder without one)."""
    if ctx.output is not None:
        return Path(ctx.output)
    return Path(tempfile.gettempdir()) / f"r1data-{ctx.corpus}"


@step("render_procedural_video")
def render_procedural_video(rows: list[dict], ctx: StepContext, *, width: int = 160, height: int = 120,
                            fps: float = 8.0, folder: str = "videos") -> Iterator[dict | Reject]:
    """Render rows that carry an event log but no file to ``OUTPUT/videos/ID-DIGEST.mp4``.

    ``videos`` is the path relative to the corpus folder (like the released
    ``longvila_videos/ID.mp4``); a video already there from an interrupted build is reused
    (``DIGEST`` hashes the log and the size, so it is the same video).
    """
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise UsageError(f"render_procedural_video: width and height must be even and >= 32, got {width}x{height}")
    root = build_folder(ctx)
    for row in rows:
        if row.get("video_path") or row.get("script") is None:
            yield row
            continue
        # the name carries a digest of what is drawn, so a file left by a build with another
        # seed or size (--overwrite keeps videos/) is never taken for this one
        digest = hashlib.blake2b(f"{row['script'].to_json()}|{width}x{height}@{fps:g}".encode(),
                                 digest_size=4).hexdigest()
        rel = f"{folder}/{row['video_id']}-{digest}.mp4"
        path = root / rel
        if not path.exists():
            try:
                render_video(row["script"], path, width=width, height=height, fps=fps)
            except RuntimeError as e:
                yield Reject(row, "render_failed", str(e))
                continue
            ctx.stats.count("videos_rendered")
        row["video_path"], row["videos"] = str(path), rel
        yield row


@step("probe_video")
def probe_video_step(rows: list[dict], ctx: StepContext, *, min_seconds: float = 2.0) -> Iterator[dict | Reject]:
    """Open each video with decord and decode its first and last frames; reject what fails
    (``unreadable_path``, ``zero_length``, ``corrupt_video``, ``unsupported_codec``,
    ``truncated_video``, ``too_short``) with the reason, and go on."""
    for row in rows:
        try:
            info = probe_video(row["video_path"], min_seconds=min_seconds)
        except VideoError as e:
            yield Reject(row, e.reason, e.detail)
            continue
        row.update(video_frames=info.n_frames, video_fps=info.fps, video_duration=info.duration,
                   video_width=info.width, video_height=info.height)
        if row.get("source") == "folder":   # a source file (rendered videos are the build's own)
            ctx.record_file(row["video_path"], kind="media")
        ctx.stats.count("video_seconds", info.duration)
        yield row


@step("cut_clips")
def cut_clips(rows: list[dict], ctx: StepContext, *, clip_seconds: float = 10.0, frames_per_clip: PositiveInt = 4,
              frame_height: int = 0, write_clip_files: bool = False, max_clips: PositiveInt = 2000,
              folder: str = "clips") -> Iterator[dict | Reject]:
    """Split each video into ``clip_seconds`` clips and decode ``frames_per_clip`` frames
    spread evenly in each (scaled down to ``frame_height`` rows when > 0, for the captioner:
    an hour at 10 s and 4 frames per clip is 1,440 frames held until the captions are done).

    With ``write_clip_files`` each clip is also cut to ``OUTPUT/clips/ID/ID_NNN.mp4`` by one
    ffmpeg run (what a video VLM captioner reads). Videos of more than ``max_clips`` clips
    are rejected (``too_long``).
    """
    if clip_seconds <= 0 or frames_per_clip < 1:
        raise UsageError(f"cut_clips: clip_seconds must be > 0 and frames_per_clip >= 1, "
                         f"got {clip_seconds} and {frames_per_clip}")
    for row in rows:
        spans = clip_spans(row["video_duration"], clip_seconds)
        if len(spans) > max_clips:
            yield Reject(row, "too_long", f"{len(spans)} clips of {clip_seconds:g} s > max_clips {max_clips}")
            continue
        def clip_frames(vr: Any) -> np.ndarray:
            per_clip = clip_frame_indices(spans, row["video_fps"], len(vr), frames_per_clip)
            return read_frames(vr, np.concatenate(per_clip), height=frame_height)

        try:
            try:
                frames = with_decoder(row["video_path"], clip_frames)
            except VideoError:
                raise
            except Exception as e:  # decord (DECORDError) fails mid-file on a damaged stream
                raise VideoError("truncated_video", f"decoding clip frames: {type(e).__name__}: "
                                                    f"{str(e).strip()[:160]}") from None
            if write_clip_files:
                paths = write_clips(row["video_path"], build_folder(ctx) / folder / row["video_id"], clip_seconds)
                row["clip_paths"] = [str(p) for p in paths]
        except VideoError as e:
            yield Reject(row, e.reason, e.detail)
            continue
        row["clips"] = [{"start": s, "end": e} for s, e in spans]
        row["clip_frames"] = np.split(frames, len(spans))
        ctx.stats.count("clips", len(spans))
        yield row


def _jpeg(frame: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@step("caption_clips")
class CaptionClips:
    """Caption every clip with the ``annotate`` step's machinery, one call per clip.

    ``profile``/``function``/``template`` are those of ``annotate`` (``--annotator`` swaps
    the profile, as for every annotate step). Each clip is annotated as a row with
    ``video_id``, ``clip_index``, ``start``/``end`` (seconds), ``start_time``/``end_time``
    (``H:MM:SS``), ``frames`` (the sampled frames; JPEG bytes for API profiles) and
    ``script`` (the event log, or None). The captions are merged LongVideo-Reason's way:
    ``From START to END, caption`` one a line, in ``captions_text``.
    """

    def __init__(self, ctx: StepContext, *, profile: str = "programmatic", function: str = "longvideo_caption",
                 template: str = "longvideo_caption.jinja"):
        self.ctx = ctx
        sdef = step_registry.get("annotate")
        params = {"profile": profile, "function": function, "template": template, "output": "caption"}
        if "images" in sdef.params_model.model_fields:
            params["images"] = "frames"
        values, err = validate_params(sdef.params_model, params)
        if err is not None:
            raise UsageError(f"caption_clips: {err.errors()[0].get('msg')}")
        self.annotate = sdef.make(ctx, values)
        profile_obj = getattr(self.annotate, "profile", None)
        self.programmatic = getattr(profile_obj, "provider", "programmatic") == "programmatic"

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        for row in rows:
            clip_rows = []
            paths = row.get("clip_paths") or []
            for k, (clip, frames) in enumerate(zip(row["clips"], row["clip_frames"])):
                clip_rows.append({
                    "id": f"{row['id']}-clip{k:04d}", "video_id": row["video_id"], "clip_index": k,
                    "start": clip["start"], "end": clip["end"],
                    "start_time": format_timestamp(clip["start"]), "end_time": format_timestamp(clip["end"]),
                    "frames": list(frames) if self.programmatic else [_jpeg(f) for f in frames],
                    "script": row.get("script"),
                    "clip_path": paths[k] if k < len(paths) else None,
                })
            out = list(self.annotate(clip_rows))
            failed = [r for r in out if isinstance(r, Reject)]
            if failed:
                yield Reject(row, "caption_failed", f"clip {failed[0].row.get('clip_index')}: "
                                                    f"{failed[0].reason} {failed[0].detail}".strip())
                continue
            row["captions"] = [{"start": c["start"], "end": c["end"], "caption": str(c["caption"]).strip()}
                               for c in out]
            row["captions_text"] = merge_captions(row["captions"])
            # frame measurements of the offline captioner (ground truth for videos without a log)
            row["clip_stats"] = [c["clip_stats"] for c in out] if all("clip_stats" in c for c in out) else []
            yield row


def merge_captions(captions: list[dict]) -> str:
    """``From 0:00:00 to 0:00:10, a red circle enters...`` one line per clip (step 4's input)."""
    lines = []
    for c in captions:
        text = c["caption"]
        text = text[:1].lower() + text[1:]
        lines.append(f"From {format_timestamp(c['start'])} to {format_timestamp(c['end'])}, {text}")
    return "\n".join(lines)


@step("cache_frames")
def cache_frames(rows: list[dict], ctx: StepContext, *, frames: int = 0, height: int = 0,
                 folder: str = "frame_cache") -> Iterator[dict | Reject]:
    """Store ``frames`` frames sampled uniformly over each video, once, as
    ``OUTPUT/frame_cache/ID-DIGEST-NxH.npy`` (uint8, N x H x W x 3) for training without re-decoding;
    ``frame_cache`` holds the path relative to the corpus folder. ``frames: 0`` turns it off."""
    root = build_folder(ctx)
    for row in rows:
        if frames <= 0:
            yield row
            continue
        # named after the video (a rendered one's name holds its content digest) and its size,
        # so a replaced video gets a new cache and the row stays the same from build to build
        size = Path(row["video_path"]).stat().st_size
        digest = hashlib.blake2b(f"{row['videos']}|{size}".encode(), digest_size=4).hexdigest()
        rel = f"{folder}/{row['video_id']}-{digest}-{frames}x{height}.npy"
        path = root / rel
        if not path.exists():
            try:
                data = with_decoder(row["video_path"],
                                    lambda vr: read_frames(vr, uniform_indices(len(vr), frames), height=height))
            except VideoError as e:
                yield Reject(row, e.reason, e.detail)
                continue
            except Exception as e:  # decord's errors for frames that do not decode
                yield Reject(row, "truncated_video", f"caching frames: {type(e).__name__}: {str(e).strip()[:160]}")
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.stem}.part.npy")
            np.save(tmp, data)
            tmp.replace(path)
        row["frame_cache"] = rel
        yield row


@step("plan_questions", expands=True)
def plan_questions(rows: list[dict], ctx: StepContext, *,
                   categories: list[str] = list(CATEGORIES)) -> Iterator[dict | Reject]:
    """One question row per video and category (``problem_type``), with LongVideo-Reason's
    category sentence for the prompt and a ``problem_id`` unique in the corpus."""
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown or not categories:
        raise UsageError(f"plan_questions: categories must be some of {', '.join(CATEGORIES)}, got {categories}")
    for row in rows:
        base = {k: v for k, v in row.items() if k != "clip_frames"}   # frames are done with
        for cat in categories:
            q = dict(base)
            q["id"] = f"{row['id']}-{cat}"
            q["problem_type"] = cat
            q["category_sentence"] = CATEGORY_SENTENCES[cat]
            q["problem_id"] = int(row.get("_source_index", 0)) * len(CATEGORIES) + CATEGORIES.index(cat)
            yield q
