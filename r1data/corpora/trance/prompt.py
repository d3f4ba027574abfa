"""The question a row asks, its answer lines and the reference reasoning, all from the row's facts.

STAR-R1's prompt and answer format were not released (``zongzhao23/STAR-R1`` holds a README
only). Ours: the two images (initial, then final), the initial objects as a table (index, shape,
size, colour, material, grid position, whether it is in view), the vocabulary, and the answer in
``<think>..</think><answer>..</answer>`` with one ``index.attribute.value`` per line, the value
written as TRANCE's own pair text (``2.color.cyan``, ``0.position.behind.2``), the form a
third-party quote of a STAR-R1 output (``2.color.cyan``) shows.
"""

from __future__ import annotations

from r1data.corpora.trance.world import (DIRECTIONS, MATERIALS, SHAPES, SIZES, STEP, VALUES, VISIBLE, apply,
                                         format_item, is_visible)

ANSWER_FORMAT = "index.attribute.value"


def objects_table(objects: list[dict]) -> str:
    """The initial objects, one line each: ``0 | cube | large | red | metal | (-12, 5) | in view``."""
    lines = ["index | shape | size | color | material | position (x, y) | in view"]
    for i, o in enumerate(objects):
        x, y = o["position"]
        lines.append(f"{i} | {o['shape']} | {o['size']} | {o['color']} | {o['material']} | ({x}, {y}) | "
                     f"{'yes' if is_visible(o['position']) else 'no'}")
    return "\n".join(lines)


def question_text(objects: list[dict]) -> str:
    """The user turn of a row: the task, the vocabulary, the objects table and the answer format."""
    return (
        "The first image shows the initial state of a scene of objects; the second image shows its final "
        "state, after a sequence of transformations, possibly seen from another viewpoint. Each "
        "transformation changes one attribute of one object:\n"
        f"- shape: {', '.join(SHAPES)}\n- size: {', '.join(SIZES)}\n"
        f"- color: {', '.join(VALUES['color'])}\n- material: {', '.join(MATERIALS)}\n"
        f"- position: a move of 1 or 2 steps towards {', '.join(DIRECTIONS)}, as seen from the viewpoint "
        f"of the first image (behind is away from it, right is to its right). Positions are grid points "
        f"(x grows towards behind, y towards right); one step is {STEP} units; only positions from "
        f"-{VISIBLE} to {VISIBLE} on both axes are in view, and an object moved out of view disappears.\n\n"
        f"The objects of the initial state:\n{objects_table(objects)}\n\n"
        "Which transformations turn the initial state into the final one? Think inside <think></think>, "
        f"then give the transformations inside <answer></answer>, one per line as {ANSWER_FORMAT} "
        "(for example 2.color.cyan or 0.position.behind.2).")


def answer_text(transformations: list[dict]) -> str:
    """The answer lines, in the order the transformations were applied."""
    return "\n".join(format_item(t) for t in transformations)


def describe(o: dict) -> str:
    return f"{o['size']} {o['color']} {o['material']} {o['shape']}"


def reference_reasoning(objects: list[dict], transformations: list[dict]) -> str:
    """A reasoning chain derived from the ground truth: each transformed object compared across
    the two images, then the objects that did not change."""
    parts = ["I compare every object of the initial state with the final image."]
    state = objects
    for t in transformations:
        i, attr = t["obj_idx"], t["attr"]
        o = state[i]
        after = apply(state, t)
        if attr == "position":
            new = after[i]["position"]
            if t.get("type") == "out":
                parts.append(f"Object {i}, the {describe(o)} at {tuple(o['position'])}, is no longer in view: it "
                             f"was moved out, e.g. {t['val'][1]} step(s) {t['val'][0]} ({format_item(t)}).")
            elif t.get("type") == "in":
                parts.append(f"Object {i}, the {describe(o)} out of view at {tuple(o['position'])}, now appears "
                             f"at {tuple(new)}: {t['val'][1]} step(s) {t['val'][0]} ({format_item(t)}).")
            else:
                parts.append(f"Object {i}, the {describe(o)}, moved from {tuple(o['position'])} to {tuple(new)}: "
                             f"{t['val'][1]} step(s) {t['val'][0]} ({format_item(t)}).")
        else:
            parts.append(f"Object {i}, the {describe(o)}, now has {attr} {t['val']} instead of {o[attr]} "
                         f"({format_item(t)}).")
        state = after
    changed = {t["obj_idx"] for t in transformations}
    same = [str(i) for i, o in enumerate(objects) if i not in changed and is_visible(o["position"])]
    if same:
        parts.append(f"Objects {', '.join(same)} look the same in both images." if len(same) > 1
                     else f"Object {same[0]} looks the same in both images.")
    n = len(transformations)
    parts.append(f"So there {'is one transformation' if n == 1 else f'are {n} transformations'}.")
    return " ".join(parts)


def reference_completion(objects: list[dict], transformations: list[dict]) -> str:
    return (f"<think>{reference_reasoning(objects, transformations)}</think>"
            f"<answer>{answer_text(transformations)}</answer>")


def _annotator() -> None:
    """Register ``trance_reference`` (kept in a function so this module imports without the engine)."""
    from r1data.steps.annotate import programmatic_annotator
    from r1data.steps.base import StepContext

    @programmatic_annotator("trance_reference")
    def trance_reference(row: dict, ctx: StepContext) -> dict:
        """The reference completion of a row: reasoning derived from the ground truth, then the
        answer lines (``solution``)."""
        objects = [{k: o[k] for k in ("shape", "size", "color", "material", "position")} for o in row["objects"]]
        return {"solution": reference_completion(objects, row["transformations"])}


_annotator()
