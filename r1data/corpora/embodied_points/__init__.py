"""Embodied-Points-200K (Embodied-R1): pointing at objects, free space, parts and paths.

The corpus's Python, by role:

* ``tasks.py``      the four abilities (REG, RRG, OFG, VTG), their data types and answer payloads
* ``procedural.py`` the embedded default: ``tabletop_scenes`` source, ``render_tabletop`` and
  ``point_tasks`` steps over the shared scene generator :mod:`r1data.corpora.tabletop`
* ``readers.py``    real sources: part masks, trajectories (and the image / mask checks)
* ``refcoco.py``    real source: RefCOCO / RefCOCO+ / RefCOCOg in the refer toolkit's layout
* ``reasoning.py``  ``write_problem`` (the task prompt) and the programmatic annotator
* ``verifiers.py``  the corpus's verifiers
* ``spatial_qa.py``  Embodied-R1's stage-1 QA rows (the ``embodied_spatial`` corpus)
* ``draw.py``       how ``r1data report`` draws the rows of both corpora

``pipelines/embodied_points.yaml`` names these steps in order; docs/embodied-points.md explains.
"""

from r1data.corpora.embodied_points import (  # noqa: F401
    draw, procedural, readers, reasoning, refcoco, spatial_qa, tasks, verifiers)
