"""``scene30k_reasoning``: the offline annotator writing 3D-R1-style reasoning chains.

It turns a question's program (the objects and measurements its answer was computed from)
into 3-6 short steps cued First / Next / Then / Finally, naming objects by category and id
with their positions, and ending with a step that answers the question:
``<think>...</think><answer>...</answer>``. Every number in the chain comes from the scene
graph, so the chain is true of the scene, and it passes 3D-R1's filters (30+ words, 3+ step
cues, the last step naming what the question asks about).
"""

from __future__ import annotations

from r1data.corpora.scene30k.questions import NUMBER_WORDS, plural
from r1data.corpora.scene30k.scene import Question, SceneObject
from r1data.parsing import format_box3d
from r1data.steps.annotate import programmatic_annotator
from r1data.steps.base import StepContext


def _xyz(obj: SceneObject) -> str:
    x, y, z = obj.center
    return f"({x:.2f}, {y:.2f}, {z:.2f})"


def _name(obj: SceneObject, color: bool = True) -> str:
    c = f"{obj.color} " if color and obj.color else ""
    return f"the {c}{obj.category} (object {obj.id})"


def _top(obj: SceneObject) -> float:
    return obj.center[2] + obj.extent[2] / 2


def _bottom(obj: SceneObject) -> float:
    return obj.center[2] - obj.extent[2] / 2


def chain(q: Question, objects: dict[int, SceneObject], room: str) -> list[str]:
    """The reasoning steps (without cues) for a question."""
    p = q.program
    kind = p.get("kind", "given")
    where = f"the {room.replace('_', ' ')}" if room else "the scene"
    answer = q.answers[0] if q.answers else ""
    if kind == "color":
        t = objects[p["target"]]
        return [f"I look for the {t.category} named in the question among the {len(objects)} objects of {where}",
                f"there is exactly one {t.category}: object {t.id} centred at {_xyz(t)}, "
                f"{t.extent[0]:.2f} by {t.extent[1]:.2f} by {t.extent[2]:.2f} metres",
                f"I check its surface in the rendered views and in the point cloud, where its points are {t.color}",
                f"the color of the {t.category} is {t.color}"]
    if kind == "count":
        cat, ids = p["category"], p["ids"]
        n = len(ids)
        found = ", ".join(f"object {i} at {_xyz(objects[i])}" for i in ids) if ids else "none"
        others = sorted({o.category for o in objects.values() if o.category != cat})[:6]
        return [f"I go through the {len(objects)} objects of {where} and look for {plural(cat)}",
                f"the matching objects are: {found}",
                f"I make sure none of the other objects ({', '.join(others)}) is a {cat}",
                f"counting them gives {n} ({NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else n}), "
                f"so there {'is' if n == 1 else 'are'} {n} {cat if n == 1 else plural(cat)} in the room"]
    if kind == "exists":
        cat, ids = p["category"], p["ids"]
        if ids:
            first = objects[ids[0]]
            seen = f"I find {_name(first)} at {_xyz(first)}" + (f" and {len(ids) - 1} more" if len(ids) > 1 else "")
        else:
            seen = f"none of them is a {cat}; the room holds " + ", ".join(
                sorted({o.category for o in objects.values()})[:8])
        return [f"I list the objects of {where} to see whether a {cat} is among them",
                seen,
                f"one matching object is enough for the answer to be yes, none makes it no",
                f"so the answer to whether there is a {cat} in the room is {answer}"]
    if kind in ("on", "support"):
        t, s = objects[p["target"]], objects[p["support"]]
        if kind == "on":
            return [f"I locate {_name(s)} at {_xyz(s)}; its top surface is at a height of {_top(s):.2f} m",
                    f"I look for objects whose bottom is at that height and whose footprint lies on its top",
                    f"only {_name(t)} at {_xyz(t)} rests there, its bottom at {_bottom(t):.2f} m",
                    f"so the object on the {s.category} is the {t.category}"]
        return [f"I locate {_name(t)} at {_xyz(t)}; its bottom is at a height of {_bottom(t):.2f} m, above the floor",
                f"I look directly below it for a surface at that height",
                f"{_name(s)} at {_xyz(s)} has its top at {_top(s):.2f} m and its footprint contains the {t.category}",
                f"so the {t.category} is placed on the {s.category}"]
    if kind == "nearest":
        a, t = objects[p["anchor"]], objects[p["target"]]
        dists = "; ".join(f"{objects[i].category} (object {i}) {d:.2f} m" for i, d in p["distances"])
        return [f"I locate {_name(a)} at {_xyz(a)}",
                f"I measure the horizontal distances from it to the other floor objects: {dists}",
                f"the {t.category} (object {t.id}) is the closest, clearly nearer than the next one",
                f"so the object closest to the {a.category} is the {answer}"]
    if kind == "situated":
        a, f, t = objects[p["anchor"]], objects[p["facing"]], objects[p["target"]]
        px, py = p["position"]
        hx, hy = p["heading"]
        side = {"front": "in front of me", "left": "on my left", "right": "on my right", "behind": "behind me"}
        return [f"I place myself beside {_name(a, False)} at about ({px:.2f}, {py:.2f}), facing {_name(f, False)}, "
                f"so my heading is ({hx:.2f}, {hy:.2f})",
                f"{_name(t)} is at {_xyz(t)}, {p['distance']:.2f} m from me and {p['angle']:.0f} degrees "
                f"counter-clockwise from my heading",
                "within 45 degrees of the heading is in front, 45 to 135 degrees is on the left, "
                "135 to 225 degrees is behind and 225 to 315 degrees is on the right",
                f"so the {t.category} is {side[p['direction']]}, and the answer is {answer}"]
    if kind == "referring":
        t = objects[p["target"]]
        same = [objects[i] for i in p["distractors"]]
        steps = [f"I find every {t.category} in {where}: " + ", ".join(
            f"object {o.id} at {_xyz(o)}" for o in [t, *same])]
        cue = p.get("cue")
        if cue == "unique":
            steps.append(f"there is only one {t.category}, so it is object {t.id}")
        elif cue == "color":
            steps.append(f"only object {t.id} is {t.color}; the others are " + ", ".join(o.color for o in same))
        elif cue == "size":
            vt = t.extent[0] * t.extent[1] * t.extent[2]
            vo = same[0].extent[0] * same[0].extent[1] * same[0].extent[2]
            steps.append(f"object {t.id} has a volume of {vt:.2f} cubic metres against {vo:.2f} for object "
                         f"{same[0].id}, so it is the {'larger' if p.get('larger') else 'smaller'} one")
        else:
            anc = objects[p["anchor"]]
            steps.append(f"{_name(anc, False)} is at {_xyz(anc)}, and object {t.id} is the {t.category} nearest to it")
        steps.append(f"object {t.id} is centred at {_xyz(t)} with size {t.extent[0]:.2f} by {t.extent[1]:.2f} "
                     f"by {t.extent[2]:.2f} metres, which spans its axis-aligned corners")
        steps.append(f"the 3D box of the {t.category} is {answer}")
        return steps
    # a question read from a dataset: reason from the objects it refers to
    refs = [objects[i] for i in q.object_ids if i in objects]
    if not refs:
        raise ValueError(f"question {q.question_id}: none of its objects {q.object_ids} is in the scene")
    main = refs[0]
    listing = "; ".join(f"{_name(o)} at {_xyz(o)}" for o in refs[:4])
    near = sorted((o for o in objects.values() if o.id != main.id),
                  key=lambda o: (o.center[0] - main.center[0]) ** 2 + (o.center[1] - main.center[1]) ** 2)[:3]
    steps = [f"I read the question and find the objects it refers to in {where}: {listing}",
             f"around the {main.category} the nearest objects are " + ", ".join(
                 f"{o.category} (object {o.id})" for o in near) if near else
             f"the {main.category} stands alone in the scan"]
    if q.situation:
        steps.insert(0, f"I take the situation into account: {q.situation.rstrip('.')}")
    if q.family == "referring" and q.target_box is not None:
        steps.append(f"the described object is {_name(main)}, whose points span its 3D box")
        steps.append(f"so for \"{q.question.rstrip('?.')}\" the answer is {format_box3d(q.target_box)}")
    else:
        steps.append("I relate these objects to what the question asks about")
        steps.append(f"so for \"{q.question.rstrip('?.')}\" the answer is {answer}")
    return steps


CUES = ["First", "Next", "Then", "Then", "Finally"]


def compose(steps: list[str]) -> str:
    if len(steps) <= 5:
        cues = CUES[: len(steps) - 1] + ["Finally"]
    else:
        cues = ["First"] + ["Next"] * (len(steps) - 2) + ["Finally"]
    steps = steps[:-1] + [steps[-1].removeprefix("so ")]
    return " ".join(f"{cue}, {s.rstrip('.')}." for cue, s in zip(cues, steps))


@programmatic_annotator("scene30k_reasoning")
def scene30k_reasoning(row: dict, ctx: StepContext) -> str:
    """``<think>`` chain from the question's program, ``<answer>`` the canonical answer."""
    q: Question = row["question_obj"]
    scene = row["scene"]
    objects = scene.by_id()
    think = compose(chain(q, objects, scene.room_type))
    answer = q.answers[0] if q.answers else ""
    return f"<think>{think}</think><answer>{answer}</answer>"
