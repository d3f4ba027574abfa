"""How `r1data report` draws a GoT row: the reference picture with every instance's measured box
(one colour per prompt object), and the reference chain's planned boxes on a blank 0-1000 canvas,
as GoT-R1's spatial judge sees a plan. The two agree box for box when the row is right. Rows from
prompt files have no picture: only the canvas."""

from __future__ import annotations

from typing import Any

from r1data.parsing import parse_got_plan
from r1data.report import PALETTE, Panel, RowView, drawer


def _figures(table: Any) -> list:
    """Relations and objects per prompt, over every row."""
    from r1data.report.figures import bar_figure

    cols = set(table.column_names)
    out = []
    if "relations" in cols:
        out.append(bar_figure("Relations", [r["relation"] for cell in table.column("relations").to_pylist()
                                             for r in cell or []] or ["none"]))
    if "layout" in cols:
        out.append(bar_figure("Objects to draw per prompt", [str(len(cell or []))
                                                               for cell in table.column("layout").to_pylist()]))
    return out


@drawer("got", group_by="category", figures=_figures)
def draw_got(row: RowView) -> list[Panel]:
    groups = row.get("prompt_objects") or []
    layout = row.get("layout") or []
    colour = {g: PALETTE[g % len(PALETTE)] for g in range(max(len(groups), 1))}
    panels = []
    if row.get("reference_image") is not None or row.reject:
        p = row.image_panel("reference_image", title="the layout drawn")
        for inst, box in zip(layout, row.get("boxes") or []):
            p.box(box, colour.get(inst["group"], PALETTE[0]), inst["name"])
        panels.append(p)
    canvas = Panel(1000, 1000, title="the chain's plan (0-1000 grid)", background="#ffffff")
    for name, box in parse_got_plan(row.get("reasoning") or ""):
        g = next((i["group"] for i in layout if i["name"] == name), 0)
        canvas.box(box, colour.get(g, PALETTE[0]), name)
    canvas.caption = f"{row.get('category', '')}: {row.get('caption', '')}"
    panels.append(canvas)
    return panels
