"""``r1data review pull``: Label Studio's annotations -> rows of the ``reviews`` table.

One review row per submitted annotation. The verdict is the reviewer's choice, except that an
"accept" with edits counts as "fixed" and an annotation with edits but no choice is "fixed";
a reject carries no corrections. An annotation that cannot be converted (a rotated box, text
that is not JSON where JSON is expected, a value of the wrong type) is reported with its task
id and skipped, never merged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from r1data.corpus import Corpus
from r1data.review.convert import Unconvertible, check_types, corrections, result_values
from r1data.review.layout import ID_KEY, ReviewLayout
from r1data.review.push import TaskBuilder
from r1data.review.spans import FPS_KEY
from r1data.review.store import REVIEWS_SCHEMA


@dataclass
class PullReport:
    tasks: int = 0
    annotations: int = 0
    reviews: int = 0
    unannotated: int = 0
    cancelled: int = 0
    problems: list[str] = field(default_factory=list)   # "task N: why", one per skipped annotation


def rows_by_id(corpus: Corpus, ids: set[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    wanted = pa.array(sorted(ids), pa.string())
    for split in corpus.splits:
        t = corpus.table(split)
        for row in t.filter(pc.is_in(t.column("id"), wanted)).to_pylist():
            out[row["id"]] = row
    return out


def reviews_from_export(corpus: Corpus, layout: ReviewLayout, tasks: list[dict], users: dict[int, str],
                        project: str) -> tuple[pa.Table, PullReport]:
    """Convert exported tasks to review rows (see the module docstring for the rules)."""
    report = PullReport(tasks=len(tasks))
    ids = {str(t.get("data", {}).get(ID_KEY)) for t in tasks if t.get("data", {}).get(ID_KEY) is not None}
    rows = rows_by_id(corpus, ids)
    sizes = TaskBuilder(layout, media=None, model_version="")  # type: ignore[arg-type]
    out: list[dict[str, Any]] = []
    for task in tasks:
        tid = task.get("id")
        rid = task.get("data", {}).get(ID_KEY)
        annotations = task.get("annotations") or []
        if not annotations:
            report.unannotated += 1
            continue
        row = rows.get(str(rid)) if rid is not None else None
        if row is None:
            report.problems.append(f"task {tid}: row id {rid!r} is not in this corpus; skipped")
            continue
        size = sizes.image_size(row)
        fps = _fps(task, row, layout)
        for ann in annotations:
            report.annotations += 1
            if ann.get("was_cancelled"):
                report.cancelled += 1
                continue
            where = f"task {tid} (row {rid}, annotation {ann.get('id')})"
            try:
                verdict, values = result_values(ann.get("result") or [], layout, size, fps)
                fixed = corrections(values, row, layout, size, fps) if verdict != "reject" else {}
            except Unconvertible as e:
                report.problems.append(f"{where}: {e}; skipped")
                continue
            if verdict is None:
                if not fixed:
                    report.problems.append(f"{where}: no verdict chosen and nothing changed; skipped")
                    continue
                verdict = "fixed"
            elif verdict == "accept" and fixed:
                verdict = "fixed"
            problem = check_types(fixed, layout.schema)
            if problem:
                report.problems.append(f"{where}: {problem}; skipped")
                continue
            who = ann.get("completed_by")
            if isinstance(who, dict):
                reviewer = who.get("email") or str(who.get("id"))
            else:
                reviewer = users.get(who, str(who)) if who is not None else ""
            out.append({
                "id": str(rid), "verdict": verdict,
                "corrected": json.dumps(fixed, sort_keys=True, ensure_ascii=False),
                "reviewer": reviewer, "reviewed_at": _time(ann.get("updated_at") or ann.get("created_at")),
                "task_id": tid, "project": project, "annotation_id": ann.get("id"),
            })
    report.reviews = len(out)
    return pa.Table.from_pylist(out, schema=REVIEWS_SCHEMA), report


def _fps(task: dict, row: dict, layout: ReviewLayout) -> float | None:
    """The frame rate Label Studio counted this task's frames in (the one push told it)."""
    if not layout.spans:
        return None
    told = (task.get("data") or {}).get(FPS_KEY)
    if told:
        return float(told)
    return float(row[layout.fps_field]) if layout.fps_field and row.get(layout.fps_field) else None


def _time(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
