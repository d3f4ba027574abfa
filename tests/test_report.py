"""`r1data report` as a user runs it: one HTML file with the four sections, offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


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
