"""The prompt and the programmatic answer of each Embodied-Points row.

* ``write_problem`` (step) renders ``annotators/templates/embodied_points_problem.jinja`` with
  the row into the ``problem`` column (Embodied-R1's task prompts, ``<image>`` first).
* ``embodied_points_reasoning`` (programmatic annotator) writes the ``solution`` column,
  ``<think>...</think><answer><point>[[x, y], ...]</point></answer>``, from ground truth: the
  reasoning names the target and where it is, the points are the row's ``points``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from r1data.corpora.embodied_points.tasks import TRACE_POINTS
from r1data.errors import UsageError
from r1data.steps.annotate import programmatic_annotator
from r1data.steps.base import Reject, StepContext, step


@step("write_problem")
class WriteProblem:
    """Render the task prompt template (``annotators/templates/NAME``) into ``output``."""

    def __init__(self, ctx: StepContext, *, template: str = "embodied_points_problem.jinja",
                 output: str = "problem"):
        import jinja2

        try:
            path = ctx.assets.find("annotators", f"templates/{template}", suffixes=(".jinja", ".j2"))
        except Exception as e:
            raise UsageError(f"write_problem: template {template!r}: {getattr(e, 'message', e)}") from None
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
        try:
            self.template = env.from_string(path.read_text(encoding="utf-8"))
        except jinja2.TemplateSyntaxError as e:
            raise UsageError(f"{path}:{e.lineno}: template syntax error: {e.message}") from None
        self.output = output

    def __call__(self, rows: Iterable[dict]) -> Iterator[dict | Reject]:
        import jinja2

        for row in rows:
            try:
                text = self.template.render(**row, trace_points=TRACE_POINTS).strip()
            except jinja2.UndefinedError as e:
                yield Reject(row, "template_error", str(e))
                continue
            if not text or text == "<image>":
                yield Reject(row, "unknown_ability", f"no prompt for ability {row.get('ability')!r}")
                continue
            row[self.output] = text
            yield row


def _span(box: list[float] | None) -> str:
    if not box:
        return ""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return f"x {x1} to {x2} and y {y1} to {y2}"


def _centre(box: list[float]) -> str:
    return f"({int(round((box[0] + box[2]) / 2))}, {int(round((box[1] + box[3]) / 2))})"


def _others(row: dict) -> str:
    """'There are 2 mugs; ' when the category repeats in the scene graph."""
    cat = row.get("target_category")
    objects = row.get("objects") or []
    n = sum(o.get("category") == cat for o in objects)
    return f"There are {n} {cat}s in the image, so the description has to tell them apart. " if cat and n > 1 else ""


def think_text(row: dict) -> str:
    """The reasoning for one row, from its ability, instruction and boxes."""
    ability, instr = row["ability"], row["instruction"]
    n = len(row["points"])
    where = _span(row.get("target_box"))
    if ability == "REG":
        return (f"The expression asks for {instr}. {_others(row)}I find {instr} in the image; its visible "
                f"region spans {where}. I place {n} point{'s' if n > 1 else ''} well inside it, away from its edges.")
    if ability == "OFG":
        part = row.get("target_part") or "part"
        return (f"The task asks for {instr}. That is the {part} of the {row.get('target_category', 'object')}, "
                f"the part a robot would use for this. The {part} spans {where} in the image. "
                f"I mark {n} point{'s' if n > 1 else ''} on the {part} itself, not on the rest of the object.")
    obj = f"the {row.get('target_category', 'object')}"
    start = _centre(row["object_box"]) if row.get("object_box") else "its current place"
    if ability == "RRG":
        return (f"The task is to {instr}. {obj.capitalize()} is now around {start}. The place it should go is "
                f"the free surface {_relation(row)}, which spans {where}. Nothing stands there, so the object "
                f"fits. I mark {n} points inside that free area.")
    if ability == "VTG":
        pts = row["points"]
        return (f"The task is to {instr}. {obj.capitalize()} is around {start}, so the trace starts on it at "
                f"({pts[0][0]}, {pts[0][1]}). The target is the free area {_relation(row)}, spanning {where}, so "
                f"the trace ends at ({pts[-1][0]}, {pts[-1][1]}). The object is lifted first, so the path rises "
                f"above the surface before coming down. I give {n} waypoints in order.")
    raise ValueError(f"unknown ability {ability!r}")


def _relation(row: dict) -> str:
    """'to the left of the blue bowl', from the relation and the anchors in the scene graph."""
    by_id = {o.get("id"): o for o in row.get("objects") or []}
    names = [f"the {by_id[a]['color']} {by_id[a]['category']}" for a in row.get("anchors") or [] if a in by_id]
    rel = row.get("relation") or ""
    if rel == "between" and len(names) == 2:
        return f"between {names[0]} and {names[1]}"
    words = {"left_of": "to the left of", "right_of": "to the right of", "in_front_of": "in front of", "on": "on"}
    if rel in words and names:
        return f"{words[rel]} {names[0]}"
    return "named in the task"


@programmatic_annotator("embodied_points_reasoning")
def embodied_points_reasoning(row: dict, ctx: StepContext) -> str:
    """``<think>...</think><answer><point>[[x, y], ...]</point></answer>`` from the row's ground truth."""
    if not row.get("points"):
        raise ValueError("row has no points to answer with")
    points = [[int(round(x)), int(round(y))] for x, y in row["points"]]
    return f"<think>{think_text(row)}</think><answer><point>{json.dumps(points)}</point></answer>"
