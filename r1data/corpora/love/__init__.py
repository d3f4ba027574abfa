"""love (LOVE-R1): zoom-in questions over long videos, with clue intervals and two-step CoT.

The corpus's Python, by role:

* ``protocol.py``    LOVE-R1's released input protocol: frame plans, pixel budgets, timestamps, texts
* ``questions.py``   questions from a procedural video's event log whose answer lies in a short clue
* ``sources.py``     ``cgbench`` (CG-Bench's released questions and clue intervals); the procedural
                     videos and folders are longvideo's sources
* ``steps.py``       plan questions, check clues, clue frames, format rows, plan frames
* ``annotators.py``  the offline zoom-step and answer-step chains of thought
* ``verifiers.py``   options, and CoT kept only when the zoom overlaps a clue and the answer is right

``pipelines/love.yaml`` names these steps in order; ``docs/love.md`` explains them. The decoupled
GRPO that trains on it is ``r1data/train/zoom.py``.
"""

from r1data.corpora.love import annotators, draw, sources, steps, verifiers  # noqa: F401,E402
