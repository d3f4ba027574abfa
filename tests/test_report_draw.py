"""Drawing for `r1data report`: shapes land where the row says (checked on the pixels), in the
frame the schema declares."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from r1data.report import ANSWER, Panel
from r1data.report.panel import _rgb


def _png(w: int, h: int, color: str = "#000000") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def _is(pixel: tuple, color: str, tol: int = 40) -> bool:
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(pixel[:3], _rgb(color)))


def test_a_box_is_drawn_on_its_edges_and_nowhere_else():
    p = Panel(200, 100, image=_png(200, 100)).box([40, 20, 120, 80], ANSWER, width=1)
    im = np.asarray(p.to_image())
    assert _is(tuple(im[50, 40]), ANSWER) and _is(tuple(im[50, 119]), ANSWER)    # left and right edges
    assert _is(tuple(im[20, 80]), ANSWER) and _is(tuple(im[79, 80]), ANSWER)     # top and bottom edges
    assert _is(tuple(im[50, 80]), "#000000")                                      # inside: untouched
    assert _is(tuple(im[50, 38]), "#000000") and _is(tuple(im[50, 122]), "#000000")   # outside


def test_a_point_a_line_and_a_mask_land_where_given():
    mask = np.zeros((100, 200), dtype=bool)
    mask[60:90, 150:190] = True
    p = Panel(200, 100, image=_png(200, 100))
    p.point([30, 30], "#00ff00", tag=False)
    p.line([[100, 10], [100, 50]], "#0000ff", width=2)
    p.mask(mask, "#ff0000", opacity=0.5)
    im = np.asarray(p.to_image())
    assert _is(tuple(im[30, 30]), "#00ff00")
    assert _is(tuple(im[30, 100]), "#0000ff")
    inside = im[75, 170]
    assert inside[0] > 100 and inside[1] < 30          # red at half opacity over black
    assert _is(tuple(im[20, 170]), "#000000")          # outside the mask


def test_svg_keeps_the_image_frame_and_names_the_shapes():
    p = Panel(640, 480, image=_png(640, 480)).box([10, 20, 30, 40], ANSWER, "answer")
    svg = p.to_svg()
    assert 'viewBox="0 0 640 480"' in svg
    assert '<rect x="10" y="20" width="20" height="20"' in svg and "<title>answer</title>" in svg
    assert "data:image/png;base64," in svg


def test_a_big_image_is_stored_smaller_in_the_page_but_drawn_in_its_own_pixels():
    p = Panel(2000, 1000, image=_png(2000, 1000, "#123456")).box([1000, 500, 1500, 900])
    svg = p.to_svg(max_image_side=500)
    assert 'viewBox="0 0 2000 1000"' in svg and "data:image/jpeg;base64," in svg
    assert '<rect x="1000" y="500" width="500" height="400"' in svg


def test_an_arrow_has_its_head_at_the_end():
    p = Panel(100, 100, background="#000000").arrow([10, 50], [90, 50], "#ffffff", width=2)
    im = np.asarray(p.to_image())
    assert _is(tuple(im[50, 86]), "#ffffff") and _is(tuple(im[47, 84]), "#ffffff")   # the head is wider
    assert _is(tuple(im[45, 20]), "#000000")


def test_vqa_verify_drawer_puts_the_answer_box_where_the_row_says(vqa_corpus):
    from r1data.registry import drawers
    from r1data.report.view import RowView
    from r1data.schema import RecordSchema

    corpus, rows = vqa_corpus
    schema = RecordSchema.from_dict(corpus.manifest["schema"])
    row = next(r for r in rows if r["bboxs"])
    panels = drawers.get("vqa_verify")(RowView(row, schema, corpus.path))
    im = np.asarray(panels[0].to_image())
    x1, y1, x2, y2 = (int(round(v)) for v in row["bboxs"][0])
    assert panels[0].width == row["width"] and panels[0].height == row["height"]
    mid = (y1 + y2) // 2
    assert _is(tuple(im[mid, x1 + 1]), ANSWER, tol=60)
    # the completion's box is written in the model's resized frame; scaled back it lies on the answer box
    svg = panels[0].to_svg()
    assert svg.count('stroke-dasharray="6 4"') >= 1


@pytest.fixture(scope="module")
def vqa_corpus(tmp_path_factory: pytest.TempPathFactory):
    from r1data import open_corpus
    from r1data.cli import main

    out = tmp_path_factory.mktemp("vqa") / "out"
    assert main(["build", "vqa_verify", "--size", "6", "-o", str(out), "--no-progress"]) == 0
    corpus = open_corpus(out)
    return corpus, corpus.table("train").to_pylist()
