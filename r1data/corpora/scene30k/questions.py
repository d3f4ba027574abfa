"""``generate_questions``: questions whose answers follow from the scene graph.

Families mirror Scene-30K's sources: ScanQA-style ``attribute``, ``counting``, ``existence``
and ``relation`` questions, SQA3D-style ``situated`` questions (an agent's position and
heading, directions relative to it) and ScanRefer/Nr3D-style ``referring`` questions whose
answer is the target's 3D box. Each question carries a ``program``: the operands from which
its answer was computed, which the programmatic annotator turns into the reasoning chain.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from r1data.corpora.scene30k.procedural import CATALOG
from r1data.corpora.scene30k.scene import Question, Scene, SceneObject
from r1data.errors import UsageError
from r1data.parsing import format_box3d
from r1data.steps.base import NonNegativeFloat, PositiveInt, StepContext, step

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
ALL_CATEGORIES = sorted({k.category for kinds in CATALOG.values() for k in kinds})
DIRECTIONS = ("front", "left", "behind", "right")


def plural(word: str) -> str:
    if word.endswith(("s", "sh", "ch", "x")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith("f"):
        return word[:-1] + "ves"
    return word + "s"


def xy_distance(a: SceneObject, b: SceneObject) -> float:
    return math.dist(a.center[:2], b.center[:2])


def unique_objects(scene: Scene) -> list[SceneObject]:
    counts: dict[str, int] = {}
    for o in scene.objects:
        counts[o.category] = counts.get(o.category, 0) + 1
    return [o for o in scene.objects if counts[o.category] == 1]


def egocentric(position: np.ndarray, heading: np.ndarray, obj: SceneObject) -> tuple[str, float, float]:
    """Direction (front/left/behind/right), angle (degrees, counter-clockwise from the heading)
    and distance of an object seen from an agent at ``position`` facing ``heading``."""
    rel = np.array(obj.center[:2]) - position
    angle = (math.degrees(math.atan2(rel[1], rel[0]) - math.atan2(heading[1], heading[0])) + 360) % 360
    sector = DIRECTIONS[int(((angle + 45) % 360) // 90)]
    return sector, angle, float(np.linalg.norm(rel))


def margin_from_sector_edge(angle: float) -> float:
    return abs(((angle + 45) % 90) - 45)


# -- families: each returns a Question or None when the scene does not allow it -------------

def ask_attribute(scene: Scene, rng: np.random.Generator) -> Question | None:
    candidates = [o for o in unique_objects(scene) if o.color]
    if not candidates:
        return None
    obj = candidates[int(rng.integers(len(candidates)))]
    if obj.support is not None and rng.random() < 0.4:
        sup = scene.by_id()[obj.support]
        text = f"What color is the {obj.category} on the {sup.category}?"
        ids = [obj.id, sup.id]
    else:
        text = str(rng.choice([f"What color is the {obj.category}?", f"What is the color of the {obj.category}?"]))
        ids = [obj.id]
    return Question("", "attribute", text, [obj.color], ids,
                    program={"kind": "color", "target": obj.id})


def ask_counting(scene: Scene, rng: np.random.Generator) -> Question | None:
    present = sorted({o.category for o in scene.objects})
    multi = [c for c in present if len(scene.of_category(c)) > 1]
    pool = multi if multi and rng.random() < 0.7 else present
    if rng.random() < 0.1:
        absent = [c for c in CATALOG.get(scene.room_type, []) if c.category not in present]
        pool = [k.category for k in absent] or pool
    category = str(pool[int(rng.integers(len(pool)))])
    ids = [o.id for o in scene.of_category(category)]
    n = len(ids)
    text = str(rng.choice([f"How many {plural(category)} are in the room?",
                           f"How many {plural(category)} are there?"]))
    answers = [str(n)] + ([NUMBER_WORDS[n]] if n < len(NUMBER_WORDS) else [])
    return Question("", "counting", text, answers, ids,
                    program={"kind": "count", "category": category, "ids": ids})


def ask_existence(scene: Scene, rng: np.random.Generator) -> Question | None:
    present = sorted({o.category for o in scene.objects})
    if rng.random() < 0.5:
        category = present[int(rng.integers(len(present)))]
    else:
        absent = [c for c in ALL_CATEGORIES if c not in present]
        category = absent[int(rng.integers(len(absent)))]
    ids = [o.id for o in scene.of_category(category)]
    article = "an" if category[0] in "aeiou" else "a"
    text = f"Is there {article} {category} in the room?"
    return Question("", "existence", text, ["yes" if ids else "no"], ids,
                    program={"kind": "exists", "category": category, "ids": ids})


def ask_relation(scene: Scene, rng: np.random.Generator) -> Question | None:
    by_id = scene.by_id()
    kind = rng.choice(["on", "support", "nearest"])
    if kind == "on":
        holders = {}
        for o in scene.objects:
            if o.support is not None:
                holders.setdefault(o.support, []).append(o)
        single = [(s, objs[0]) for s, objs in holders.items()
                  if len(objs) == 1 and len(scene.of_category(by_id[s].category)) == 1]
        if single:
            sup_id, obj = single[int(rng.integers(len(single)))]
            sup = by_id[sup_id]
            return Question("", "relation", f"What is on the {sup.category}?", [obj.category], [obj.id, sup.id],
                            program={"kind": "on", "support": sup.id, "target": obj.id})
    if kind in ("on", "support"):
        resting = [o for o in unique_objects(scene) if o.support is not None]
        if resting:
            obj = resting[int(rng.integers(len(resting)))]
            sup = by_id[obj.support]  # type: ignore[index]
            return Question("", "relation", f"What is the {obj.category} placed on?", [sup.category],
                            [obj.id, sup.id], program={"kind": "support", "target": obj.id, "support": sup.id})
    anchors = [o for o in unique_objects(scene) if o.support is None]
    rng.shuffle(anchors)
    for anchor in anchors:
        others = sorted((xy_distance(anchor, o), o.id) for o in scene.objects
                        if o.id != anchor.id and o.support is None)
        if len(others) >= 2 and others[1][0] - others[0][0] >= 0.3:
            nearest = by_id[others[0][1]]
            if len(scene.of_category(nearest.category)) > 1 and nearest.color:
                answer = f"{nearest.color} {nearest.category}"
            else:
                answer = nearest.category
            answers = [answer] + ([nearest.category] if answer != nearest.category else [])
            return Question("", "relation", f"Which object is closest to the {anchor.category}?", answers,
                            [nearest.id, anchor.id],
                            program={"kind": "nearest", "anchor": anchor.id, "target": nearest.id,
                                     "distances": [[i, round(d, 2)] for d, i in others[:3]]})
    return None


def ask_situated(scene: Scene, rng: np.random.Generator) -> Question | None:
    by_id = scene.by_id()
    floor = [o for o in unique_objects(scene) if o.support is None]
    if len(floor) < 2:
        return None
    for _ in range(6):
        i, j = rng.choice(len(floor), size=2, replace=False)
        anchor, facing = floor[int(i)], floor[int(j)]
        to = np.array(facing.center[:2]) - np.array(anchor.center[:2])
        if np.linalg.norm(to) < 1.0:
            continue
        heading = to / np.linalg.norm(to)
        # stand just beside the anchor, on the side towards what we face
        reach = max(anchor.extent[0], anchor.extent[1]) / 2 + 0.35
        position = np.array(anchor.center[:2]) + heading * reach
        seen = []
        for o in scene.objects:
            if o.id in (anchor.id, facing.id) or o.support is not None:
                continue
            sector, angle, dist = egocentric(position, heading, o)
            if margin_from_sector_edge(angle) >= 12 and dist > 0.3:
                seen.append((sector, angle, dist, o))
        unique_dir = [s for s in seen if len(scene.of_category(s[3].category)) == 1]
        if not unique_dir:
            continue
        verb = str(rng.choice(["standing by", "next to", "standing beside"]))
        situation = f"I am {verb} the {anchor.category} and facing the {facing.category}."
        sector, angle, dist, target = unique_dir[int(rng.integers(len(unique_dir)))]
        program = {"kind": "situated", "anchor": anchor.id, "facing": facing.id,
                   "position": [round(float(v), 2) for v in position],
                   "heading": [round(float(v), 3) for v in heading],
                   "target": target.id, "angle": round(angle, 1), "distance": round(dist, 2)}
        if rng.random() < 0.5 and sector in ("left", "right"):
            text = f"Is the {target.category} on my left or on my right?"
            answers = [sector]
        elif rng.random() < 0.5:
            text = f"In which direction is the {target.category} from me: front, left, right or behind?"
            answers = [sector] + (["back"] if sector == "behind" else [])
        else:
            in_sector = [s for s in seen if s[0] == sector]
            if len(in_sector) != 1:
                continue
            where = {"front": "in front of me", "left": "on my left", "right": "on my right",
                     "behind": "behind me"}[sector]
            text = f"Which object is {where}?"
            answers = [target.category]
        program["direction"] = sector
        return Question("", "situated", text, answers, [target.id, anchor.id, facing.id],
                        situation=situation, program=program)
    return None


def ask_referring(scene: Scene, rng: np.random.Generator) -> Question | None:
    floor = [o for o in scene.objects if o.extent[2] > 0.1]
    if not floor:
        return None
    target = floor[int(rng.integers(len(floor)))]
    same = [o for o in scene.of_category(target.category) if o.id != target.id]
    by_id = scene.by_id()
    program: dict = {"kind": "referring", "target": target.id, "distractors": [o.id for o in same]}
    if not same:
        desc = f"the {target.color + ' ' if target.color else ''}{target.category}"
        program["cue"] = "unique"
    elif target.color and all(o.color != target.color for o in same):
        desc = f"the {target.color} {target.category}"
        program["cue"] = "color"
    elif len(same) == 1 and abs(np.prod(target.extent) - np.prod(same[0].extent)) / np.prod(target.extent) > 0.25:
        bigger = np.prod(target.extent) > np.prod(same[0].extent)
        desc = f"the {'larger' if bigger else 'smaller'} of the two {plural(target.category)}"
        program["cue"] = "size"
        program["larger"] = bool(bigger)
    else:
        anchors = [o for o in unique_objects(scene) if o.id != target.id]
        best = None
        for a in anchors:
            dists = sorted((xy_distance(a, o), o.id) for o in [target, *same])
            if dists[0][1] == target.id and dists[1][0] - dists[0][0] > 0.4:
                best = a
                break
        if best is None:
            return None
        desc = f"the {target.category} closest to the {best.category}"
        program["cue"] = "nearest"
        program["anchor"] = best.id
    text = str(rng.choice([f"Find {desc}. Give its 3D box.",
                           f"Where is {desc}? Answer with its 3D bounding box."]))
    box = [round(float(v), 2) for v in target.aabb()]
    ids = [target.id] + ([program["anchor"]] if "anchor" in program else [])
    _ = by_id
    return Question("", "referring", text, [format_box3d(box)], ids, target_box=box, program=program)


FAMILIES: dict[str, Callable[[Scene, np.random.Generator], Question | None]] = {
    "attribute": ask_attribute,
    "counting": ask_counting,
    "existence": ask_existence,
    "relation": ask_relation,
    "situated": ask_situated,
    "referring": ask_referring,
}


def question_rows(row: dict, questions: list[Question]) -> Iterator[dict]:
    scene: Scene = row["scene"]
    objects = [o.to_record() for o in scene.objects]
    for k, q in enumerate(questions):
        qid = q.question_id or f"{scene.scene_id}-{q.family[:3]}{k:02d}"
        yield {**row, "id": qid, "scene_id": scene.scene_id, "source": q.source, "room_type": scene.room_type,
               "question_type": q.family, "situation": q.situation, "agent_pose": q.agent_pose,
               "question": q.question,
               "answer": q.answers[0] if q.answers else None, "answers": list(q.answers),
               "object_ids": list(q.object_ids), "target_box": q.target_box, "objects": objects,
               "question_obj": q}


@step("generate_questions", expands=True)
def generate_questions(rows: list[dict], ctx: StepContext, *, per_scene: PositiveInt = 8,
                       families: dict[str, NonNegativeFloat] | None = None) -> Iterator[dict]:
    """Expand each scene into question rows: the source's own questions when it has them,
    else ``per_scene`` questions drawn from ``families`` (name -> weight), each about objects
    that the rendered views show (when ``render_views`` ran first)."""
    families = families or {name: 1.0 for name in FAMILIES}
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise UsageError(f"families: unknown {unknown} (known: {', '.join(FAMILIES)})")
    names = list(families)
    weights = np.array([families[n] for n in names], dtype=float)
    weights /= weights.sum()
    for row in rows:
        scene: Scene = row["scene"]
        if scene.questions:
            yield from question_rows(row, scene.questions)
            continue
        rng = ctx.rng(scene.scene_id)
        # ask only about objects some rendered view shows (all of them, for a count)
        shown = row["_views"].shown() if row.get("_views") is not None else None
        questions: list[Question] = []
        seen: set[tuple[str, str]] = set()
        for _ in range(per_scene * 4):
            if len(questions) >= per_scene:
                break
            family = names[int(rng.choice(len(names), p=weights))]
            q = FAMILIES[family](scene, rng)
            if q is None or (q.situation, q.question) in seen:
                continue
            if shown is not None and not set(q.object_ids) <= shown:
                ctx.stats.count("questions_not_shown")
                continue
            seen.add((q.situation, q.question))
            questions.append(q)
        yield from question_rows(row, questions)
