"""Coordinate frames declared in schemas: parsed with file and line on error, checked by the
`in_frame` verifier (sizes and coordinates), used by the report to draw."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from r1data.errors import SpecError
from r1data.schema import RecordSchema, load_schema

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ["earthreason", "embodied_points", "embodied_spatial", "gui", "longvideo", "scene30k", "vqa_verify",
           "xiangqi"]

SCHEMA = """\
name: toy
fields:
  id: string
  image: {type: image, size: [width, height]}
  width: int32
  height: int32
  rw: int32
  rh: int32
  boxes: {type: list<box2d>, frame: image}
  point: {type: point2d, frame: {image: image, units: "0-1000"}}
  call: {type: point2d, frame: {image: image, units: resized, size: [rw, rh]}}
  cut: {type: "list<struct<label: string, box: box2d>>", frame: {image: image, inside: overlap}}
  mask: {type: mask, frame: image}
"""


def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h)).save(buf, format="PNG")
    return buf.getvalue()


def _mask(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def schema(tmp_path: Path) -> RecordSchema:
    path = tmp_path / "toy.yaml"
    path.write_text(SCHEMA)
    return load_schema(path)


def _row(**over: object) -> dict:
    row = {"id": "r", "image": {"bytes": _png(200, 100), "path": None}, "width": 200, "height": 100,
           "rw": 400, "rh": 200, "boxes": [[10, 10, 50, 50]], "point": [500, 500], "call": [399, 199],
           "cut": [{"label": "row", "box": [150, 80, 260, 120]}], "mask": _mask(200, 100)}
    row.update(over)
    return row


def test_every_shipped_image_declares_its_size_and_every_coordinate_its_frame():
    from r1data.frames import has_geometry, is_image_type

    for name in SHIPPED:
        s = load_schema(REPO / "schemas" / f"{name}.yaml")
        for f in s.fields:
            if is_image_type(f.type) or f.type.semantic == "video":
                assert f.size is not None, (name, f.name)
            if has_geometry(f.type):
                assert f.frame is not None, (name, f.name)


def test_a_schema_survives_the_manifest_round_trip(schema):
    again = RecordSchema.from_dict(schema.to_dict())
    assert [(f.name, f.size, f.frame) for f in again.fields] == [(f.name, f.size, f.frame) for f in schema.fields]


def test_in_frame_passes_a_good_row_and_names_what_is_wrong(schema):
    from r1data.frames import check_row

    assert check_row(_row(), schema) == (True, "")
    ok, why = check_row(_row(width=640), schema)
    assert not ok and "image: stored 200x100, the row says 640x100" in why
    ok, why = check_row(_row(boxes=[[10, 10, 50, 50], [150, 60, 210, 90]]), schema)
    assert not ok and "boxes[1] [150, 60, 210, 90] outside 200x100 (pixels of image)" in why
    ok, why = check_row(_row(point=[1001, 5]), schema)
    assert not ok and "outside 1000x1000 (0-1000 of image)" in why
    ok, why = check_row(_row(call=[401, 10]), schema)
    assert not ok and "rw x rh frame of image" in why
    ok, why = check_row(_row(cut=[{"label": "gone", "box": [210, 0, 300, 50]}]), schema)
    assert not ok and "does not reach into" in why
    ok, why = check_row(_row(mask=_mask(100, 100)), schema)
    assert not ok and "mask 100x100 is not the image's 200x100" in why


def test_in_frame_rejects_in_a_build_with_its_reason(tmp_path, cli):
    """A workspace corpus whose boxes leave the image: the build keeps the good rows and rejects
    the others with reason in_frame and a detail naming the box."""
    ws = tmp_path / "ws"
    (ws / "schemas").mkdir(parents=True)
    (ws / "pipelines").mkdir()
    (ws / "plugins").mkdir()
    (ws / "schemas" / "toy.yaml").write_text(SCHEMA)
    (ws / "plugins" / "toy.py").write_text('''
import io
from PIL import Image
from r1data.steps.base import Source, source

def _png(w, h, mode="RGB"):
    buf = io.BytesIO(); Image.new(mode, (w, h)).save(buf, format="PNG"); return buf.getvalue()

@source("toy_rows")
class ToyRows(Source):
    def __init__(self, ctx, n: int = 6):
        self.n = n
    def read(self, start=0):
        for i in range(start, self.n):
            x2 = 50 if i % 2 == 0 else 250          # odd rows: a box past the right edge
            yield {"id": f"r{i}", "image": _png(200, 100), "width": 200, "height": 100, "rw": 400, "rh": 200,
                   "boxes": [[10, 10, x2, 50]], "point": [500, 500], "call": [10, 10], "cut": [],
                   "mask": _png(200, 100, "L")}
''')
    (ws / "pipelines" / "toy.yaml").write_text("""\
name: toy
description: A toy corpus for the in_frame verifier.
schema: toy
seed: 1
size: 6
source: toy
sources:
  toy: {reader: toy_rows}
steps:
  - step: verify
    verifiers: [in_frame]
""")
    r = cli("build", "toy", "--workspace", ws, "-o", tmp_path / "out", "--no-progress")
    assert r.exit_code == 0, r.stderr + r.stdout
    from r1data import open_corpus

    c = open_corpus(tmp_path / "out")
    assert c.manifest["rows"] == 3
    rejects = c.rejects().to_pylist()
    assert {x["reason"] for x in rejects} == {"in_frame"}
    assert "boxes[0] [10, 10, 250, 50] outside 200x100 (pixels of image)" in rejects[0]["detail"]


def test_a_bad_declaration_names_file_line_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SCHEMA.replace("frame: image}\n  point", "frame: picture}\n  point")
                    .replace('units: "0-1000"', 'units: "0-100"'))
    with pytest.raises(SpecError) as e:
        load_schema(path)
    text = str(e.value)
    assert f"{path}:" in text
    assert "fields.boxes.frame: 'picture' is not an image field of this schema" in text
    assert "units '0-100', expected one of pixels, resized, smart_resize, 0-1, 0-1000" in text


def test_to_pixels_converts_from_the_declared_frame(schema):
    from r1data.report.view import RowView

    row = RowView(_row(), schema)
    assert row.to_pixels("boxes", [10, 10, 50, 50]).tolist() == [10, 10, 50, 50]
    assert row.to_pixels("point", [500, 500]).tolist() == [100, 50]             # 0-1000 -> pixels
    assert row.to_pixels("call", [400, 200]).tolist() == [200, 100]             # resized 400x200 -> 200x100
    assert np.allclose(row.to_pixels("call", [[0, 0], [40, 20]]), [[0, 0], [20, 10]])
