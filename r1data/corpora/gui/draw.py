"""How `r1data report` draws a GUI row: the screen with its elements (grey), the element acted on
(red box), where the action lands (red dot; a swipe's direction arrowed), the call the reference
completion makes scaled back from the model's resized frame (dashed yellow: it should sit on
the red dot), and the screen after the action beside it."""

from __future__ import annotations

from r1data.parsing import parse_mobile_use_call
from r1data.report import ANSWER, MUTED, TARGET, Panel, RowView, drawer

SWIPE = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}


@drawer("gui", group_by="task")
def draw_gui(row: RowView) -> list[Panel]:
    p = row.image_panel("image", title="screen")
    for el in row.get("elements") or []:
        if el.get("box"):
            p.box(el["box"], MUTED, f"{el.get('role', '')}: {el.get('label', '')}", width=1, tag=False)
    if row.get("target_box"):
        p.box(row["target_box"], ANSWER, f"target: {row.get('target_label', '')}", width=3)
    gt = row.json("gt_action") or {}
    point = row.get("point") or gt.get("coordinate")
    if point:
        p.point(point, ANSWER, "", radius=6)
        direction = SWIPE.get(str(gt.get("direction", "")).lower())
        if direction:
            reach = 0.2 * min(p.width, p.height)
            p.arrow(point, (point[0] + direction[0] * reach, point[1] + direction[1] * reach), ANSWER,
                    f"swipe {gt['direction']}")
    call = parse_mobile_use_call(row.get("solution"))
    written = call.get("coordinate") if isinstance(call, dict) else None
    if isinstance(written, list) and len(written) == 2:
        px = row.to_pixels("solution", written)       # the resized frame -> the screen's pixels
        if px is not None:
            p.point(px.tolist(), TARGET, "the solution's coordinate, scaled to the screen", radius=9, tag=False,
                    ring=True)
    action = row.get("action") or ""
    p.caption = (f"{row.get('task', '')}{' / ' + row['recovery'] if row.get('recovery') else ''}: {action}"
                 " · red: target and where the action lands, yellow ring: the solution's call "
                 f"(from the {row.get('resized_width')}x{row.get('resized_height')} frame)")
    panels = [p]
    if row.get("screen_after"):
        panels.append(row.image_panel("screen_after", title="after the action"))
    return panels
