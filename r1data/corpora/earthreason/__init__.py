"""EarthReason (SegEarth-R1): geospatial pixel reasoning, an implicit question and a mask.

The corpus's Python, by role:

* ``landcover.py``  procedural aerial scenes (land cover, water, roads, buildings, vehicles)
* ``procedural.py`` the embedded default: ``procedural_aerial`` and ``render_aerial_scenes``
* ``questions.py``  implicit questions, the leakage list and the ``earthreason_question`` annotator
* ``readers.py``    the released ``{split}/images|labels|QAs`` layout and ``load_earthreason_files``
* ``masks.py``      ``store_masks`` (PNG + RLE + size) and the corpus's verifiers
* ``llm_reply.py``  ``parse_question_reply``: a model's JSON reply read into questions and answer
* ``draw.py``       how ``r1data report`` draws a row (the mask over the image) and the mask areas

``pipelines/earthreason.yaml`` names these steps in order.
"""

from r1data.corpora.earthreason import draw, llm_reply, masks, procedural, questions, readers  # noqa: F401
