"""A tiny image corpus with every geometry type, for the review tests (a workspace)."""

from __future__ import annotations

from pathlib import Path

SCHEMA = """\
name: shapes
description: Coloured rectangles on a grey canvas, with boxes, points and a mask.
fields:
  id: string
  image: {type: image, role: image}
  question: {type: string, role: question}
  answer: {type: string, role: answer}
  box: box2d
  boxes: list<box2d>
  trace: points2d
  mask: mask
  caption: string
"""

PLUGIN = '''\
import numpy as np
from r1data.steps import Source, source

W, H = 64, 48

@source("shapes")
class Shapes(Source):
    """`count` canvases, each with two rectangles; row i derived from i only."""

    def __init__(self, ctx, *, count: int = 6):
        self.count = count

    def __len__(self):
        return self.count

    def read(self, start=0):
        for i in range(start, self.count):
            img = np.full((H, W, 3), 128, np.uint8)
            a = [4 + i, 6, 24 + i, 30]
            b = [36, 10 + i, 60, 40]
            img[a[1]:a[3], a[0]:a[2]] = (220, 40, 40)
            img[b[1]:b[3], b[0]:b[2]] = (40, 40, 220)
            mask = np.zeros((H, W), np.uint8)
            mask[a[1]:a[3], a[0]:a[2]] = 255
            yield {"id": f"shape-{i:03d}", "image": img, "question": f"Where is the red box in image {i}?",
                   "answer": "left", "box": [float(v) for v in a], "boxes": [[float(v) for v in a], [float(v) for v in b]],
                   "trace": [[float(a[0]), float(a[1])], [float(b[0]), float(b[1])]], "mask": mask,
                   "caption": f"canvas {i}"}
'''

SPEC = """\
name: shapes
description: Review test corpus.
schema: shapes
seed: 3
size: 6
source: shapes
sources:
  shapes: {reader: shapes}
steps: []
"""


def write_workspace(root: Path) -> Path:
    for sub in ("pipelines", "schemas", "plugins"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "schemas" / "shapes.yaml").write_text(SCHEMA)
    (root / "plugins" / "shapes_plugin.py").write_text(PLUGIN)
    (root / "pipelines" / "shapes.yaml").write_text(SPEC)
    return root
