"""A small workspace corpus whose rows an API annotator answers (batch and quota tests).

``toyq``: synthetic rows, an ``annotate`` step (template ``toyq.jinja``: "Is row ID about a
chair?", answer format think/answer), the verifier ``keep_yes`` (rows answered no are
rejected ``answered_no``), and optionally ``prefill_odd_batches``, which writes the answer of
every row of the odd batches itself (``skip_if: cot`` then asks the API only about the even
ones: all calls fall on the stage that gets the even batches).
"""

from __future__ import annotations

from pathlib import Path

import yaml

SCHEMA = """\
name: toyq
fields:
  id: string
  text: {type: string, role: question}
  value: float32
  label: int32
  tags: list<string>
  cot: {type: string, role: answer}
"""

TEMPLATE = """\
{%- set answer_format = "think_answer" -%}
Is row {{ id }} about a chair? {{ text }}
"""

PLUGIN = '''\
from r1data.steps import Reject, step

@step("keep_yes")
def keep_yes(rows, ctx):
    """The verifier of this corpus: only rows answered yes are kept."""
    for row in rows:
        yield row if "<answer>yes</answer>" in row["cot"] else Reject(row, "answered_no", row["cot"][-40:])


@step("prefill_odd_batches")
def prefill_odd_batches(rows, ctx, *, batch_size: int = 16):
    """Answer the rows of every odd source batch here (no API call for them)."""
    for row in rows:
        if int(row["id"].split("-")[1]) // batch_size % 2:
            row["cot"] = "<think>Prefilled.</think><answer>yes</answer>"
        yield row
'''


def toyq_workspace(root: Path, *, size: int = 40, batch_size: int = 16, prefill: bool = False) -> Path:
    for d in ("pipelines", "schemas", "plugins", "annotators/templates"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "schemas" / "toyq.yaml").write_text(SCHEMA)
    (root / "plugins" / "toyq_plugin.py").write_text(PLUGIN)
    (root / "annotators" / "templates" / "toyq.jinja").write_text(TEMPLATE)
    steps: list[dict] = [{"step": "annotate", "profile": "programmatic", "template": "toyq.jinja", "output": "cot"},
                         {"step": "keep_yes"}]
    if prefill:
        steps[0]["skip_if"] = "cot"
        steps.insert(0, {"step": "prefill_odd_batches", "batch_size": batch_size})
    spec = {"name": "toyq", "description": "Rows annotated by a model.", "schema": "toyq", "seed": 3, "size": size,
            "source": "syn", "sources": {"syn": {"reader": "synthetic"}},
            "output": {"shard_size_mb": 1, "batch_size": batch_size}, "steps": steps}
    (root / "pipelines" / "toyq.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root
