"""``parse_glance_focus``: a VLM annotator's reply read into the row's three stages.

With ``--annotator PROFILE`` the ``annotate`` step sends ``vqa_verify_glance_focus.jinja``
(the image, question and answer) to a model and stores its raw reply in ``glance_focus_reply``.
This step reads ``<caption>..</caption><bbox>[[x1,y1,x2,y2], ...]</bbox><answer>..</answer>``
from it, as the programmatic annotator writes its fields:

* ``image_caption``: the caption;
* ``bboxs``: the boxes as the model gave them, in pixels of the original image (the frame the
  template asks for and the verifiers check in);
* ``solution``: the SATORI completion rebuilt with those boxes scaled to the Qwen2.5-VL input
  frame and the model's own answer (``vqa_verify_answer_matches_truth`` then compares it).

A reply that cannot be read is rejected with ``unparsable_reply`` and what is wrong. Rows
without a reply (the programmatic annotator filled the fields itself) pass through.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from r1data.corpora.vqa_verify.glance_focus import satori_completion, to_model_frame
from r1data.parsing import parse_boxes2d, tag_content
from r1data.steps.base import Reject, StepContext, step


def read_glance_focus(reply: str) -> tuple[str, list[list[float]], str]:
    """``(caption, boxes, answer)`` of a reply; ``ValueError`` saying what is missing."""
    if not isinstance(reply, str) or not reply.strip():
        raise ValueError("the reply is empty")
    caption = tag_content(reply, "caption")
    box_text = tag_content(reply, "bbox")
    answer = tag_content(reply, "answer")
    missing = [t for t, v in (("caption", caption), ("bbox", box_text), ("answer", answer)) if not v]
    if missing:
        raise ValueError(f"no <{'>, <'.join(missing)}> in the reply: {reply[:120]!r}")
    boxes = parse_boxes2d(box_text)
    if not boxes:
        raise ValueError(f"<bbox> is not a non-empty list of [x1, y1, x2, y2]: {box_text[:120]!r}")
    return caption, boxes, answer  # type: ignore[return-value]


@step("parse_glance_focus")
def parse_glance_focus(rows: Iterable[dict], ctx: StepContext, *,
                       field: str = "glance_focus_reply") -> Iterator[dict | Reject]:
    """Fill ``image_caption``, ``bboxs`` and ``solution`` from the model's reply in ``field``
    (see the module docstring); rows without it pass through."""
    for row in rows:
        reply = row.get(field)
        if reply is None:
            yield row
            continue
        try:
            caption, boxes, answer = read_glance_focus(reply)
        except ValueError as e:
            yield Reject(row, "unparsable_reply", f"{row.get('id')}: {e}")
            continue
        ctx.stats.count("vlm_replies_read")
        row.update(image_caption=caption, bboxs=boxes,
                   solution=satori_completion(caption, to_model_frame(boxes, row["width"], row["height"]), answer))
        yield row
