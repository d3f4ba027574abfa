"""The drawer of a corpus that registers none: its images, with every box, point and mask the
schema declares drawn in the frame it declares. Corpus drawers call the same helpers."""

from __future__ import annotations

from typing import Any

from r1data.frames import is_image_type, walk
from r1data.report.panel import PALETTE, Panel
from r1data.report.view import RowView

MAX_VIEWS = 6           # images of a list<image> shown


def draw_generic(row: RowView) -> list[Panel]:
    panels: list[Panel] = []
    images = [f for f in row.schema.fields if is_image_type(f.type)]
    images.sort(key=lambda f: 0 if f.role == "image" else 1)
    for f in images:
        value = row.get(f.name)
        count = len(value) if isinstance(value, list) else 1
        for i in range(min(count, MAX_VIEWS)):
            index = i if isinstance(value, list) else None
            panel = row.image_panel(f.name, index)
            draw_declared(row, panel, f.name, index, only_first=f is not images[0])
            panels.append(panel)
    return panels


def draw_declared(row: RowView, panel: Panel, image: str, index: int | None = None, *,
                  only_first: bool = False, skip: tuple[str, ...] = (), colors: dict[str, str] | None = None) -> None:
    """Draw on ``panel`` every box, point and mask of the fields whose frame is about ``image``
    (its ``index``-th for a list). Fields with no frame go on the schema's first image only
    (``only_first``: this is not it)."""
    colors = colors or {}
    k = 0
    for f in row.schema.fields:
        if f.name in skip or is_image_type(f.type) or row.get(f.name) is None:
            continue
        if f.frame is not None:
            if f.frame.image != image:
                continue
        elif only_first or not _has_geometry(f.type):
            continue
        color = colors.get(f.name) or PALETTE[k % len(PALETTE)]
        k += 1
        value, t = row.get(f.name), f.type
        if f.frame is not None and f.frame.per_image:
            if index is None or not isinstance(value, list) or index >= len(value):
                continue
            value, t = value[index], t.item
        for path, kind, item in walk(value, t, f.name):
            draw_item(row, panel, f.name, kind, item, color, _label(row, f.name, path), index)


def draw_item(row: RowView, panel: Panel, field: str, kind: str, item: Any, color: str, label: str = "",
              index: int | None = None, *, width: float = 2.0, dashed: bool = False) -> None:
    """One box, point or mask of ``field`` (in its declared frame) on ``panel``."""
    if kind == "mask":
        try:
            panel.mask(item, color, label)
        except Exception as e:     # a mask that does not decode: the row's problem, said under its panel
            panel.caption = f"{panel.caption} (mask {field} not drawn: {type(e).__name__})".strip()
        return
    px = row.to_pixels(field, item, index)
    if px is None:
        return
    if kind == "box2d" and px.size == 4:
        panel.box(px.tolist(), color, label, width=width, dashed=dashed)
    elif kind == "point2d" and px.size == 2:
        panel.point(px.tolist(), color, label)


def _has_geometry(t: Any) -> bool:
    from r1data.frames import has_geometry

    return has_geometry(t)


def _label(row: RowView, field: str, path: str) -> str:
    """``objects[2]`` -> that object's label, category or id when it has one, else the path."""
    head = path.split(".")[0]
    if head != path and "[" in head:
        name, _, rest = head.partition("[")
        try:
            item = row.get(name)[int(rest.rstrip("]"))]
        except (TypeError, ValueError, IndexError, KeyError):
            return path
        if isinstance(item, dict):
            for key in ("label", "category", "name", "id"):
                if item.get(key) not in (None, ""):
                    return str(item[key])
    return path
