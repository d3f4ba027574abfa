"""How `r1data report` draws a LongVideo-Reason row: a timeline of the video (its clips, and in
red the intervals the timestamped reasons ground the answer in) and a strip of frames, taken at
the middle of each such interval and spread over the rest of the video, each stamped with its
time (red frames lie inside an interval)."""

from __future__ import annotations

import io
import re
from functools import lru_cache
from r1data.report import ANSWER, Panel, RowView, drawer

STRIP = 8                  # frames in the strip
FRAME_HEIGHT = 120         # rows of a frame as stored in the page
TIMELINE = (960, 56)
TIMELINE_CSS = 1250.0     # as wide as the strip of frames below it


def clue_intervals(timestamped_reasons: str | None) -> list[tuple[float, float]]:
    """The ``##### From H:MM:SS to H:MM:SS:`` spans of the timestamped reasons, in seconds."""
    from r1data.corpora.longvideo.qa_format import _GROUP, parse_time

    out = []
    for line in (timestamped_reasons or "").splitlines():
        m = _GROUP.match(line)
        if m:
            try:
                a, b = parse_time(m.group(1)), parse_time(m.group(2))
            except ValueError:
                continue
            out.append((min(a, b), max(a, b)))
    return out


def strip_times(duration: float, clues: list[tuple[float, float]], count: int = STRIP) -> list[float]:
    """Up to ``count`` times: each clue interval's middle (first four), then evenly spread ones."""
    times = [round((a + b) / 2, 2) for a, b in clues[:4]]
    k = 0
    while len(times) < count and k < 4 * count and duration > 0:
        t = round(duration * (k + 0.5) / count, 2)
        if all(abs(t - u) > duration / (3 * count) for u in times):
            times.append(t)
        k += 1
    return sorted(t for t in times if 0 <= t <= duration)[:count]


@lru_cache(maxsize=32)
def _frames(path: str, indices: tuple[int, ...], height: int) -> tuple[bytes, ...]:
    """JPEG bytes of the frames at ``indices`` (decoded once per video and set of frames)."""
    from PIL import Image

    from r1data.corpora.longvideo.video import read_frames, with_decoder

    frames = with_decoder(path, lambda vr: read_frames(vr, [min(i, len(vr) - 1) for i in indices], height=height))
    out = []
    for f in frames:
        buf = io.BytesIO()
        Image.fromarray(f).save(buf, format="JPEG", quality=80)
        out.append(buf.getvalue())
    return tuple(out)


def _stamp(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def timeline_panel(duration: float, clips: list[dict], clues: list[tuple[float, float]],
                   times: list[float]) -> Panel:
    w, h = TIMELINE
    p = Panel(w, h, title=f"timeline, {_stamp(duration)}", background="#2b2b2b")
    p.display = TIMELINE_CSS
    x = (lambda t: w * max(0.0, min(float(t), duration)) / duration) if duration > 0 else (lambda t: 0.0)
    for k, c in enumerate(clips or []):
        if c and c.get("start") is not None and c.get("end") is not None:
            p.box([x(c["start"]), 22, x(c["end"]), 38], "#777777", f"clip {_stamp(c['start'])}–{_stamp(c['end'])}",
                  width=1, fill="#9a9a9a" if k % 2 else "#cfcfcf", tag=False)
    for a, b in clues:
        p.box([x(a), 14, max(x(b), x(a) + 2), 46], ANSWER, f"reasons ground the answer in {_stamp(a)}–{_stamp(b)}",
              width=2, fill=ANSWER, tag=False)
    for t in times:
        p.line([(x(t), 8), (x(t), 52)], "#ffffff", f"frame at {_stamp(t)}", width=1)
    p.text((4, 12), "0:00:00", "#dddddd", size=10, halo=False)
    p.text((w - 52, 12), _stamp(duration), "#dddddd", size=10, halo=False)
    return p


@drawer("longvideo", group_by="problem_type")
def draw_longvideo(row: RowView) -> list[Panel]:
    duration = float(row.get("video_duration") or 0.0)
    clues = clue_intervals(row.get("timestamped_reasons"))
    times = strip_times(duration, clues)
    timeline = timeline_panel(duration, row.get("clips") or [], clues, times)
    panels = [timeline]
    path = row.path("videos")
    fps = float(row.get("video_fps") or 0.0)
    why = ""
    if path is None or not path.is_file():
        why = f"the video is not there ({row.get('videos')})"
    elif fps <= 0:
        why = "no frame rate"
    else:
        try:
            jpegs = _frames(str(path), tuple(int(round(t * fps)) for t in times), FRAME_HEIGHT)
        except ImportError:
            jpegs, why = (), "decord is not installed (pip install 'r1data[video]')"
        except Exception as e:   # a video that does not decode: the timeline still shows
            jpegs, why = (), f"{type(e).__name__}: {e}"
        for t, data in zip(times, jpegs):
            size = _size(data)
            inside = any(a <= t <= b for a, b in clues)
            f = Panel(size[0], size[1], image=data, title=_stamp(t) + (" (reasons)" if inside else ""))
            f.display = 150.0
            if inside:
                f.box([0, 0, size[0], size[1]], ANSWER, "inside an interval the reasons cite", width=4, tag=False)
            panels.append(f)
    letter = re.search(r"<answer>\s*([A-D])", row.get("answer") or "")
    timeline.caption = (f"{row.get('problem_type', '')}; answer {letter.group(1) if letter else row.get('answer')}"
                        f"; red: the {len(clues)} interval(s) the reasons cite; white ticks: the frames below"
                        + (f" · frames not drawn: {why}" if why else ""))
    return panels


def _size(jpeg: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as im:
        return im.width, im.height

