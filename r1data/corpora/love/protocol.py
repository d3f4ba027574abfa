r"""LOVE-R1's input protocol, as its released code builds it (HumanMLLM/LOVE-R1 @ aa1facb).

Sources, read line by line: ``src/r1-v/src/open_r1/trainer/grpo_trainer.py``
(``_generate_and_score_completions``, ``add_frame_numbers_batch``), ``src/r1-v/src/open_r1/sft_video.py``
(``LazySupervisedDataset._get_item``), ``src/r1-v/src/open_r1/grpo.py`` (``TYPE_TEMPLATE``,
``SYSTEM_PROMPT``), ``trainer/vision_process.py`` (``get_video_hw``) and
``process_data/get_hard_example_cgbench.py`` (the question text with its options).

The user turn is an interleaved list::

    "Full video [0, D]:"                      D = int(duration)
    <fast frames>                             min(int(D_float * 2), 768) frames, linspace over the video,
                                              ~32*28*28 pixels each (x2 for short videos)
    "Subset zoom-in video clip [s, e]:"       per zoomed interval, sorted by start
    <slow frames>                             min(int((e - s) * 2), N) frames, linspace over [s, e],
                                              ~256*28*28 pixels each
    question + "\nOptions:\n" + options + type template + instruction

Every frame carries its timestamp ``int(frame_index / fps)`` in seconds, drawn in red at the
bottom right (font size ``min(w, h) / 8``) before it is resized. The released trainer feeds the
frames as Qwen2.5-VL *videos*; TRL's trainers take images only, so r1data gives each frame as one
image (same pixels, twice the visual tokens of a 2-frame temporal patch: see docs/love.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from r1data.geometry import smart_resize

SYSTEM_MESSAGE = ("You are a helpful assistant. The red numbers on each frame represent the timestamp in seconds "
                  "and you can refer them during temporal grounding.")
# grpo.py SYSTEM_PROMPT, appended after the type template (it starts with a newline)
INSTRUCTION = ("\nBased on the video and the user question, determine whether the visual content is sufficient to "
               "answer the question. If you have enough information, reason using the visual content and provide "
               "your final answer within \\boxed{}. Otherwise, you may zoom in a specific interval of the video "
               "related to the question for more details based on your reasoning. Also provide the time span of "
               "the interval in seconds within \\boxed{[start_time, end_time]}.")
TYPE_TEMPLATE = {
    "multiple choice": "\nProvide only the single option letter (e.g., A, B, C, D, etc.) as the answer.",
    "numerical": "\nProvide the numerical value (e.g., 42 or 3.14) without units as the answer.",
    "OCR": " \nTranscribe text from the image/video clearly and provide your text answer.",
    "free-form": "\nProvide your text answer.",
    "regression": "\nProvide the numerical value (e.g., 42 or 3.14) without units as the answer.",
    "tal": "\nProvide the answer in list format, ie, [start_time, end_time].",
}
LETTERS = "ABCDEFGHIJK"
PIXEL_UNIT = 28 * 28


@dataclass(frozen=True)
class FramePlanConfig:
    """The frame numbers and pixel budgets of one stage (the released values are the defaults:
    the RL trainer's; :meth:`sft` gives the SFT script's)."""

    max_fast_frames: int = 768            # "limit total pixels to 16k"
    fast_fps: float = 2.0                 # frames per second of the fast view (int(D * 2))
    fast_pixels: int = 32 * PIXEL_UNIT    # per fast frame
    short_video_seconds: float = 60.0     # shorter videos get `short_factor` x the fast budget
    short_factor: int = 2
    slow_pixels: int = 256 * PIXEL_UNIT   # per zoom-in frame
    max_slow_frames: int = 16             # per zoomed interval (RL: 16)
    slow_fps: float = 2.0                 # int((e - s) * 2)

    @classmethod
    def sft(cls, **overrides: Any) -> "FramePlanConfig":
        """sft_video.py: short videos are those under 120 s; slow frames 32/24/16 by interval count."""
        return cls(**{"short_video_seconds": 120.0, "max_slow_frames": 32, **overrides})

    def fast_budget(self, duration: float) -> int:
        return self.fast_pixels * (self.short_factor if duration < self.short_video_seconds else 1)


def sft_slow_frames(n_intervals: int, config: FramePlanConfig) -> int:
    """sft_video.py: 32 slow frames for one zoomed interval (or none), 24 for two, 16 for more
    (scaled when the config's maximum is not the released 32)."""
    if n_intervals <= 1:
        return config.max_slow_frames
    return max(1, round(config.max_slow_frames * (24 if n_intervals == 2 else 16) / 32))


def linspace_ids(first: int, last: int, count: int) -> list[int]:
    """``torch.linspace(first, last, count).round().long()``: round half to even, like torch."""
    if count <= 0:
        return []
    return [int(v) for v in np.round(np.linspace(first, last, count))]


def fast_frame_ids(n_frames: int, fps: float, config: FramePlanConfig = FramePlanConfig()) -> list[int]:
    """The fast view: ``min(int(duration * 2), 768)`` frames spread over the whole video (at least one)."""
    duration = n_frames / fps
    count = max(1, min(int(duration * config.fast_fps), config.max_fast_frames))
    return linspace_ids(0, n_frames - 1, count)


def slow_frame_ids(start: float, end: float, n_frames: int, fps: float, max_frames: int,
                   config: FramePlanConfig = FramePlanConfig()) -> list[int]:
    """One zoomed interval: ``min(int((e - s) * 2), max_frames)`` frames over ``[s, e]`` (at least one)."""
    first = max(0, int(start * fps))
    last = min(n_frames - 1, int(end * fps))
    count = max(1, min(int((end - start) * config.slow_fps), max_frames))
    return linspace_ids(first, max(first, last), count)


def frame_seconds(ids: Sequence[int], fps: float) -> list[int]:
    """The timestamp drawn on each frame: ``int(frame_index / fps)``."""
    return [int(i / fps) for i in ids]


def frame_size(height: int, width: int, budget: int) -> tuple[int, int]:
    """vision_process.get_video_hw: the (h, w) a frame is resized to, about ``budget`` pixels
    (both sides multiples of 28; smart_resize with min = budget, max = max(budget, 1.05 budget))."""
    return smart_resize(height, width, 28, budget, max(budget, int(budget * 1.05)))


def normalize_intervals(intervals: Sequence[Sequence[float]] | None) -> list[list[int]]:
    """Intervals as the trainer keeps them: rounded to integer seconds, sorted by start."""
    out = [[int(round(float(iv[0]))), int(round(float(iv[1])))] for iv in (intervals or [])]
    return sorted(out, key=lambda iv: iv[0])


def widen_for_sft(intervals: Sequence[Sequence[float]], duration: float) -> list[list[int]]:
    """sft_video.py: CoT intervals shorter than 5 s become 6 s around their middle (clipped)."""
    out = []
    for iv in intervals:
        s, e = int(round(float(iv[0]))), int(round(float(iv[1])))
        if e - s < 5:
            mid = int((s + e) / 2)
            s, e = max(mid - 3, 0), min(mid + 3, int(duration))
        out.append([s, e])
    return sorted(out, key=lambda iv: iv[0])


def full_video_text(duration: float) -> str:
    return "Full video [%d, %d]:" % (0, int(duration))


def clip_text(start: float, end: float) -> str:
    return "Subset zoom-in video clip [%d, %d]:" % (int(start), int(end))


def question_text(problem: str, options: Sequence[str] | None, problem_type: str = "multiple choice") -> str:
    """The text after the frames: the question, ``Options:`` one a line (``A. ...``), the type
    template and the zoom instruction (get_hard_example_cgbench.py, grpo.py)."""
    text = problem
    if problem_type == "multiple choice" and options:
        text = problem + "\nOptions:\n" + "".join(f"{o}\n" for o in options)
    return text + TYPE_TEMPLATE.get(problem_type, "") + INSTRUCTION


_FONTS: dict[int, Any] = {}


def _font(size: int) -> Any:
    from PIL import ImageFont

    if size not in _FONTS:
        # LOVE-R1 ships Arial Unicode; Pillow's bundled scalable font stands in (same size rule)
        _FONTS[size] = ImageFont.load_default(size=max(1, size))
    return _FONTS[size]


def draw_timestamp(frame: np.ndarray, seconds: int) -> Any:
    """The frame (H x W x 3 uint8) as a PIL image with ``seconds`` in red at the bottom right
    (add_frame_numbers_batch: font size min(w, h) / 8, 10 px padding, raised by a third)."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.ascontiguousarray(frame))
    draw = ImageDraw.Draw(image)
    width, height = image.size
    font = _font(int(min(width, height) / 8))
    text = str(seconds)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    text_w, text_h = right - left + 10, bottom - top + 10
    draw.text((width - text_w, height - text_h - text_h / 3), text, font=font, fill="red")
    return image


def prepare_frames(frames: np.ndarray, seconds: Sequence[int], budget: int) -> list[Any]:
    """Timestamped and resized frames (PIL, RGB), as the model sees them. Frames are prepared on a
    few threads (PIL's resampling releases the GIL): 768 fast frames are most of a rollout's views."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    def one(item: tuple[np.ndarray, int]) -> Any:
        image = draw_timestamp(item[0], int(item[1]))
        h, w = frame_size(image.height, image.width, budget)
        return image.resize((w, h), Image.BICUBIC)

    items = list(zip(frames, seconds))
    workers = min(8, os.cpu_count() or 1, max(1, len(items) // 32))
    if workers <= 1:
        return [one(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, items))


@dataclass(frozen=True)
class ClipView:
    """One zoomed interval and its prepared frames."""

    start: int
    end: int
    frames: list


def user_content(question: str, duration: float, fast: list, clips: Sequence[ClipView]) -> tuple[list[dict], list]:
    """The user turn as TRL's typed parts (``{"type": "image"}`` placeholders in order) and the
    images they stand for: the full video, each clip, then the question text."""
    parts: list[dict] = [{"type": "text", "text": full_video_text(duration)}]
    parts += [{"type": "image"}] * len(fast)
    images = list(fast)
    for clip in clips:
        parts.append({"type": "text", "text": clip_text(clip.start, clip.end)})
        parts += [{"type": "image"}] * len(clip.frames)
        images += clip.frames
    parts.append({"type": "text", "text": question})
    return parts, images
