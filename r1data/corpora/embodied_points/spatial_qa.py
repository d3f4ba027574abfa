"""Embodied-R1's stage-1 data: spatial and general multiple-choice QA over the tabletop scenes.

Embodied-R1 (pickxiguapi/Embodied-R1 scripts/config_stage1.yaml) runs its first RL stage on
spatial QA (WhatsUp, SAT: ``spatial_qa``) and general QA (ViRL: ``general_qa``) before the
pointing stage. This module makes such rows from the shared procedural scenes
(:mod:`r1data.corpora.tabletop`), in the released record format: ``problem`` with ``<image>``,
``answer`` = ``"<type>spatial_qa</type>(A)"``, an ``images`` list and ``data_type``.

Each question carries a *program* over the stored ``objects`` column (ids, categories, colors,
boxes, bases), evaluated by :func:`answer_of`; the generator and the verifier use the same
function, so a stored answer can always be re-derived from the stored scene.

=============  ===========  ========================================================
family         data_type    question
=============  ===========  ========================================================
relation       spatial_qa   is A to the left or to the right of B / in front or behind
comparison     spatial_qa   which is closer to the camera / larger in the image, A or B
counting       general_qa   how many mugs are there
attribute      general_qa   what color is the mug (multiple choice of four colors)
=============  ===========  ========================================================
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from r1data.errors import UsageError
from r1data.steps.annotate import programmatic_annotator
from r1data.steps.base import Reject, StepContext, step
from r1data.steps.checks import verifier

FAMILIES = {"relation": "spatial_qa", "comparison": "spatial_qa", "counting": "general_qa",
            "attribute": "general_qa"}
LETTERS = "ABCD"
MIN_VISIBLE = 0.6         # a question names only objects mostly in view
X_MARGIN = 0.08           # left/right: centres apart by 8 % of the image width at least
DEPTH_MARGIN = 0.05       # in front/behind, closer: bases apart by 5 % of the image height
AREA_RATIO = 1.6          # larger: visible areas differ by this factor at least


def _by_id(objects: Sequence[dict]) -> dict[int, dict]:
    return {int(o["id"]): o for o in objects}


def answer_of(program: dict, objects: Sequence[dict], width: int, height: int) -> str:
    """The correct option text of a program over the scene's objects; ValueError when the
    program does not hold clearly (objects too close to call, an unknown kind)."""
    objs = _by_id(objects)
    kind = program["kind"]
    if kind == "count":
        return str(sum(o["category"] == program["category"] for o in objects))
    if kind == "color":
        return str(objs[program["a"]]["color"])
    a, b = objs[program["a"]], objs[program["b"]]
    if kind == "left_right":
        dx = (a["box"][0] + a["box"][2]) / 2 - (b["box"][0] + b["box"][2]) / 2
        if abs(dx) < X_MARGIN * width:
            raise ValueError("the two objects are too close to call left or right")
        return "left" if dx < 0 else "right"
    if kind in ("front_behind", "closer"):
        dy = a["base"][1] - b["base"][1]          # lower in the image = nearer the camera
        if abs(dy) < DEPTH_MARGIN * height:
            raise ValueError("the two objects are at about the same depth")
        if kind == "front_behind":
            return "in front of" if dy > 0 else "behind"
        return program["names"][0] if dy > 0 else program["names"][1]
    if kind == "larger":
        area = {k: (o["box"][2] - o["box"][0]) * (o["box"][3] - o["box"][1]) for k, o in (("a", a), ("b", b))}
        big, small = ("a", "b") if area["a"] >= area["b"] else ("b", "a")
        if area[big] < AREA_RATIO * max(area[small], 1.0):
            raise ValueError("the two objects look about the same size")
        return program["names"][0] if big == "a" else program["names"][1]
    raise ValueError(f"unknown question kind {kind!r}")


def _ask(family: str, scene: Any, rng: np.random.Generator) -> tuple[str, dict, list[str]] | None:
    """(question, program, options) for one family, or None when this scene offers none."""
    from r1data.corpora.tabletop import COLORS, plural, refer

    visible = [o for o in scene.objects if o.surface != "front" and o.box is not None
               and o.visible_fraction >= MIN_VISIBLE]
    if family == "counting":
        cats = sorted({o.category for o in visible})
        if not cats:
            return None
        cat = cats[int(rng.integers(len(cats)))]
        if any(o.category == cat and o.visible_fraction < MIN_VISIBLE for o in scene.objects):
            return None   # a half-hidden one would make the count ambiguous
        n = sum(o.category == cat for o in scene.objects)
        wrong = [v for v in (n - 2, n - 1, n + 1, n + 2, n + 3) if v >= 0 and v != n]
        options = [str(n)] + [str(v) for v in rng.choice(wrong, 3, replace=False)]
        return f"How many {plural(cat)} are there in the image?", {"kind": "count", "category": cat}, options
    if family == "attribute":
        # one of its category (so "the mug" names it), and a color its name does not give away
        unique = [o for o in visible if sum(p.category == o.category for p in scene.objects) == 1
                  and o.color not in o.category]
        if not unique:
            return None
        o = unique[int(rng.integers(len(unique)))]
        others = [c for c in sorted(COLORS) if c != o.color]
        options = [o.color] + [str(c) for c in rng.choice(others, 3, replace=False)]
        return f"What color is the {o.category}?", {"kind": "color", "a": o.id}, options
    if len(visible) < 2:
        return None
    i, j = rng.choice(len(visible), 2, replace=False)
    a, b = visible[int(i)], visible[int(j)]
    na, nb = refer(scene, a), refer(scene, b)
    if na is None or nb is None:
        return None
    if family == "relation":
        if rng.random() < 0.5:
            return f"Is {na} to the left or to the right of {nb}?", {"kind": "left_right", "a": a.id, "b": b.id}, \
                ["left", "right"]
        return f"Is {na} in front of or behind {nb}?", {"kind": "front_behind", "a": a.id, "b": b.id}, \
            ["in front of", "behind"]
    names = [na.removeprefix("the "), nb.removeprefix("the ")]
    if rng.random() < 0.5:
        return f"Which is closer to the camera, {na} or {nb}?", {"kind": "closer", "a": a.id, "b": b.id,
                                                                  "names": names}, list(names)
    return f"Which looks larger in the image, {na} or {nb}?", {"kind": "larger", "a": a.id, "b": b.id,
                                                                "names": names}, list(names)


def _objects(scene: Any) -> list[dict]:
    out = []
    for o, s in zip(scene.objects, scene.summary()):
        out.append({"id": s["id"], "category": s["category"], "color": s["color"], "box": s["box"],
                    "base": [float(o.base[0]), float(o.base[1])], "surface": s["surface"]})
    return out


@step("spatial_qa_tasks", expands=True)
def spatial_qa_tasks(rows: Iterable[dict], ctx: StepContext, *, per_scene: int = 4,
                     families: dict[str, float] | None = None) -> Iterator[dict | Reject]:
    """Up to ``per_scene`` multiple-choice questions per rendered scene (``_scene``), each of a
    family drawn with the ``families`` weights; options shuffled, the answer a letter."""
    weights = families or {"relation": 0.35, "comparison": 0.25, "counting": 0.2, "attribute": 0.2}
    if set(weights) - set(FAMILIES) or min(weights.values()) < 0 or sum(weights.values()) <= 0:
        raise UsageError(f"spatial_qa_tasks: families must weight {', '.join(FAMILIES)}, got {weights}")
    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=np.float64)
    for row in rows:
        scene = row.get("_scene")
        if scene is None:
            yield row
            continue
        rng = ctx.rng(row["scene_id"], "qa")
        objects = _objects(scene)
        h, w = scene.image.shape[:2]
        seen: set[str] = set()
        made = 0
        for _ in range(per_scene * 4):
            if made == per_scene:
                break
            family = names[int(rng.choice(len(names), p=p / p.sum()))]
            asked = _ask(family, scene, rng)
            if asked is None or asked[0] in seen:
                continue
            question, program, options = asked
            try:
                truth = answer_of(program, objects, w, h)
            except ValueError:
                continue
            order = rng.permutation(len(options))
            shuffled = [options[k] for k in order]
            letter = LETTERS[shuffled.index(truth)]
            seen.add(question)
            data_type = FAMILIES[family]
            ctx.stats.count(f"family.{family}")
            yield {"id": f"{row['scene_id']}-qa{made}", "scene_id": row["scene_id"],
                   "source": row.get("source", "procedural"), "kind": row.get("kind", ""), "family": family,
                   "data_type": data_type, "question": question, "options": shuffled,
                   "answer": f"<type>{data_type}</type>({letter})", "program": json.dumps(program),
                   "images": [row["image"]], "width": w, "height": h, "objects": objects}
            made += 1
        if not made:
            yield Reject({"scene_id": row["scene_id"], "kind": row.get("kind")}, "no_question",
                         "no question could be asked clearly about this scene")


def answer_letter(row: dict) -> str:
    from r1data.rewards.embodied import parse_target

    target = parse_target(row.get("answer"), row.get("data_type"))
    if target is None:
        raise ValueError(f"unreadable answer {row.get('answer')!r}")
    return str(target.payload).strip("()")


@programmatic_annotator("embodied_spatial_reasoning")
def embodied_spatial_reasoning(row: dict, ctx: StepContext) -> str:
    """``<think>...</think><answer>(X)</answer>`` from the row's program and scene graph."""
    letter = answer_letter(row)
    truth = row["options"][LETTERS.index(letter)]
    program = json.loads(row["program"])
    objs = _by_id(row["objects"])
    if program["kind"] == "count":
        n = int(truth)
        think = (f"I look for every {program['category']} in the image, one by one. I count {n}. "
                 f"So the answer is {truth}, option ({letter}).")
    elif program["kind"] == "color":
        think = (f"There is only one {objs[program['a']]['category']} in the image. Its main part is {truth}. "
                 f"So the option that fits is ({letter}).")
    else:
        a, b = objs[program["a"]], objs[program["b"]]
        na, nb = f"the {a['color']} {a['category']}", f"the {b['color']} {b['category']}"
        if program["kind"] == "left_right":
            ax, bx = (a["box"][0] + a["box"][2]) / 2, (b["box"][0] + b["box"][2]) / 2
            seen = f"{na} is centred around x {ax:.0f} and {nb} around x {bx:.0f}, so {na} is on the {truth}"
        elif program["kind"] == "larger":
            sa = (a["box"][2] - a["box"][0]) * (a["box"][3] - a["box"][1])
            sb = (b["box"][2] - b["box"][0]) * (b["box"][3] - b["box"][1])
            seen = f"{na} covers about {sa:.0f} square pixels and {nb} about {sb:.0f}, so {truth} looks larger"
        else:
            seen = (f"{na} rests at y {a['base'][1]:.0f} and {nb} at y {b['base'][1]:.0f}; lower in the image means "
                    f"nearer the camera, so the answer is {truth}")
        think = f"I find both objects. {seen[0].upper()}{seen[1:]}. That is option ({letter})."
    return f"<think>{think}</think><answer>({letter})</answer>"


@verifier("embodied_spatial_answer")
def answer_matches_program(row: dict) -> "bool | tuple[bool, str]":
    """The answer letter names the option that the question's program gives over the stored
    objects, and the options are distinct."""
    options = row.get("options") or []
    if len(set(options)) != len(options) or not 2 <= len(options) <= len(LETTERS):
        return False, f"options must be 2-4 distinct texts, got {options}"
    try:
        letter = answer_letter(row)
        truth = answer_of(json.loads(row["program"]), row["objects"], row["width"], row["height"])
    except (ValueError, KeyError, TypeError) as e:
        return False, str(e)
    if letter not in LETTERS[: len(options)] or options[LETTERS.index(letter)] != truth:
        return False, f"answer ({letter}) is not the option {truth!r}"
    return True
