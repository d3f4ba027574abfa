"""TRANCE (STAR-R1): transformation-driven visual reasoning between two images of a scene.

The corpus's Python, by role:

* ``world.py``      TRANCE's vocabulary, grid and rules: what a transformation does to a state
* ``generate.py``   sampling an initial state and a sequence of valid transformations
* ``render.py``     drawing a state with r1data.render3d from TRANCE's three cameras
* ``prompt.py``     the question (objects table), the answer lines, the reference reasoning
                    (``trance_reference``, the offline annotator)
* ``procedural.py`` the embedded default: ``procedural_trance`` and ``render_trance``
* ``release.py``    the released TRANCE layout: ``trance_release`` and ``load_trance_images``
* ``verifiers.py``  objects exist, no no-op, replay, options, the reference's full marks
* ``draw.py``       how ``r1data report`` draws a row

``pipelines/trance.yaml`` names these steps in order.
"""

from r1data.corpora.trance import draw, procedural, prompt, release, verifiers  # noqa: F401
