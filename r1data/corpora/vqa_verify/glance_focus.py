"""``vqa_verify_glance_focus``: the offline annotator of SATORI's first two stages.

SATORI-R1 answers in three stages, ``<caption>`` (glance), ``<bbox>`` (focus) and
``<answer>`` (think). Its VQA-Verify records carry an answer-aligned caption and the boxes of
the regions that answer the question. This annotator derives both from ground truth:

* the caption names the scene's objects and then states the fact the answer rests on;
* the boxes are the *visible* extent of the grounding objects (read from the pixels for
  procedural scenes, the annotation boxes for real images);
* ``solution`` is the reference completion in SATORI's format, its boxes in pixels of the
  Qwen2.5-VL input frame (smart_resize with SATORI's 256..512 x 28 x 28 pixels), the frame
  the ``satori.bbox`` reward reads predictions in.
"""

from __future__ import annotations

from collections import Counter

from r1data.corpora.vqa_verify.questions import NUMBER_WORDS, article
from r1data.corpora.vqa_verify.scene import PLACES, plural
from r1data.geometry import smart_resize
from r1data.rewards.satori import MAX_PIXELS, MIN_PIXELS
from r1data.steps.annotate import programmatic_annotator
from r1data.steps.base import StepContext


def _count_phrase(name: str, n: int) -> str:
    if n == 1:
        return f"{article(name)} {name}"
    return f"{NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else n} {plural(name)}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _objects_phrase(objects: list[dict]) -> str:
    """"a red mug, three gray drawers and two cups (blue and white)": by category, most first."""
    by_cat = Counter(o["category"] for o in objects)
    parts = []
    for cat, n in sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0])):
        colors = sorted(o["color"] for o in objects if o["category"] == cat)
        if n == 1:
            parts.append(_count_phrase(f"{colors[0]} {cat}", 1))
        elif len(set(colors)) == 1:
            parts.append(f"{NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else n} {colors[0]} {plural(cat)}")
        else:
            parts.append(f"{_count_phrase(cat, n)} ({_join(colors)})")
    return _join(parts)


def scene_sentence(objects: list[dict], kind: str) -> str:
    """"A table in front of a wall with a red mug, two cups (blue and white) ..." from the
    object list; a kitchen for indoor scenes, "A photo showing ..." for real images."""
    if kind == "tabletop":
        return f"A table in front of a wall with {_objects_phrase(objects)} on it."
    if kind == "indoor":
        return f"A kitchen with a shelf over a counter, and {_objects_phrase(objects)}."
    counts = Counter(o["category"] for o in objects)
    parts = [_count_phrase(c, n) for c, n in counts.most_common(6)]
    return f"A photo showing {_join(parts)}." if parts else "A photo."


def answer_sentence(row: dict) -> str:
    """The fact the answer rests on, in words that contain the answer where they can."""
    prog = row.get("program") or {}
    kind, answer = prog.get("kind"), row["answer"]
    place = PLACES.get(row.get("scene_kind", ""), "in the picture")
    objs = {o["id"]: o for o in row.get("objects") or []}
    if kind == "color":
        return f"The {prog['category']} is {answer}."
    if kind == "category":
        return f"The {prog['color']} object is a {answer}."
    if kind == "count":
        what = f"{prog['color']} objects" if "color" in prog else plural(prog["category"])
        return f"There are {answer} {what}." if answer != "1" else \
            f"There is 1 {prog.get('color', '')} {'object' if 'color' in prog else prog['category']}.".replace("  ", " ")
    if kind == "exists":
        if answer == "yes":
            return f"There is {article(prog['color'])} {prog['color']} {prog['category']} {place}."
        others = sorted({objs[i]["color"] for i in row["object_ids"] if i in objs})
        one = len(row["object_ids"]) == 1
        what = prog["category"] if one else plural(prog["category"])
        return f"The {what} {place} {'is' if one else 'are'} {_join(others)}, not {prog['color']}."
    if kind == "side":
        a, b = objs[prog["a"]], objs[prog["b"]]
        return f"The {a['color']} {a['category']} is to the {answer} of the {b['color']} {b['category']}."
    names = sorted({objs[i]["category"] for i in row.get("object_ids", []) if i in objs})
    about = f"Looking at the {_join(names)}, the" if names else "The"
    return f"{about} answer is {answer}."


def grounding_boxes(row: dict) -> list[list[float]]:
    """Visible boxes of the objects that ground the answer, in original pixels."""
    objs = {o["id"]: o for o in row.get("objects") or []}
    return [list(map(float, objs[i]["box"])) for i in row.get("object_ids", [])
            if i in objs and objs[i].get("box") is not None]


def to_model_frame(boxes: list[list[float]], width: int, height: int) -> list[list[int]]:
    """Boxes in original pixels -> integer pixels of the Qwen2.5-VL input frame SATORI uses."""
    h_bar, w_bar = smart_resize(height, width, 28, MIN_PIXELS, MAX_PIXELS)
    sx, sy = w_bar / width, h_bar / height
    return [[round(b[0] * sx), round(b[1] * sy), round(b[2] * sx), round(b[3] * sy)] for b in boxes]


def satori_completion(caption: str, boxes: list[list[int]], answer: str) -> str:
    box_text = "[" + ", ".join("[" + ",".join(str(v) for v in b) + "]" for b in boxes) + "]"
    return f"<caption>{caption}</caption><bbox>{box_text}</bbox><answer>{answer}</answer>"


@programmatic_annotator("vqa_verify_glance_focus")
def vqa_verify_glance_focus(row: dict, ctx: StepContext) -> dict:
    """Caption, boxes and the reference completion of one row (see the module docstring)."""
    boxes = grounding_boxes(row)
    if not boxes:
        raise ValueError(f"{row['id']}: no grounding object has a visible box")
    caption = f"{scene_sentence(row.get('objects') or [], row.get('scene_kind', 'photo'))} {answer_sentence(row)}"
    return {"image_caption": caption, "bboxs": boxes,
            "solution": satori_completion(caption, to_model_frame(boxes, row["width"], row["height"]),
                                          row["answer"])}
