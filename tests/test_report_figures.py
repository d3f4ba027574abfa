"""The report's figures from a table: what a user looks for bias in, counted right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from r1data.schema import load_schema

SCHEMA = """\
name: figs
fields:
  id: string
  image: {type: image, size: [width, height]}
  width: int32
  height: int32
  question_type: string
  question: {type: string, role: question}
  answer: {type: string, role: answer}
  box: {type: box2d, frame: image}
  pass_rate: float32
  rollout_rewards: list<float32>
"""


def _table(n: int = 40) -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table({
        "id": [f"r{i}" for i in range(n)],
        "width": pa.array([200] * n, pa.int32()), "height": pa.array([100] * n, pa.int32()),
        "question_type": ["color" if i % 4 else "count" for i in range(n)],
        "question": [f"What is thing {i}?" for i in range(n)],
        "answer": ["<answer>A</answer>" if i % 3 else "(B)" for i in range(n)],
        # every box centred at (50, 25): a quarter of the way in, on both axes
        "box": pa.array([[40.0, 20.0, 60.0, 30.0]] * n, pa.list_(pa.float32(), 4)),
        "pass_rate": pa.array(rng.uniform(0, 1, n), pa.float32()),
        "rollout_rewards": [[0.0, 1.0, 1.0] for _ in range(n)],
    })


def test_figures_show_types_letters_rollouts_and_where_boxes_are(tmp_path: Path):
    from r1data.report.figures import GRID, schema_figures

    path = tmp_path / "figs.yaml"
    path.write_text(SCHEMA)
    table = _table()
    splits = pa.array(["train"] * 30 + ["test"] * 10)
    figs = {f.title: f for f in schema_figures(table, load_schema(path), splits)}
    assert "Answer letters (answer)" in figs
    letters = figs["Answer letters (answer)"].svg
    assert "A, train: 20" in letters and "B, train: 10" in letters and "A, test: 6" in letters
    assert "color, train: 22" in figs["question_type"].svg and "count, test: 2" in figs["question_type"].svg
    assert "pass_rate" in figs and "40 values" in figs["pass_rate"].note
    assert "rollout_rewards, every value" in figs and "120 values" in figs["rollout_rewards, every value"].note
    assert "Question length (question), tokens" in figs            # "What is thing 7 ?": 5 tokens
    assert "min 5, median 5" in figs["Question length (question), tokens"].note
    heat = figs["Box centres (box)"].svg
    cell = GRID * 0.25 * 300 / GRID                               # the heat map is 300 CSS pixels wide
    assert f'x="{cell:g}" y="{cell:g}"' in heat and "<title>40</title>" in heat
    assert "min 0.01, median 0.01" in figs["Box sizes (box), share of the image's area"].note   # 20x10 of 200x100
