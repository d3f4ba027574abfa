"""``r1data report``: one static HTML page showing a build, with its rows drawn.

A corpus says how its rows are drawn by registering a drawer, as it registers its steps::

    from r1data.report import drawer, Panel, RowView

    @drawer("vqa_verify", group_by="question_type")
    def draw_vqa_verify(row: RowView) -> list[Panel]:
        p = row.image_panel("image")                  # the stored image, in its pixels
        for box in row["bboxs"]:
            p.box(box, label="answer")
        return [p]

The drawer gets one row (a mapping of field to value, plus the helpers of :class:`RowView`:
``image_panel``, ``image_size``, ``to_pixels`` for a field's declared frame, ``json``, ``path``)
and returns the panels to show, in order. A corpus without a drawer gets the generic one: its
images with every declared box, point and mask on them. ``group_by`` names the column the
gallery samples across (question type, task, category); ``figures`` a function
``(table) -> list[Figure]`` adding the corpus's own plots (:mod:`r1data.report.figures`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from r1data.registry import drawers
from r1data.report.panel import ANSWER, CONTEXT, MUTED, OTHER, PALETTE, TARGET, Panel
from r1data.report.view import RowView

Drawer = Callable[[RowView], "list[Panel]"]

__all__ = ["drawer", "Drawer", "Panel", "RowView", "ANSWER", "TARGET", "OTHER", "CONTEXT", "MUTED", "PALETTE",
           "build_report"]


def drawer(corpus: str, *, group_by: str | None = None,
           figures: Callable[[Any], list] | None = None) -> Callable[[Drawer], Drawer]:
    """Register how rows of ``corpus`` are drawn: ``fn(row: RowView) -> list[Panel]``."""
    return drawers(corpus, group_by=group_by, figures=figures)


def build_report(*args: Any, **kwargs: Any) -> Any:
    """See :func:`r1data.report.page.build_report`."""
    from r1data.report.page import build_report as build

    return build(*args, **kwargs)
