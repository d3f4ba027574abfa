"""Ground truth measured from frames, for videos that come without an event log.

A folder of real videos has no log to answer from, so the offline annotator measures what
the sampled frames show: how bright each clip is, its dominant colour, how much changes
between its frames (motion), and which half of the frame is brightest. That supports
temporal questions (which part of the video moves most) and spatial ones (which side of the
frame is brightest); goal and plot questions need a log or an LLM annotator.
"""

from __future__ import annotations

import numpy as np

from r1data.corpora.longvideo.qa_format import ParsedQA, ReasonGroup
from r1data.corpora.longvideo.video import format_timestamp

PALETTE = {"red": (200, 40, 40), "green": (40, 160, 60), "blue": (40, 70, 200), "yellow": (220, 200, 40),
           "orange": (230, 130, 30), "purple": (130, 60, 170), "white": (235, 235, 235),
           "gray": (128, 128, 128), "black": (15, 15, 15), "brown": (120, 80, 40)}
SIDES = ("left", "right", "top", "bottom")


def clip_stats(frames: list[np.ndarray]) -> dict:
    """Brightness (0-255), motion (mean absolute change between sampled frames, 0-255),
    the dominant colour's name and the brightness of each half of the frame."""
    arr = np.stack([np.asarray(f) for f in frames]).astype(np.float32)      # N H W 3
    luma = arr @ np.array([0.299, 0.587, 0.114], np.float32)                  # N H W
    h, w = luma.shape[1:]
    mean_rgb = arr.reshape(-1, 3).mean(axis=0)
    color = min(PALETTE, key=lambda c: float(np.sum((mean_rgb - PALETTE[c]) ** 2)))
    motion = float(np.abs(np.diff(arr, axis=0)).mean()) if len(arr) > 1 else 0.0
    halves = {"left": luma[:, :, : w // 2], "right": luma[:, :, w - w // 2:],
              "top": luma[:, : h // 2], "bottom": luma[:, h - h // 2:]}
    return {"brightness": round(float(luma.mean()), 2), "motion": round(motion, 3), "color": color,
            "sides": {k: round(float(v.mean()), 2) for k, v in halves.items()}}


def _level(value: float, cuts: tuple[float, ...], names: tuple[str, ...]) -> str:
    return names[int(np.searchsorted(cuts, value))]


def caption(stats: dict) -> str:
    light = _level(stats["brightness"], (50, 120), ("dark", "dimly lit", "bright"))
    motion = _level(stats["motion"], (0.5, 3, 10), ("no visible", "little", "some", "a lot of"))
    side = max(SIDES, key=lambda s: stats["sides"][s])
    return (f"A {light} shot dominated by {stats['color']} tones, with {motion} motion; "
            f"the {side} of the frame is the brightest part.")


def question(category: str, captions: list[dict], stats: list[dict], rng: np.random.Generator) -> ParsedQA:
    """A temporal or spatial question answered by the measurements; ``ValueError`` otherwise."""
    if len(stats) != len(captions) or not stats:
        raise ValueError("no frame measurements for this video (the captions came from an API profile)")
    spans = [(c["start"], c["end"]) for c in captions]
    if category == "temporal":
        return _most_motion(spans, stats, rng)
    if category == "spatial":
        return _brightest_side(spans, stats, rng)
    raise ValueError(f"{category} questions need an event log (NAME.events.json beside the video) "
                     "or an LLM annotator (--annotator)")


def _span_text(span: tuple[float, float]) -> str:
    return f"From {format_timestamp(span[0])} to {format_timestamp(span[1])}"


def _when(span: tuple[float, float], duration: float) -> str:
    """Where a clip sits in the video, in words (reasons must not carry timestamps)."""
    middle = (span[0] + span[1]) / 2 / max(duration, 1e-9)
    return _level(middle, (0.15, 0.4, 0.6, 0.85), ("at the start", "early on", "in the middle", "later on",
                                                    "near the end"))


def _letters(rng: np.random.Generator, correct: str, others: list[str]) -> tuple[dict[str, str], str]:
    slot = int(rng.integers(4))
    texts = others[:slot] + [correct] + others[slot:3]
    return dict(zip("ABCD", texts)), "ABCD"[slot]


def _most_motion(spans: list[tuple[float, float]], stats: list[dict], rng: np.random.Generator) -> ParsedQA:
    if len(spans) < 4:
        raise ValueError(f"{len(spans)} clips: a which-part question needs at least 4")
    motion = np.array([s["motion"] for s in stats])
    order = np.argsort(-motion, kind="stable")
    top, second = int(order[0]), float(motion[order[1]])
    if motion[top] < 0.5 or motion[top] < 1.3 * second + 0.2:
        raise ValueError("no part of the video moves clearly more than the others")
    others = [int(i) for i in rng.choice([int(i) for i in order[1:]], size=3, replace=False)]
    options, answer = _letters(rng, _span_text(spans[top]), [_span_text(spans[i]) for i in others])
    duration = spans[-1][1]
    items = [(i, f"{_when(spans[i], duration)}, little changes from frame to frame (mean change "
                 f"{motion[i]:.1f} of 255)") for i in others]
    items.append((top, f"{_when(spans[top], duration)}, the frames change the most (mean change "
                       f"{motion[top]:.1f} of 255), clearly more than anywhere else"))
    groups = [ReasonGroup(*spans[i], (text[:1].upper() + text[1:] + ".",)) for i, text in sorted(items)]
    last = groups[-1]
    groups[-1] = ReasonGroup(last.start, last.end, (*last.reasons, "So the part where the frames change "
                                                                  "the most is the one with the most motion."))
    return ParsedQA("During which part of the video is there the most motion?", options, answer, tuple(groups))


def _brightest_side(spans: list[tuple[float, float]], stats: list[dict], rng: np.random.Generator) -> ParsedQA:
    mean = {s: float(np.mean([st["sides"][s] for st in stats])) for s in SIDES}
    ranked = sorted(SIDES, key=lambda s: -mean[s])
    if mean[ranked[0]] < mean[ranked[1]] + 8:
        raise ValueError("no side of the frame is clearly the brightest")
    best = ranked[0]
    options, answer = _letters(rng, f"The {best} half", [f"The {s} half" for s in rng.permutation(ranked[1:])])
    first, last = spans[0], spans[-1]
    groups = (ReasonGroup(first[0], first[1], (f"At the start, the {max(SIDES, key=lambda s: stats[0]['sides'][s])} "
                                               f"half of the frame is the brightest.",)),
              ReasonGroup(last[0], last[1], (f"Averaged over the whole video the {best} half is the brightest "
                                             f"({mean[best]:.0f} of 255 against {mean[ranked[1]]:.0f} for the "
                                             f"{ranked[1]} half).", f"So the {best} half is the brightest.")))
    if len(spans) == 1:
        groups = groups[1:]
    return ParsedQA("Which half of the frame is the brightest over the whole video?", options, answer, groups)
