"""VQA-Verify (SATORI-R1): VQA in three verifiable stages, caption, box and answer.

The corpus's Python, by role:

* ``scene.py``        a scene of the shared generator (``r1data.corpora.tabletop``) as object records
* ``questions.py``    questions whose answers follow from the scene's object list
* ``procedural.py``   the embedded default: ``procedural_tabletop_vqa`` (tabletop and indoor scenes)
                      and ``render_tabletop_vqa``
* ``readers.py``      real sources: COCO + VQAv2, GQA, and a plain JSONL of image/question/answer/box
* ``imagefiles.py``   reading image files with every defect caught (shared with earthreason)
* ``glance_focus.py`` the programmatic annotator: answer-aligned caption, boxes, SATORI completion
* ``vlm_reply.py``    ``parse_glance_focus``: a VLM annotator's reply read into the same fields
* ``verifiers.py``    format, box against grounding, caption against answer, answer against truth
* ``draw.py``         how ``r1data report`` draws a row (objects, answer boxes, the completion's boxes)

``pipelines/vqa_verify.yaml`` names these steps in order.
"""

from r1data.corpora.vqa_verify import draw, glance_focus, procedural, verifiers, vlm_reply  # noqa: F401
from r1data.corpora.vqa_verify import readers  # noqa: F401  (COCO/VQAv2, GQA, JSONL sources)
