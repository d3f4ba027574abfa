"""omni (Omni-R1): referring expressions over videos with sound, grounded on keyframes.

The corpus's Python, by role:

* ``scene.py``        a procedural audio-visual video: longvideo's moving objects, each with its own sound
* ``render.py``       draws it, mixes the sounds in with ffmpeg, and gives every object's exact mask
* ``expressions.py``  audio expressions (RefAVS-style), video expressions (ReVOS/MeVIS-style), Omni-R1's prompts
* ``masks.py``        COCO RLE with pycocotools
* ``sources.py``      ``procedural_av_videos``; ``readers.py``: ``refavs``, ``revos``, ``mevis``
* ``steps.py``        render / mux, plan expressions, check audio, keyframes, format
* ``verifiers.py``    keyframes consistent with their masks, prompts carrying the expression

``pipelines/omni.yaml`` names these steps in order; ``docs/omni.md`` explains them. The rewards are
``r1data/rewards/omni.py`` and ``omni_grounding.py`` (System 2 grounding through a profile).
"""

from r1data.corpora.omni import draw, readers, sources, steps, verifiers  # noqa: F401,E402
