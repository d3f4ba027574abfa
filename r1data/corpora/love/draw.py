"""How `r1data report` draws a love row: the video's timeline with the clue intervals (red) and the
zoom the CoT asks for (yellow), then what the model is shown: a few frames of the fast view and the
zoomed clip's frames, each stamped with its second in red as LOVE-R1 stamps them."""

from __future__ import annotations

import io

from r1data.corpora.longvideo.draw import TIMELINE, TIMELINE_CSS, _stamp
from r1data.report import ANSWER, TARGET, Panel, RowView, drawer

FAST_SHOWN = 4             # fast-view frames shown (of up to 768)
FRAME_HEIGHT = 120


def timeline(duration: float, clues: list[tuple[float, float]], zoom: list[int] | None, grounding: bool) -> Panel:
    w, h = TIMELINE
    p = Panel(w, h, title=f"timeline, {_stamp(duration)}", background="#2b2b2b")
    p.display = TIMELINE_CSS
    x = (lambda t: w * max(0.0, min(float(t), duration)) / duration) if duration > 0 else (lambda t: 0.0)
    p.box([0, 26, w, 34], "#777777", "the full video (fast view)", width=1, fill="#9a9a9a", tag=False)
    for a, b in clues:
        p.box([x(a), 14, max(x(b), x(a) + 2), 46], ANSWER, f"clue {a:.1f}–{b:.1f} s"
              + (" (tgt of this grounding row)" if grounding else ""), width=2, fill=ANSWER, tag=False)
    if zoom:
        p.box([x(zoom[0]), 6, max(x(zoom[1]), x(zoom[0]) + 2), 54], TARGET, f"the CoT zooms into [{zoom[0]}, {zoom[1]}]",
              width=3, tag=False)
    p.text((4, 12), "0 s", "#dddddd", size=10, halo=False)
    p.text((w - 40, 12), f"{duration:.0f} s", "#dddddd", size=10, halo=False)
    return p


def _frames(path: str, ids: list[int], seconds: list[int]) -> list[bytes]:
    """The frames as the model sees them (timestamped by LOVE-R1's rule), JPEG for the page."""
    from r1data.corpora.longvideo.video import read_frames, with_decoder
    from r1data.corpora.love.protocol import draw_timestamp

    frames = with_decoder(path, lambda vr: read_frames(vr, [min(i, len(vr) - 1) for i in ids], height=FRAME_HEIGHT))
    out = []
    for frame, sec in zip(frames, seconds):
        buf = io.BytesIO()
        draw_timestamp(frame, sec).save(buf, format="JPEG", quality=80)
        out.append(buf.getvalue())
    return out


@drawer("love", group_by="question_kind")
def draw_love(row: RowView) -> list[Panel]:
    duration = float(row.get("duration") or 0.0)
    clues = [(float(c["start"]), float(c["end"])) for c in row.get("clues") or [] if c]
    zoom = row.get("cot_zoom")
    line = timeline(duration, clues, zoom, row.get("tgt") is not None)
    panels = [line]
    path = row.path("videos")
    fast = row.get("fast_frames") or {}
    picks: list[tuple[str, int, int]] = []
    ids, secs = fast.get("indices") or [], fast.get("seconds") or []
    for k in range(FAST_SHOWN):
        if ids:
            j = int(round(k * (len(ids) - 1) / max(1, FAST_SHOWN - 1)))
            picks.append(("fast", ids[j], secs[j]))
    for clip in row.get("slow_frames") or []:
        for i, s in list(zip(clip.get("indices") or [], clip.get("seconds") or []))[:: max(1, len(clip.get("indices") or []) // 4)][:4]:
            picks.append(("zoom", i, s))
    why = ""
    if path is None or not path.is_file():
        why = f"the video is not there ({row.get('videos')})"
    elif picks:
        try:
            jpegs = _frames(str(path), [i for _, i, _ in picks], [s for _, _, s in picks])
        except ImportError:
            jpegs, why = [], "decord is not installed (pip install 'r1data[video]')"
        except Exception as e:    # a video that does not decode: the timeline still shows
            jpegs, why = [], f"{type(e).__name__}: {e}"
        for (kind, _, sec), data in zip(picks, jpegs):
            from PIL import Image

            with Image.open(io.BytesIO(data)) as im:
                size = im.size
            f = Panel(size[0], size[1], image=data, title=f"{'zoom-in' if kind == 'zoom' else 'fast view'}, {sec} s")
            f.display = 150.0
            if kind == "zoom":
                f.box([0, 0, size[0], size[1]], TARGET, "a frame of the zoomed clip", width=4, tag=False)
            panels.append(f)
    line.caption = (f"{row.get('task', '')}; answer {row.get('answer')}; red: the clue interval(s); yellow: the "
                    f"zoom the CoT asks for; frames as the model sees them (red seconds)"
                    + (f" · frames not drawn: {why}" if why else ""))
    return panels
