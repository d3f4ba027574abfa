"""Every record accounted for: the counts of a build, checked end to end.

Each step gets records in and gives rows out plus rejects; a step declared ``expands``
(``@step(..., expands=True)``: questions from a scene, positions from a game) may make more
rows than it got, one declared ``merges`` fewer. Per step::

    in + expanded - merged == out + rejected

and between stages the counts must chain: the source's records read are its rejects plus the
first step's input, each step's output is the next one's input, and the last output reaches the
writer, which keeps it, rejects it (``write/schema``) or drops it past the size asked for
(``beyond_size``). :func:`account` checks all of it at the end of every build; the result
is the manifest's ``accounting`` section, and a mismatch fails the build
(:class:`~r1data.errors.AccountingError`) naming the step and the numbers.
"""

from __future__ import annotations

from typing import Any

from r1data.steps.base import Stats


def account(stats: Stats, labels: list[str], items_read: int, kept: int) -> dict[str, Any]:
    """The ``accounting`` section of a manifest: the stages' counts and any problems.

    ``labels`` are the spec's steps in order (``BoundStep.label``); ``items_read`` the source
    records read; ``kept`` the rows written."""
    problems: list[str] = []
    source_rejected = sum(stats.reasons.get("source", {}).values())
    stages: list[dict[str, Any]] = [{"stage": "source", "in": items_read,
                                     "out": items_read - source_rejected, "rejected": source_rejected}]
    for label in labels:
        s = stats.steps.get(label, {})
        entry = {"stage": label, "in": s.get("in", 0), "out": s.get("out", 0), "rejected": s.get("rejected", 0)}
        for key in ("expanded", "merged"):
            if s.get(key):
                entry[key] = s[key]
        counts = (f"step {label}: {entry['in']:,} records in, {entry['out']:,} rows out, "
                  f"{entry['rejected']:,} rejected")
        if s.get("extra"):
            problems.append(f"{counts}: {s['extra']:,} rows more than it was given (a step that makes several "
                            "rows from one record declares @step(..., expands=True))")
        if s.get("missing"):
            problems.append(f"{counts}: {s['missing']:,} records neither kept nor rejected (a step that drops "
                            "a record yields a Reject saying why)")
        stages.append(entry)
    write_rejected = sum(stats.reasons.get("write", {}).values())
    beyond = int(stats.counters.get("rows_beyond_size", 0))
    write_in = stages[-1]["out"]
    stages.append({"stage": "write", "in": write_in, "out": kept, "rejected": write_rejected,
                   "beyond_size": beyond})
    for before, after in zip(stages, stages[1:]):
        if before["out"] != after["in"]:
            problems.append(f"{before['stage']} gave {before['out']:,} records but {after['stage']} "
                            f"received {after['in']:,}")
    if write_in != kept + write_rejected + beyond:
        problems.append(f"the writer received {write_in:,} rows: {kept:,} kept, {write_rejected:,} rejected, "
                        f"{beyond:,} beyond the size: {write_in - kept - write_rejected - beyond:,} unaccounted")
    return {"ok": not problems, "stages": stages, "problems": problems}
