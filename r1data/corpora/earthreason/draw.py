"""How `r1data report` draws an EarthReason row: the aerial image with the answer's mask as a
translucent overlay (none for an empty target), and the corpus's mask-area figure."""

from __future__ import annotations

from typing import Any

from r1data.report import ANSWER, Panel, RowView, drawer


def mask_area_figures(table: Any) -> list:
    """Share of the image the answer's mask covers, over the rows with a target."""
    import numpy as np
    import pyarrow.compute as pc

    from r1data.report.figures import histogram_figure

    if not {"mask_area", "width", "height", "empty"} <= set(table.column_names):
        return []
    keep = pc.invert(table.column("empty").fill_null(False))
    t = table.filter(keep)
    area = t.column("mask_area").to_numpy(zero_copy_only=False).astype(np.float64)
    size = (t.column("width").to_numpy(zero_copy_only=False).astype(np.float64)
            * t.column("height").to_numpy(zero_copy_only=False).astype(np.float64))
    share = np.divide(area, size, out=np.full_like(area, np.nan), where=size > 0)
    return [histogram_figure("Mask area, share of the image (rows with a target)", share,
                             f"{table.num_rows - t.num_rows:,} rows have an empty target.")]


@drawer("earthreason", group_by="target_class", figures=mask_area_figures)
def draw_earthreason(row: RowView) -> list[Panel]:
    p = row.image_panel("image")
    if row.get("mask") and not row.get("empty"):
        p.mask(row["mask"], ANSWER, f"answer mask ({row.get('target_class', '')})", opacity=0.4)
    area = row.get("mask_area")
    w, h = row.get("width") or 0, row.get("height") or 0
    share = f", {100 * area / (w * h):.1f}% of the image" if area is not None and w and h else ""
    p.caption = ("empty target: the answer is that there is none" if row.get("empty") else
                 f"red: the answer's mask, {row.get('target_class', '')}{share}")
    return [p]
