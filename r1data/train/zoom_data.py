"""Rows of a zoom-in corpus -> LOVE-R1's interleaved prompts (recipes with ``data.zoom``).

A recipe with a ``zoom:`` section under ``data:`` turns each row into LOVE-R1's user turn
(:mod:`r1data.corpora.love.protocol`): ``Full video [0, D]:`` and the fast frames, then for each
interval already zoomed ``Subset zoom-in video clip [s, e]:`` and its slow frames, then the question
the recipe's ``prompt`` template renders. Frames are decoded with decord, stamped with their second
in red and resized to the protocol's pixel budgets here, for SFT (both CoT steps of a row, as
``zoom.sft_steps`` declares), for rollouts and ``r1data eval --model`` (the first step), and for the
decoupled GRPO trainer (:mod:`r1data.train.zoom`), which asks for the second step's clips itself.
Nothing here imports torch.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1data.corpora.love import protocol
from r1data.train.recipe import ZoomSpec


@dataclass(frozen=True)
class VideoInfo:
    n_frames: int
    fps: float

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps


class ZoomViews:
    """The fast and slow views of videos, decoded once per video and kept for the last few videos
    (a GRPO group asks for the same video ``num_generations`` times)."""

    def __init__(self, spec: ZoomSpec, keep_videos: int = 4):
        self.spec = spec
        self.keep = keep_videos
        self._info: dict[str, VideoInfo] = {}
        self._fast: OrderedDict[tuple, list] = OrderedDict()

    def config(self, sft: bool) -> protocol.FramePlanConfig:
        s = self.spec
        return protocol.FramePlanConfig(
            max_fast_frames=s.max_fast_frames, fast_pixels=s.fast_pixels,
            short_video_seconds=s.sft_short_video_seconds if sft else s.short_video_seconds,
            short_factor=s.short_factor, slow_pixels=s.slow_pixels,
            max_slow_frames=s.sft_max_slow_frames if sft else s.max_slow_frames)

    def info(self, path: str | Path) -> VideoInfo:
        """Frame count and rate (decord); ``VideoError`` when the file does not open."""
        from r1data.corpora.longvideo.video import VideoError, with_decoder

        key = str(path)
        if key not in self._info:
            n, fps = with_decoder(path, lambda vr: (len(vr), float(vr.get_avg_fps() or 0.0)))
            if n <= 0 or fps <= 0:
                raise VideoError("zero_length", f"{Path(path).name}: {n} frames at {fps:g} fps")
            self._info[key] = VideoInfo(int(n), fps)
        return self._info[key]

    def _read(self, path: str | Path, ids: list[int]) -> Any:
        from r1data.corpora.longvideo.video import VideoError, read_frames, with_decoder

        try:
            return with_decoder(path, lambda vr: read_frames(vr, ids))
        except VideoError:
            raise
        except Exception as e:  # decord's errors for frames that do not decode (a cut-off file)
            raise VideoError("truncated_video", f"{Path(path).name}: {str(e).strip()[:160]}") from None

    def fast(self, path: str | Path, sft: bool = False) -> list:
        """The full video's timestamped frames at the fast budget."""
        key = (str(path), sft)
        if key in self._fast:
            self._fast.move_to_end(key)
            return self._fast[key]
        info = self.info(path)
        config = self.config(sft)
        ids = protocol.fast_frame_ids(info.n_frames, info.fps, config)
        frames = protocol.prepare_frames(self._read(path, ids), protocol.frame_seconds(ids, info.fps),
                                         config.fast_budget(info.duration))
        self._fast[key] = frames
        while len(self._fast) > self.keep:
            self._fast.popitem(last=False)
        return frames

    def clip(self, path: str | Path, start: int, end: int, max_frames: int, sft: bool = False) -> list:
        """One zoomed interval's timestamped frames at the slow budget."""
        info = self.info(path)
        config = self.config(sft)
        ids = protocol.slow_frame_ids(start, end, info.n_frames, info.fps, max_frames, config)
        return protocol.prepare_frames(self._read(path, ids), protocol.frame_seconds(ids, info.fps),
                                       config.slow_pixels)

    def content(self, path: str | Path, question: str, intervals: list[list[int]],
                sft: bool = False) -> tuple[list[dict], list]:
        """The user turn's parts and images with ``intervals`` zoomed (already rounded and sorted;
        SFT widens short ones first, see :func:`protocol.widen_for_sft`)."""
        info = self.info(path)
        slow = (protocol.sft_slow_frames(len(intervals), self.config(True)) if sft else self.spec.max_slow_frames)
        clips = [protocol.ClipView(s, e, self.clip(path, s, e, slow, sft)) for s, e in intervals]
        return protocol.user_content(question, info.duration, self.fast(path, sft), clips)


def first_step_intervals(row: dict, spec: ZoomSpec) -> list[list[int]]:
    """What the first generation is shown: none for a grounding row (LOVE-R1's trainer clears them),
    the row's own zoomed intervals otherwise."""
    if row.get(spec.tgt) is not None:
        return []
    return protocol.normalize_intervals(row.get(spec.intervals))


class ZoomFormatter:
    """The zoom-in side of :class:`r1data.train.data.RowFormatter` (which owns the templates, the
    token counting and the skipped-row bookkeeping and hands zoom recipes over to this)."""

    def __init__(self, formatter: Any, spec: ZoomSpec):
        from jinja2 import Environment, StrictUndefined

        self.fmt = formatter
        self.spec = spec
        self.views = ZoomViews(spec)
        env = Environment(undefined=StrictUndefined, keep_trailing_newline=False)
        self.step_templates = [env.from_string(s.completion) for s in spec.sft_steps]

    def video_path(self, row: dict) -> Path:
        from r1data.corpora.longvideo.video import VideoError

        value = row.get(self.fmt.mapping.videos)
        if not value:
            raise VideoError("unreadable_path", "no video path")
        path = Path(value)
        if not path.is_absolute() and self.fmt.root is not None:
            path = self.fmt.root / path
        return path

    def question(self, row: dict) -> str:
        return self.fmt.template.render(**row).strip()

    def system(self, row: dict) -> str | None:
        r = self.fmt.recipe
        if not r.system_prompt:
            return None
        return (self.fmt.system_template.render(**row) if self.fmt.system_template else r.system_prompt).strip()

    def turns(self, row: dict, intervals: list[list[int]], sft: bool = False) -> tuple[list[dict], list]:
        parts, images = self.views.content(self.video_path(row), self.question(row), intervals, sft)
        turns = []
        system = self.system(row)
        if system:
            turns.append({"role": "system", "content": [{"type": "text", "text": system}]})
        turns.append({"role": "user", "content": parts})
        return turns, images

    def _skip(self, row: dict, error: Exception, skipped: Any) -> None:
        skipped.add("unreadable_video", row.get("id"))
        self.fmt.last_error = str(error)
        if len(self.fmt.video_errors) < 10:
            self.fmt.video_errors[str(row.get("id"))] = str(error)

    def prompt(self, row: dict) -> tuple[list[dict], list]:
        """The first generation's prompt (rollouts, ``eval --model``); ``RowSkipped`` for a bad video."""
        from r1data.corpora.longvideo.video import VideoError
        from r1data.train.data import RowSkipped

        try:
            return self.turns(row, first_step_intervals(row, self.spec))
        except VideoError as e:
            raise RowSkipped("unreadable_video", str(e)) from None

    def follow_up(self, row: dict, completion: str) -> tuple[list[dict], list] | None:
        """The second generation's prompt after a valid zoom request of a multiple-choice row (the
        clip appended), else None: what a rollout asks next."""
        from r1data.rewards.love import ZOOM_PREFIX, step2_intervals

        if row.get(self.spec.tgt) is not None or not completion.startswith(ZOOM_PREFIX):
            return None
        duration = row.get(self.spec.duration)
        first = first_step_intervals(row, self.spec)
        shown = step2_intervals(completion, float(duration), row.get(self.spec.intervals), None)
        if len(shown) <= len(first):
            return None      # an invalid zoom: nothing new to show (it scores 0 as it stands)
        return self.prompt_with(row, shown)

    def prompt_with(self, row: dict, intervals: list[list[int]]) -> tuple[list[dict], list]:
        from r1data.corpora.longvideo.video import VideoError
        from r1data.train.data import RowSkipped

        try:
            return self.turns(row, intervals)
        except VideoError as e:
            raise RowSkipped("unreadable_video", str(e)) from None

    def sft(self, rows: list[dict], max_tokens: int | None, skipped: Any) -> list[dict]:
        """One example per row and ``sft_steps`` entry: the step's target after the row's zoomed
        intervals (plus the step's own ``zoom`` interval), widened as LOVE-R1's SFT script does."""
        from r1data.corpora.longvideo.video import VideoError

        out = []
        for row in rows:
            try:
                duration = self.views.info(self.video_path(row)).duration
            except VideoError as e:
                self._skip(row, e, skipped)
                continue
            for step, template in zip(self.spec.sft_steps, self.step_templates):
                target = template.render(**row).strip()
                if not target:
                    skipped.add("empty_completion", row.get("id"))
                    continue
                intervals = [list(iv) for iv in row.get(self.spec.intervals) or []]
                if step.zoom:
                    extra = row.get(step.zoom)
                    if not extra:
                        skipped.add("no_zoom_interval", row.get("id"))
                        continue
                    intervals.append(list(extra))
                try:
                    turns, images = self.turns(row, protocol.widen_for_sft(intervals, duration), sft=True)
                except VideoError as e:
                    self._skip(row, e, skipped)
                    break
                messages = turns + [{"role": "assistant", "content": [{"type": "text", "text": target}]}]
                if max_tokens and self.fmt._tokens(messages, images, False) > max_tokens:
                    skipped.add("too_long", row.get("id"))
                    continue
                out.append({"messages": messages, "images": images})
        return out

    def grpo(self, rows: list[dict], skipped: Any) -> list[dict]:
        """The rows the decoupled GRPO trainer rolls out: the question, the video and its zoom columns
        (frames are decoded by the trainer, which also needs them for the second step)."""
        from r1data.corpora.longvideo.video import VideoError

        out = []
        for row in rows:
            try:
                path = self.video_path(row)
                self.views.info(path)
            except VideoError as e:
                self._skip(row, e, skipped)
                continue
            question = self.question(row)
            system = self.system(row)
            prompt = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]
            example: dict[str, Any] = {"id": row.get("id"), "prompt": prompt, "zoom_video": str(path),
                                       "zoom_question": question, "zoom_system": system or ""}
            for c in (self.spec.intervals, self.spec.duration, self.spec.tgt, *self.fmt.mapping.reward_columns):
                example[c] = row.get(c)
            out.append(example)
        return out


def zoom_fields(loaded: Any, fields: set[str], vision: bool) -> list[str]:
    """The columns a ``data.zoom`` section reads, checked against the build's schema."""
    from r1data.train.data import template_fields

    d = loaded.recipe.data
    z = d.zoom
    if not vision:
        raise loaded.error("a vision model (LOVE-R1's zoom-in views are frames)", "data", "zoom")
    if d.video_frames:
        raise loaded.error("either video_frames or zoom (zoom samples its own frames)", "data", "video_frames",
                           got=d.video_frames)
    cols = []
    for key in ("intervals", "duration", "tgt"):
        name = getattr(z, key)
        if name not in fields:
            raise loaded.error(f"a field of the build's schema ({', '.join(sorted(fields))})", "data", "zoom", key,
                               got=name)
        cols.append(name)
    for i, step in enumerate(z.sft_steps):
        cols.extend(template_fields(loaded, step.completion, fields, f"zoom.sft_steps[{i}].completion"))
        if step.zoom is not None:
            if step.zoom not in fields:
                raise loaded.error(f"a field of the build's schema ({', '.join(sorted(fields))})", "data", "zoom",
                                   "sft_steps", i, "zoom", got=step.zoom)
            cols.append(step.zoom)
    return list(dict.fromkeys(cols))

