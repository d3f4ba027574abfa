"""GoT-R1: reasoning chains that plan an image, object by object, before it is drawn.

The corpus's Python, by role:

* ``plans.py``      compositional prompts in T2I-CompBench's categories (objects, colours, counts, relations)
* ``layout.py``     a plan drawn on a table with the shared tabletop generator, every box measured
* ``procedural.py`` the embedded default: ``procedural_got`` and ``render_got``
* ``prompts.py``    prompt files (T2I-CompBench's ``*.txt``, JSONL): ``got_prompts``, the prompt parser
                    and the box planner for prompts without a picture
* ``chain.py``      the reference Generation Chain-of-Thought (``got_chain``, the offline annotator)
* ``verifiers.py``  the prompt's objects in the chain with boxes, counts, grid, relations, the picture
* ``draw.py``       how ``r1data report`` draws a row

``pipelines/got.yaml`` names these steps in order.
"""

from r1data.corpora.got import chain, draw, procedural, prompts, verifiers  # noqa: F401
