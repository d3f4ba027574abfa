"""Checking a GoT-R1 plan against its prompt: objects, counts, boxes on the grid, relations.

A prompt is a list of object groups, ``{"name", "category", "color", "count"}`` (``color`` empty
when the prompt names none), and relations ``{"subject", "relation", "object"}`` between groups
(indices). A plan is what :func:`r1data.parsing.parse_got_plan` reads from a reasoning chain:
``[(span name, [x1, y1, x2, y2]), ...]`` on GoT-R1's 0-1000 grid, x to the right, y down.

A span stands for a group when it names the group's category (singular or plural, as a word)
and, where the prompt gives one, its colour; spans that match no group (a table, a wall) are
allowed. Relations hold when every box of the subject stands so to every box of the object:

* ``left`` / ``right``: box centres in that order along x;
* ``front`` / ``behind``: the bottom edge lower / higher in the image (nearer / farther on the
  table seen from above its edge, as the corpus's images are);
* ``top``: the subject's centre over the object's x range and its top edge above the object's;
* ``bottom``: the subject's centre lower in the image; ``next_to`` (T2I-CompBench's "next to",
  "near", "on side of"): the boxes less than 250 grid units apart.

``strict=True`` (what the corpus generator requires of a layout before it writes a prompt) adds
margins: 40 grid units between centres for left/right (and more apart along x than along y),
30 between bottom edges for front/behind (and overlapping along x).

The ``got.layout`` reward (ours: GoT-R1 released no rule-based term) is 1 when the plan passes
all of these, else 0: a right-or-wrong score for pass rates and a check the verifiers share.
"""

from __future__ import annotations

import json
import re
from typing import Any

from r1data.parsing import parse_got_plan
from r1data.rewards._core import column, reward, texts

GRID = 1000
RELATIONS: dict[str, str] = {"left": "on the left of", "right": "on the right of", "front": "in front of",
                             "behind": "behind", "top": "on the top of", "bottom": "on the bottom of",
                             "next_to": "next to"}


def plural(noun: str) -> str:
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith("fe"):
        return noun[:-2] + "ves"
    return noun + "s"


def names_category(name: str, category: str) -> bool:
    """Whether a span name names ``category`` (as a word, singular or plural)."""
    text = name.lower()
    return any(re.search(rf"(?<![a-z]){re.escape(form)}(?![a-z])", text) for form in (category, plural(category)))


def loads(value: Any) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return list(value or [])


def box_valid(box: list[float]) -> bool:
    return 0 <= box[0] < box[2] <= GRID and 0 <= box[1] < box[3] <= GRID


def relation_holds(rel: str, a: list[float], b: list[float], strict: bool = False) -> bool:
    """Whether box ``a`` stands ``rel`` (left, right, front, behind, top) to box ``b``."""
    acx, acy, bcx, bcy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    if rel in ("left", "right"):
        dx = (bcx - acx) if rel == "left" else (acx - bcx)
        return dx > 40 and dx > abs(acy - bcy) if strict else dx > 0
    if rel in ("front", "behind"):
        dy = (a[3] - b[3]) if rel == "front" else (b[3] - a[3])
        if not strict:
            return dy > 0
        return dy > 30 and a[0] < b[2] and b[0] < a[2]
    if rel == "top":
        return b[0] <= acx <= b[2] and a[1] < b[1] and a[3] <= b[3] + (20 if not strict else 0)
    if rel == "bottom":
        return acy - bcy > (40 if strict else 0)
    if rel == "next_to":     # side by side: the gap between the boxes under a quarter of the grid
        gap = max(a[0] - b[2], b[0] - a[2], a[1] - b[3], b[1] - a[3], 0)
        return gap < (150 if strict else 250)
    raise ValueError(f"unknown relation {rel!r} (known: {', '.join(RELATIONS)})")


def _head(name: str, category: str) -> bool:
    text = re.sub(r"[^a-z ]+", " ", name.lower()).split()
    return " ".join(text).endswith((category, plural(category)))


def assign(plan: list[tuple[str, list[float]]], groups: list[dict]) -> list[list[list[float]]]:
    """The boxes of each group: each span goes to a group it names, the group whose category ends
    the span's name first ("orange book" is a book, not an orange), then the groups with a colour
    (so "red apple" goes to a red-apple group before a plain apple group)."""
    out: list[list[list[float]]] = [[] for _ in groups]
    for name, box in plan:
        fits = []
        for g, grp in enumerate(groups):
            color = grp.get("color") or ""
            if names_category(name, grp["category"]) and (not color or re.search(
                    rf"(?<![a-z]){re.escape(color)}(?![a-z])", name.lower())):
                fits.append(g)
        if fits:
            best = min(fits, key=lambda g: (not _head(name, groups[g]["category"]), not groups[g].get("color"), g))
            out[best].append(box)
    return out


def missing_objects(boxes: list[list[list[float]]], groups: list[dict]) -> list[str]:
    return [f"object {g} ({grp.get('name') or grp['category']}) has no box in the chain"
            for g, (grp, found) in enumerate(zip(groups, boxes)) if not found]


def count_mismatches(boxes: list[list[list[float]]], groups: list[dict]) -> list[str]:
    return [f"object {g} ({grp.get('name') or grp['category']}): {len(found)} box(es), the prompt asks for "
            f"{grp.get('count', 1)}" for g, (grp, found) in enumerate(zip(groups, boxes))
            if found and len(found) != int(grp.get("count", 1))]


def bad_boxes(plan: list[tuple[str, list[float]]]) -> list[str]:
    bad = [b for _, b in plan if not box_valid(b)]
    return [f"{len(bad)} box(es) off the 0-{GRID} grid or empty: {bad[0]}"] if bad else []


def broken_relations(boxes: list[list[list[float]]], groups: list[dict], relations: list[dict]) -> list[str]:
    out = []
    for r in relations:
        s, o, rel = int(r["subject"]), int(r["object"]), r["relation"]
        if not boxes[s] or not boxes[o]:
            continue
        if not all(relation_holds(rel, a, b) for a in boxes[s] for b in boxes[o]):
            out.append(f"{groups[s].get('name')} is not {RELATIONS.get(rel, rel)} {groups[o].get('name')}")
    return out


def check_plan(plan: list[tuple[str, list[float]]], groups: Any, relations: Any) -> list[str]:
    """What is wrong with a plan for a prompt (empty when nothing is): an object without a box, a
    group without its count of boxes, a box off the grid, a relation the boxes break."""
    groups, relations = loads(groups), loads(relations)
    if not groups:
        return ["the prompt names no object"]
    boxes = assign(plan, groups)
    return (missing_objects(boxes, groups) + count_mismatches(boxes, groups) + bad_boxes(plan)
            + broken_relations(boxes, groups, relations))


@reward("got.layout", columns=("prompt_objects", "relations"),
        paper="ours: GoT-R1 released no rule-based term; the corpus's layout checks")
def layout(prompts: Any = None, completions: Any = (), *, prompt_objects: Any = None, relations: Any = None,
           **_: Any) -> list[float | None]:
    """1 when the chain's planned boxes cover every object of the prompt in its count, lie on the
    0-1000 grid and keep the prompt's relations (left, right, front, behind, top), else 0; None
    for rows without prompt objects."""
    t = texts(completions)
    groups = column(prompt_objects, len(t), "prompt_objects", "got.layout")
    rels = column(relations, len(t), "relations", "got.layout") if relations is not None else [[]] * len(t)
    out: list[float | None] = []
    for text, g, r in zip(t, groups, rels):
        if not loads(g):
            out.append(None)
            continue
        out.append(0.0 if check_plan(parse_got_plan(text), g, r) else 1.0)
    return out
