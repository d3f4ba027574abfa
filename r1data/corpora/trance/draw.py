"""How `r1data report` draws a TRANCE row: the initial and the final image side by side; on each,
every object in view marked at its centre projected with the image's stored camera and numbered
with its index (the transformed ones red, with what happened to them; the others grey). A number
off its object shows a wrong camera or a wrong state. Released rows carry no camera: their images
are shown with the transformations as the caption."""

from __future__ import annotations

import json
from typing import Any

from r1data.report import ANSWER, MUTED, Panel, RowView, drawer


def _centre(obj: dict) -> tuple[float, float, float]:
    from r1data.corpora.trance.render import world_xy
    from r1data.corpora.trance.world import RADIUS

    x, y = world_xy(obj["position"])
    r = RADIUS.get(obj["size"], 0.6)
    return x, y, r / 1.414 if obj["shape"] == "cube" else r


def _mark(p: Panel, camera: Any, objects: list[dict], changed: dict[int, str]) -> None:
    import numpy as np

    from r1data.corpora.trance.world import is_visible

    shown = [o for o in objects if o and is_visible(o["position"])]
    if not shown:
        return
    uv, depth = camera.project(np.array([_centre(o) for o in shown]))
    for o, (u, v), z in zip(shown, uv, depth):
        if z <= 0 or not (0 <= u < p.width and 0 <= v < p.height):
            continue
        hit = o["index"] in changed
        p.point((u, v), ANSWER if hit else MUTED, changed.get(o["index"], f"object {o['index']}"),
                radius=4 if hit else 3, tag=False)
        p.text((u + 6, v - 6), str(o["index"]), ANSWER if hit else "#fff", size=12)


def _figures(table: Any) -> list:
    from r1data.report.figures import bar_figure

    cols = set(table.column_names)
    """Which attributes change, over every row."""
    out = []
    if "transformations" in cols:
        attrs = [t["attr"] for cell in table.column("transformations").to_pylist() if cell
                 for t in json.loads(cell)]
        out.append(bar_figure("Transformed attributes", attrs))
    return out


@drawer("trance", group_by="setting", figures=_figures)
def draw_trance(row: RowView) -> list[Panel]:
    from r1data.render3d.camera import Camera

    seq = row.json("transformations") or []
    changed = {}
    for t in seq:
        val = "{}.{}".format(*t["val"]) if isinstance(t.get("val"), list) else t.get("val")
        changed[t["obj_idx"]] = (changed.get(t["obj_idx"], "") + f" {t['attr']} -> {val}").strip()
    cameras = row.get("cameras") or []
    panels = []
    states = (row.get("objects") or [], row.get("final_objects") or [])
    titles = ("initial (center camera)", f"final ({row.get('final_view', '?')} camera)")
    for i, title in enumerate(titles):
        p = row.image_panel("images", i, title=title)
        if i < len(cameras) and cameras[i] is not None and not p.placeholder:
            _mark(p, Camera.from_record(cameras[i], int(p.width), int(p.height)), list(states[i]), changed)
        panels.append(p)
    answer = "; ".join((row.get("answer") or "").splitlines())
    panels[-1].caption = (f"{row.get('setting', '')}, {len(seq)} transformation(s): {answer} · red: the "
                          "transformed objects at their projected centres, grey: the others")
    return panels
