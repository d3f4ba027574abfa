"""Time spans on a video: schema rows (seconds) <-> Label Studio ``TimelineLabels`` regions (frames).

A span field is a ``list<struct<start, end, ...>>`` whose ``start`` and ``end`` are numbers in
seconds and whose other members are strings (a caption, a label). Each span becomes one timeline
region of the ``TimelineLabels`` control named like the field, and each string member a
per-region ``TextArea`` named ``FIELD__MEMBER`` holding that span's text.

Label Studio counts frames from 1 (``Video`` seeks frame ``f`` to time ``(f - 1) / fps``), and a
region's ``ranges`` are whole frames. A span ``[start, end)`` covers frames
``round(start * fps) + 1`` to ``round(end * fps)``; back, frames ``a..b`` are
``[(a - 1) / fps, b / fps)``. Spans on frame boundaries survive the round trip exactly; others
move by at most half a frame, which :func:`spans_close` treats as unchanged.

The frame rate is the one Label Studio was told (the task's ``r1data_fps``, written by push from
the row's frame-rate field or the video file; Label Studio's own default is 24).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

FPS_KEY = "r1data_fps"        # task data key: the frame rate the <Video> tag uses (framerate="$r1data_fps")
DEFAULT_FPS = 24.0            # Label Studio's default when a video has no frame rate
NUMERIC = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64")


def text_control(field: str, member: str) -> str:
    """Name of the per-region TextArea holding ``member`` of the spans of ``field``."""
    return f"{field}__{member}"


def span_members(t: Any) -> tuple[str, ...] | None:
    """The string members of a span-like ``list<struct<start, end, ...>>`` (``None``: not span-like)."""
    if t.kind != "list" or t.item is None or t.item.kind != "struct":
        return None
    members = dict(t.item.fields)
    if not all(k in members and members[k].kind in NUMERIC for k in ("start", "end")):
        return None
    others = [n for n in members if n not in ("start", "end")]
    if any(members[n].kind != "string" for n in others):
        return None
    return tuple(others)


def seconds_to_frames(start: float, end: float, fps: float) -> tuple[int, int]:
    first = int(round(float(start) * fps)) + 1
    return first, max(first, int(round(float(end) * fps)))


def frames_to_seconds(first: int, last: int, fps: float) -> tuple[float, float]:
    return round((int(first) - 1) / fps, 4), round(int(last) / fps, 4)


def span_results(name: str, texts: tuple[str, ...], spans: list[dict], video: str, fps: float) -> list[dict]:
    """The row's spans as timeline regions (ids ``NAME_i`` keep each span's position)."""
    out: list[dict] = []
    for i, span in enumerate(spans or []):
        if span is None or span.get("start") is None or span.get("end") is None:
            continue
        first, last = seconds_to_frames(span["start"], span["end"], fps)
        ranges = [{"start": first, "end": last}]
        rid = f"{name}_{i}"
        out.append({"id": rid, "from_name": name, "to_name": video, "type": "timelinelabels",
                    "value": {"ranges": ranges, "timelinelabels": [name]}})
        for member in texts:
            out.append({"id": rid, "from_name": text_control(name, member), "to_name": video,
                        "type": "textarea", "value": {"ranges": ranges, "text": [str(span.get(member) or "")]}})
    return out


def read_spans(name: str, texts: tuple[str, ...], results: list[dict], fps: float | None) -> list[dict]:
    """Spans (seconds) from an annotation's results: the pre-annotated ones in their original
    order, then the ones the reviewer drew, by start. Raises ``ValueError`` when unreadable."""
    if not fps or fps <= 0:
        raise ValueError("no frame rate to turn frames into seconds (task data has no r1data_fps)")
    regions = [r for r in results if r.get("from_name") == name]
    text_of: dict[tuple[str, str], str] = {}
    for r in results:
        for member in texts:
            if r.get("from_name") == text_control(name, member):
                text_of[(str(r.get("id")), member)] = "\n".join(str(t) for t in (r.get("value") or {}).get("text") or [])
    spans: list[tuple[tuple[int, float], dict]] = []
    for r in regions:
        ranges = (r.get("value") or {}).get("ranges") or []
        if len(ranges) != 1:
            raise ValueError(f"timeline region {r.get('id')} has {len(ranges)} ranges, expected 1")
        first, last = ranges[0].get("start"), ranges[0].get("end")
        if first is None or last is None:
            raise ValueError(f"timeline region {r.get('id')} has an open range {ranges[0]}")
        if int(last) < int(first):
            first, last = last, first
        start, end = frames_to_seconds(first, last, fps)
        span: dict[str, Any] = {"start": start, "end": end}
        for member in texts:
            span[member] = text_of.get((str(r.get("id")), member), "")
        m = re.fullmatch(re.escape(name) + r"_(\d+)", str(r.get("id")))
        spans.append(((0, int(m.group(1))) if m else (1, start), span))
    spans.sort(key=lambda p: p[0])
    return [s for _, s in spans]


def spans_close(old: list[dict] | None, new: list[dict] | None, texts: tuple[str, ...], fps: float | None) -> bool:
    """Same spans up to half a frame (the frame rounding), same texts up to surrounding space."""
    old, new = old or [], new or []
    if len(old) != len(new):
        return False
    tol = 0.5 / fps + 1e-4 if fps else 1e-4
    for a, b in zip(old, new):
        if abs(float(a["start"]) - float(b["start"])) > tol or abs(float(a["end"]) - float(b["end"])) > tol:
            return False
        if any(str(a.get(m) or "").strip() != str(b.get(m) or "").strip() for m in texts):
            return False
    return True


def probe_fps(path: str) -> float | None:
    """The average frame rate of a video file (``ffprobe``), ``None`` when it cannot be read."""
    ffprobe = shutil.which("ffprobe")
    if not ffprobe:
        return None
    out = subprocess.run([ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=avg_frame_rate", "-of", "default=nw=1:nk=1", path],
                         capture_output=True, text=True, timeout=30)
    num, _, den = out.stdout.strip().partition("/")
    try:
        fps = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return fps if fps > 0 else None
