"""How `r1data report` draws a VQA-Verify row: the image, its objects, the answer boxes, and
the boxes the reference completion writes (in the model's resized frame, scaled back with the
frame the schema declares: a misplaced one shows beside the answer box)."""

from __future__ import annotations

from r1data.parsing import parse_boxes2d, tag_content
from r1data.report import ANSWER, MUTED, TARGET, Panel, RowView, drawer


@drawer("vqa_verify", group_by="question_type")
def draw_vqa_verify(row: RowView) -> list[Panel]:
    p = row.image_panel("image")
    grounding = set(row.get("object_ids") or [])
    for obj in row.get("objects") or []:
        if obj.get("box") and obj.get("id") not in grounding:
            p.box(obj["box"], MUTED, str(obj.get("category", "")), width=1)
    for box in row.get("bboxs") or []:
        p.box(box, ANSWER, "bboxs: the answer's region", width=3, tag=False)
    written = parse_boxes2d(tag_content(row.get("solution"), "bbox")) or []
    for box in written:
        px = row.to_pixels("solution", box)
        if px is not None:
            p.box(px.tolist(), TARGET, "the solution's <bbox>, scaled to the image", width=2, dashed=True, tag=False)
    p.caption = (f"{row.get('question_type', '')}: {row.get('answer', '')} · red: bboxs, dashed yellow: the "
                 f"solution's <bbox> ({len(written)}) scaled from the model's frame, grey: other objects")
    return [p]
