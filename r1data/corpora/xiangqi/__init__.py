"""Xiangqi-R1: board-move pairs with Fairy-Stockfish evaluations, for three training stages.

The corpus's Python, by role:

* ``board.py``     FEN, ICCS and WXF, the board and material (the records' conventions)
* ``uci.py``       one persistent fairy-stockfish process over UCI, restarted when it dies
* ``analysis.py``  the per-worker engine: game sessions, the opening book, caches
* ``sources.py``   sources: self-play game seeds (default) and JSONL game records
* ``play.py``      ``xiangqi_selfplay``: the engine plays the games, at a mix of strengths
* ``positions.py`` ``xiangqi_positions``: a game -> one row per move, legality checked
* ``evaluate.py``  ``xiangqi_evaluate``: best move, scores, good/best, situation
* ``text.py``      ``xiangqi_prompts`` and the ``xiangqi_analysis`` annotator
* ``verifiers.py`` legal moves re-checked by ``rules.py``, label checks
* ``rules.py``     the rules in plain Python: legal moves and WXF names, independent of the engine
* ``openings.py``  ``xiangqi_openings``: how varied the games are (for the manifest)
* ``draw.py``      how ``r1data report`` draws a row: the board with the move arrowed

``pipelines/xiangqi.yaml`` names these steps in order; ``docs/xiangqi.md`` explains the corpus.
"""

# Importing the modules registers their steps, sources, verifiers and annotators.
from r1data.corpora.xiangqi import draw, evaluate, openings, play, positions, sources, text, verifiers  # noqa: F401,E402
