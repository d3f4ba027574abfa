"""Questions about a procedural scene whose answers follow from its object list.

A question carries a *program*: a small dict that :func:`answer_of` evaluates over the
stored ``objects`` column (category, color, size, box). The generator and the verifier use
the same function, so a stored answer can always be re-derived from the stored scene.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from r1data.corpora.vqa_verify.scene import COLORS, PLACES, plural

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
FAMILIES = ("color", "category", "count", "exists", "side")


def _center_x(o: dict) -> float:
    return (o["box"][0] + o["box"][2]) / 2


def answer_of(program: dict, objects: Sequence[dict]) -> tuple[str, list[str], list[int]]:
    """(answer, every accepted answer, ids of the objects that ground it) for a program.

    Raises ValueError when the program does not apply to these objects (an ambiguous name)."""
    kind = program["kind"]
    if kind == "color":
        hits = [o for o in objects if o["category"] == program["category"]]
        if len(hits) != 1:
            raise ValueError(f"{len(hits)} objects are a {program['category']}")
        return hits[0]["color"], [hits[0]["color"]], [hits[0]["id"]]
    if kind == "category":
        hits = [o for o in objects if o["color"] == program["color"]]
        if len(hits) != 1:
            raise ValueError(f"{len(hits)} objects are {program['color']}")
        cat = hits[0]["category"]
        return cat, [cat, f"a {cat}", f"the {cat}"], [hits[0]["id"]]
    if kind == "count":
        key = "color" if "color" in program else "category"
        hits = [o for o in objects if o[key] == program[key]]
        n = len(hits)
        return str(n), [str(n)] + ([NUMBER_WORDS[n]] if n < len(NUMBER_WORDS) else []), [o["id"] for o in hits]
    if kind == "exists":
        same_cat = [o for o in objects if o["category"] == program["category"]]
        hit = [o for o in same_cat if o["color"] == program["color"]]
        # "no" is grounded by the objects of that category that have another color
        return ("yes", ["yes", "Yes"], [o["id"] for o in hit]) if hit else \
            ("no", ["no", "No"], [o["id"] for o in same_cat])
    if kind == "side":
        a = next(o for o in objects if o["id"] == program["a"])
        b = next(o for o in objects if o["id"] == program["b"])
        side = "left" if _center_x(a) < _center_x(b) else "right"
        return side, [side, f"to the {side}", f"{side} side"], [a["id"], b["id"]]
    raise ValueError(f"unknown question kind {kind!r}")


def article(phrase: str) -> str:
    """"a" or "an" before ``phrase`` (by its first letter)."""
    return "an" if phrase[:1] in "aeiou" else "a"


def _text(program: dict, objects: Sequence[dict], place: str) -> str:
    kind = program["kind"]
    if kind == "color":
        return f"What color is the {program['category']} {place}?"
    if kind == "category":
        return f"What kind of object is {program['color']}?"
    if kind == "count":
        if "color" in program:
            return f"How many {program['color']} objects are there?"
        return f"How many {plural(program['category'])} are {place}?"
    if kind == "exists":
        return f"Is there {article(program['color'])} {program['color']} {program['category']} in the picture?"
    if kind == "side":
        a = next(o for o in objects if o["id"] == program["a"])
        b = next(o for o in objects if o["id"] == program["b"])
        return f"Is the {a['color']} {a['category']} to the left or to the right of the {b['color']} {b['category']}?"
    raise ValueError(kind)


def _candidates(kind: str, objects: Sequence[dict], rng: np.random.Generator) -> list[dict]:
    cats = [o["category"] for o in objects]
    colors = [o["color"] for o in objects]
    if kind == "color":
        return [{"kind": "color", "category": c} for c in sorted(set(cats)) if cats.count(c) == 1]
    if kind == "category":
        return [{"kind": "category", "color": c} for c in sorted(set(colors)) if colors.count(c) == 1]
    if kind == "count":
        out = [{"kind": "count", "category": c} for c in sorted(set(cats))]
        return out + [{"kind": "count", "color": c} for c in sorted(set(colors))]
    if kind == "exists":
        out = []
        for c in sorted(set(cats)):
            present = {o["color"] for o in objects if o["category"] == c}
            out.append({"kind": "exists", "category": c, "color": sorted(present)[int(rng.integers(len(present)))]})
            absent = sorted(set(COLORS) - present)
            out.append({"kind": "exists", "category": c, "color": absent[int(rng.integers(len(absent)))]})
        return out
    if kind == "side":
        # only objects that their color and category name alone (a kitchen has several gray drawers)
        names = [(o["color"], o["category"]) for o in objects]
        named = [o for o in objects if names.count((o["color"], o["category"])) == 1]
        out = []
        for a in named:
            for b in named:
                # clearly apart horizontally, so "left" / "right" is not a judgement call
                if a["id"] != b["id"] and abs(_center_x(a) - _center_x(b)) > 0.5 * (
                        a["box"][2] - a["box"][0] + b["box"][2] - b["box"][0]) / 2 + 12:
                    out.append({"kind": "side", "a": a["id"], "b": b["id"]})
        return out
    raise ValueError(f"unknown question family {kind!r} (known: {', '.join(FAMILIES)})")


def make_questions(objects: Sequence[dict], rng: np.random.Generator, per_image: int,
                   families: dict[str, float], scene_kind: str = "tabletop") -> list[dict[str, Any]]:
    """Up to ``per_image`` distinct questions, families drawn by weight; each a dict with
    ``question``, ``answer``, ``possible_answers``, ``question_type``, ``object_ids``, ``program``.
    ``scene_kind`` (tabletop, indoor) only words where the objects are ("on the table")."""
    place = PLACES.get(scene_kind, "in the picture")
    names = [f for f in families if families[f] > 0]
    weights = np.array([families[f] for f in names], dtype=np.float64)
    weights /= weights.sum()
    pools = {f: _candidates(f, objects, rng) for f in names}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(per_image * 4):
        if len(out) >= per_image:
            break
        fam = names[int(rng.choice(len(names), p=weights))]
        pool = pools[fam]
        if not pool:
            continue
        program = pool.pop(int(rng.integers(len(pool))))
        answer, accepted, ids = answer_of(program, objects)
        if not ids:
            continue                     # nothing to ground the answer on
        question = _text(program, objects, place)
        if question in seen:
            continue
        seen.add(question)
        out.append({"question": question, "answer": answer, "possible_answers": accepted,
                    "question_type": fam, "object_ids": ids, "program": program})
    return out
