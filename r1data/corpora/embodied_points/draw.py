"""How `r1data report` draws Embodied-R1 rows: pointing rows (embodied_points) with the target's
and the moved object's masks and boxes, the ground truth the rewards read (a polygon, free
points, an 8-point trace) and the solution's points in order; stage-1 QA rows
(embodied_spatial) with every object boxed and the ones the question is about in colour."""

from __future__ import annotations

import json
import re

from r1data.report import ANSWER, CONTEXT, MUTED, OTHER, TARGET, Panel, RowView, drawer

_TYPED = re.compile(r"^\s*<type>(.*?)</type>(.*)$", re.S)


def ground_truth(answer: str | None) -> tuple[str, object]:
    """``<type>TYPE</type>JSON`` -> (TYPE, the parsed payload); ("", None) when unreadable."""
    m = _TYPED.match(answer or "")
    if not m:
        return "", None
    try:
        return m.group(1).strip(), json.loads(m.group(2))
    except ValueError:
        return m.group(1).strip(), None


def draw_ground_truth(p: Panel, data_type: str, payload: object) -> None:
    """The payload the rewards score against, in green."""
    if isinstance(payload, dict):
        if payload.get("segmentation"):
            p.line(payload["segmentation"], OTHER, "ground truth: the target's outline", closed=True)
        if payload.get("bbox"):
            p.box(payload["bbox"], OTHER, "ground truth: free region", dashed=True, tag=False)
        for q in payload.get("free_points") or []:
            p.point(q, OTHER, "ground truth: free point", radius=3, tag=False)
        if payload.get("trajectory"):
            p.line(payload["trajectory"], OTHER, "ground truth: trace", arrow=True, dashed=True)
    elif isinstance(payload, list) and payload and all(isinstance(q, list) and len(q) == 2 for q in payload):
        for q in payload:
            p.point(q, OTHER, "ground truth: a point in the region", radius=3, tag=False)


@drawer("embodied_points", group_by="ability")
def draw_embodied_points(row: RowView) -> list[Panel]:
    p = row.image_panel("images", 0)
    broken: list[str] = []
    for mask, color, label in ((row.get("object_mask"), CONTEXT, "object to move"),
                               (row.get("target_mask"), TARGET, "target")):
        if mask:
            try:
                p.mask(mask, color, label, opacity=0.3)
            except Exception as e:  # a mask that does not decode: said, and the rest still drawn
                broken.append(f"{label} mask not drawn: {type(e).__name__}")
    for obj in row.get("objects") or []:
        if obj.get("box"):
            p.box(obj["box"], MUTED, str(obj.get("category", "")), width=1, tag=False)
    if row.get("object_box"):
        p.box(row["object_box"], CONTEXT, "object to move")
    if row.get("target_box"):
        p.box(row["target_box"], TARGET, "target")
    data_type, payload = ground_truth(row.get("answer"))
    draw_ground_truth(p, data_type, payload)
    points = row.get("points") or []
    if row.get("ability") == "VTG" and len(points) > 1:
        p.line(points, ANSWER, "the solution's trace", arrow=True, width=3)
    for k, q in enumerate(points):
        p.point(q, ANSWER, str(k + 1) if len(points) > 1 else "", radius=4)
    p.caption = (f"{row.get('ability', '')} ({data_type or row.get('data_type', '')}): {row.get('instruction', '')}"
                 " · yellow: target, blue: object to move, green: ground truth, red: the solution's points"
                 + "".join(f" · {b}" for b in broken))
    return [p]


def _program_ids(program: object) -> set[int]:
    """Object ids a stage-1 question's program names (its single-letter operands)."""
    if isinstance(program, str):
        try:
            program = json.loads(program)
        except ValueError:
            return set()
    ids: set[int] = set()
    if isinstance(program, dict):
        for k, v in program.items():
            if len(k) == 1 and isinstance(v, int):
                ids.add(v)
            elif isinstance(v, list) and len(k) <= 2:
                ids.update(x for x in v if isinstance(x, int))
    return ids


@drawer("embodied_spatial", group_by="family")
def draw_embodied_spatial(row: RowView) -> list[Panel]:
    p = row.image_panel("images", 0)
    named = _program_ids(row.get("program"))
    for obj in row.get("objects") or []:
        hit = obj.get("id") in named
        if obj.get("box"):
            p.box(obj["box"], ANSWER if hit else MUTED, f"{obj.get('color', '')} {obj.get('category', '')}".strip(),
                  width=3 if hit else 1, tag=hit)
        if obj.get("base"):
            p.point(obj["base"], ANSWER if hit else MUTED, "", radius=2 if not hit else 3)
    options = row.get("options") or []
    letter = re.search(r"\(([A-Z])\)", row.get("answer") or "")
    answer = ""
    if letter and 0 <= ord(letter.group(1)) - 65 < len(options):
        answer = f"({letter.group(1)}) {options[ord(letter.group(1)) - 65]}"
    p.caption = (f"{row.get('family', '')}: {row.get('question', '')} → {answer} · red: the objects the "
                 "question's program names (dot: where each rests)")
    return [p]

