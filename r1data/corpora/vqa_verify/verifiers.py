"""The verifiers of vqa_verify: SATORI's format, the box against the grounding annotation,
the caption against the answer, the answer against the ground truth."""

from __future__ import annotations

import re

from r1data.corpora.vqa_verify.questions import NUMBER_WORDS, answer_of
from r1data.corpora.vqa_verify.scene import plural
from r1data.geometry import box_valid, boxes_union_iou
from r1data.parsing import normalize_answer, parse_boxes2d, tag_content
from r1data.rewards.satori import FORMAT
from r1data.steps.checks import verifier


@verifier("satori_format")
def satori_format(row: dict, field: str = "solution") -> bool | tuple[bool, str]:
    """``field`` matches SATORI's ``<caption>..</caption><bbox>[[..]]</bbox><answer>..</answer>``
    (the regex of the ``satori.format`` reward) and every part is non-empty and readable."""
    text = row.get(field) or ""
    if not FORMAT.match(text):
        return False, f"{field} is not <caption>..</caption><bbox>[[..]]</bbox><answer>..</answer>"
    if not tag_content(text, "caption") or not tag_content(text, "answer"):
        return False, f"{field} has an empty caption or answer"
    if not parse_boxes2d(tag_content(text, "bbox")):
        return False, f"{field}: the <bbox> content is not a list of [x1, y1, x2, y2]"
    return True


@verifier("vqa_verify_boxes_inside_image")
def boxes_inside_image(row: dict) -> bool | tuple[bool, str]:
    """Every box of ``bboxs`` has positive size and lies inside the ``width`` x ``height`` image."""
    boxes = row.get("bboxs") or []
    if not boxes:
        return False, "no box"
    bad = [b for b in boxes if not box_valid(b, row["width"], row["height"])]
    return True if not bad else (False, f"{len(bad)} box(es) empty or outside "
                                              f"{row['width']}x{row['height']}: {bad[0]}")


@verifier("vqa_verify_box_grounded")
def box_grounded(row: dict, iou: float = 0.5) -> bool | tuple[bool, str]:
    """The union IoU of ``bboxs`` with the grounding annotation (working key ``grounding``,
    original pixels) reaches ``iou``. Procedural scenes: visible pixels vs the whole shape,
    so a mostly hidden object fails; real images: the annotator's boxes vs the dataset's."""
    grounding = row.get("grounding")
    if not grounding:
        return False, "the row has no grounding annotation"
    value = boxes_union_iou(row.get("bboxs") or [], grounding, row["width"], row["height"])
    return True if value >= iou else (False, f"union IoU {value:.2f} < {iou}")


def _mentions(text: str, phrase: str) -> bool:
    phrase = normalize_answer(phrase)
    return bool(phrase) and re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", normalize_answer(text)) is not None


@verifier("vqa_verify_caption_consistent")
def caption_consistent(row: dict) -> bool | tuple[bool, str]:
    """The caption agrees with the answer: it contains an accepted answer (a number also as a
    word); for yes/no answers, which a caption does not say, it names a grounding object
    (its category, singular or plural)."""
    caption = row.get("image_caption") or ""
    if not caption.strip():
        return False, "empty caption"
    accepted = list(row.get("possible_answers") or [row.get("answer", "")])
    if normalize_answer(row.get("answer")) in ("yes", "no"):
        objs = {o["id"]: o for o in row.get("objects") or []}
        names = [objs[i]["category"] for i in row.get("object_ids", []) if i in objs]
        if any(_mentions(caption, n) or _mentions(caption, plural(n)) for n in names):
            return True
        if _mentions(caption, row["answer"]):
            return True
        return False, f"the caption names none of the grounding objects ({', '.join(names)})"
    extra = []
    for a in accepted:
        if a.isdigit() and int(a) < len(NUMBER_WORDS):
            extra.append(NUMBER_WORDS[int(a)])
    if any(_mentions(caption, a) for a in accepted + extra):
        return True
    return False, f"the caption does not contain the answer {row.get('answer')!r}"


@verifier("vqa_verify_answer_matches_truth")
def answer_matches_truth(row: dict, field: str = "solution") -> bool | tuple[bool, str]:
    """The answer is accepted, the completion's ``<answer>`` is that answer, and for procedural
    rows the answer re-derived from the stored object list is the same."""
    answer = row.get("answer")
    if not answer or answer not in (row.get("possible_answers") or []):
        return False, f"answer {answer!r} is not among possible_answers"
    given = tag_content(row.get(field), "answer")
    if given != answer:
        return False, f"{field} answers {given!r}, the row {answer!r}"
    program = row.get("program")
    if program:
        shown = [o for o in row.get("objects") or [] if o.get("box") is not None]
        derived, _, _ = answer_of(program, shown)
        if derived != answer:
            return False, f"the object list gives {derived!r}, the row {answer!r}"
    return True
