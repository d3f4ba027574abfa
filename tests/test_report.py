"""`r1data report` as a user runs it: one HTML file with the four sections, offline."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import run_r1data  # noqa: E402


@pytest.fixture(scope="module")
def vqa_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from r1data.cli import main

    out = tmp_path_factory.mktemp("vqa") / "vqa_verify"
    assert main(["build", "vqa_verify", "--size", "10", "-o", str(out), "--no-progress"]) == 0
    return out


def test_report_is_one_offline_page_with_every_section(vqa_build, tmp_path, cli):
    html_path = tmp_path / "report.html"
    r = cli("report", vqa_build, "-o", html_path, "--samples", "4")
    assert r.exit_code == 0, r.stderr
    assert f"wrote {html_path}" in r.stdout and "4 rows drawn" in r.stdout
    html = html_path.read_text()
    for section in ("overview", "gallery", "figures", "rejects"):
        assert f'<section id="{section}">' in html
    # nothing fetched from anywhere: no script, no external URL
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert html.count('class="card"') == 4
    assert "Answers (answer)" in html or "question_type" in html


def test_report_default_path_sits_beside_the_build(vqa_build, cli):
    r = cli("report", vqa_build, "--samples", "1")
    assert r.exit_code == 0, r.stderr
    assert (vqa_build.parent / "vqa_verify-report.html").exists()


def test_report_of_an_unknown_split_is_one_line(vqa_build, tmp_path, cli):
    r = cli("report", vqa_build, "-o", tmp_path / "r.html", "--split", "nope")
    assert r.exit_code == 2
    assert "has no split 'nope'" in r.stderr and "train" in r.stderr


PLUGIN = '''
import io
from PIL import Image
from r1data.report import ANSWER, drawer
from r1data.steps.base import Source, source


def _png(w, h):
    buf = io.BytesIO(); Image.new("RGB", (w, h), "#204060").save(buf, format="PNG"); return buf.getvalue()


@source("toydraw_rows")
class Rows(Source):
    def __init__(self, ctx, n: int = 5):
        self.n = n
    def read(self, start=0):
        for i in range(start, self.n):
            yield {"id": f"t{i}", "kind": "ab"[i % 2], "image": _png(160, 120), "width": 160, "height": 120,
                   "box": [10 + i, 10, 80, 90], "question": f"where is thing {i}?"}


@drawer("toydraw", group_by="kind")
def draw_toy(row):
    p = row.image_panel("image")
    p.box(row["box"], ANSWER, "the thing")
    p.caption = "drawn by the toy drawer"
    return [p]
'''


def _toy_workspace(root: Path, with_drawer: bool) -> Path:
    name = "toydraw" if with_drawer else "toyplain"
    ws = root / f"ws-{name}"
    for d in ("schemas", "pipelines", "plugins"):
        (ws / d).mkdir(parents=True)
    (ws / "schemas" / f"{name}.yaml").write_text(
        f"name: {name}\nfields:\n  id: string\n  kind: string\n  image: {{type: image, size: [width, height]}}\n"
        "  width: int32\n  height: int32\n  box: {type: box2d, frame: image}\n"
        "  question: {type: string, role: question}\n")
    (ws / "pipelines" / f"{name}.yaml").write_text(
        f"name: {name}\ndescription: A toy corpus with a drawer.\nschema: {name}\nseed: 1\nsize: 5\n"
        "source: rows\nsources:\n  rows: {reader: toydraw_rows}\nsteps:\n  - step: verify\n    verifiers: [in_frame]\n")
    plugin = PLUGIN if with_drawer else PLUGIN.split("@drawer")[0]
    (ws / "plugins" / f"{name}.py").write_text(plugin.replace("toydraw_rows", f"{name}_rows"))
    return ws


@pytest.mark.parametrize("with_drawer", [True, False])
def test_a_corpus_gets_its_gallery_from_one_registered_function(tmp_path, cli, with_drawer):
    """A workspace corpus registering a drawer is drawn by it (grouped by its column); one that
    registers none gets the generic drawer, its declared box drawn all the same."""
    ws = _toy_workspace(tmp_path, with_drawer)
    name = "toydraw" if with_drawer else "toyplain"
    out = tmp_path / name
    r = cli("build", name, "--workspace", ws, "-o", out, "--no-progress")
    assert r.exit_code == 0, r.stderr + r.stdout
    html_path = tmp_path / "r.html"
    # a fresh process: the workspace's plugin registers the drawer
    r = run_r1data("report", out, "-o", html_path, "--workspace", ws)
    assert r.returncode == 0, r.stderr
    html = html_path.read_text()
    assert html.count('class="card"') == 5
    if with_drawer:
        assert "drawn by the toy drawer" in html and "kind: a" in html and "kind: b" in html
        assert "<title>the thing</title>" in html
    else:
        assert "r1data.report.generic.draw_generic" in html
        assert '<rect x="10" y="10" width="70" height="80"' in html      # the box of row t0, in its frame
