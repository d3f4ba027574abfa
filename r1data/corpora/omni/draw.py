"""How `r1data report` draws an omni row: the keyframe System 2 is asked about, with the target's box
and mask (red) and the other objects (grey), and a timeline of the video's sounds (the target's red)
with the keyframes marked."""

from __future__ import annotations

from r1data.corpora.longvideo.draw import TIMELINE, TIMELINE_CSS
from r1data.report import ANSWER, MUTED, TARGET, Panel, RowView, drawer


def sound_timeline(duration: float, events: list[dict], reference: str, keyframes: list[float]) -> Panel:
    w, h = TIMELINE
    p = Panel(w, h, title=f"sounds, {duration:.0f} s", background="#2b2b2b")
    p.display = TIMELINE_CSS
    x = (lambda t: w * max(0.0, min(float(t), duration)) / duration) if duration > 0 else (lambda t: 0.0)
    for e in events:
        mine = bool(reference) and str(e.get("sound", "")).startswith(reference + ":")
        p.box([x(e["start"]), 16 if mine else 22, max(x(e["end"]), x(e["start"]) + 2), 44 if mine else 38],
              ANSWER if mine else MUTED, f"{e['start']:.1f}–{e['end']:.1f} s {e.get('sound', '')}", width=1,
              fill=ANSWER if mine else "#9a9a9a", tag=False)
    for t in keyframes:
        p.line([(x(t), 6), (x(t), 54)], TARGET, f"keyframe at {t:.2f} s", width=2)
    return p


@drawer("omni", group_by="family")
def draw_omni(row: RowView) -> list[Panel]:
    p = row.image_panel("keyframe_image", title=f"keyframe at {row.get('keyframe_time', 0):.2f} s")
    for obj in row.get("keyframe_objects") or []:
        if obj.get("name") != row.get("reference"):
            p.box(obj["box"], MUTED, obj["name"], width=1)
    if row.get("keyframe_mask"):
        p.mask(row["keyframe_mask"]["bytes"] if isinstance(row["keyframe_mask"], dict) else row["keyframe_mask"],
               ANSWER, "the target's mask")
    if row.get("bbox") and row["bbox"][0] >= 0:
        p.box(row["bbox"], ANSWER, row.get("reference") or "target")
    reference = row.get("reference") or "(released data: no static description)"
    p.caption = f"{row.get('family')}: “{row.get('problem')}” → {reference}; {len(row.get('keyframes') or [])} keyframe(s)"
    line = sound_timeline(float(row.get("duration") or 0.0), row.get("sound_events") or [], row.get("reference") or "",
                          [float(k["time"]) for k in row.get("keyframes") or []])
    line.caption = "red: the target's sounds; grey: the others'; yellow: keyframes"
    return [p, line]
