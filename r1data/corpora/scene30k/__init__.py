"""Scene-30K (3D-R1): 3D scene questions with chain-of-thought answers.

The corpus's Python, by role:

* ``scene.py``      the scene graph (objects with 3D boxes) and questions, shared by all sources
* ``procedural.py`` the embedded default source: procedural indoor rooms
* ``readers.py``    real sources: ScanQA, SQA3D, ScanRefer / Nr3D over ScanNet scans
* ``scannet.py``    ScanNet scans: PLY, axis alignment, object boxes, the folder layout
* ``render.py``     ``render_views`` and ``sample_point_cloud``: candidate views (r1data.render3d) and points
* ``views.py``      ``select_views``: 3D-R1's dynamic view selection per question
* ``questions.py``  ``generate_questions``: ScanQA-, SQA3D- and ScanRefer-style questions
* ``reasoning.py``  the programmatic annotator writing 3D-R1's ``<think>/<answer>`` chains
* ``verifiers.py``  the corpus's verifiers
* ``draw.py``       how ``r1data report`` draws a row: 3D boxes projected on the views with their cameras

``pipelines/scene30k.yaml`` names these steps in order.
"""

# Importing the modules registers their steps, sources and verifiers.
from r1data.corpora.scene30k import draw, procedural, questions, reasoning, render, scene, verifiers, views  # noqa: F401,E402
from r1data.corpora.scene30k import readers  # noqa: F401,E402  (ScanQA / SQA3D / ScanRefer / Nr3D sources)
