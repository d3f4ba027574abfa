"""The report of every shipped corpus, at a tiny size, opened in a real headless Chromium
(Debian's /usr/bin/chromium through Playwright): no console error, no failed request, and the
gallery's screenshot is a picture, not a blank page; on vqa_verify the answer box shows where
the row says.

Skipped where Playwright or Chromium is missing, unless R1DATA_REQUIRE_CHROMIUM=1 (CI sets it).
The xiangqi report needs fairy-stockfish to build its corpus, longvideo ffmpeg and decord.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow

SHIPPED = ["earthreason", "embodied_points", "embodied_spatial", "gui", "longvideo", "scene30k", "vqa_verify",
           "xiangqi"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    required = os.environ.get("R1DATA_REQUIRE_CHROMIUM") == "1"
    try:
        from playwright.sync_api import sync_playwright

        from r1data.corpora.gui.browser import resolve_chromium

        chromium = resolve_chromium()
    except Exception as e:   # no playwright, no chromium
        if required:
            raise
        pytest.skip(f"needs playwright and chromium: {e}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


def _needs(corpus: str) -> None:
    if corpus == "xiangqi" and not os.path.exists("/usr/games/fairy-stockfish"):
        pytest.skip("fairy-stockfish is not installed (apt-get install fairy-stockfish)")
    if corpus == "longvideo" and not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is not installed")


def _open(browser, html: Path):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
    page.on("request", lambda r: problems.append(f"request: {r.url[:80]}")
            if not r.url.startswith(("file://", "data:")) else None)
    page.goto(html.as_uri(), wait_until="load")
    return page, problems


def _not_blank(png: bytes) -> tuple[float, int]:
    im = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return float(im.std()), len(np.unique(im.reshape(-1, 3)[:: max(1, im.size // 3 // 200000)], axis=0))


@pytest.mark.parametrize("corpus", SHIPPED)
def test_every_shipped_corpus_report_opens_in_chromium(corpus, browser, tmp_path, cli):
    _needs(corpus)
    out = tmp_path / corpus
    r = cli("build", corpus, "--size", "6", "-o", out, "--no-progress")
    assert r.exit_code == 0, r.stderr + r.stdout
    html = tmp_path / "report.html"
    r = cli("report", out, "-o", html, "--samples", "3")
    assert r.exit_code == 0, r.stderr
    assert "warning" not in r.stderr                    # every sampled row was drawn
    page, problems = _open(browser, html)
    try:
        cards = page.locator("#gallery .card")
        assert cards.count() >= 3
        assert page.locator("#gallery .card .error").count() == 0
        panels = page.locator("#gallery svg.panel")
        assert panels.count() >= 3
        box = panels.first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 40
        shot = page.locator("#gallery .card").first.screenshot()
        std, colours = _not_blank(shot)
        assert std > 20 and colours > 50, (corpus, std, colours)
        assert page.locator("#figures svg.plot").count() >= 2
        assert problems == [], problems
    finally:
        page.close()


def test_the_answer_box_shows_where_the_row_says_in_chromium(browser, tmp_path, cli):
    """vqa_verify: the first card's answer box, drawn as SVG over the image the browser shows,
    has its red edge at the row's x1 (scaled to the panel's size on screen)."""
    from r1data import open_corpus

    out = tmp_path / "vqa"
    assert cli("build", "vqa_verify", "--size", "6", "-o", out, "--no-progress").exit_code == 0
    html = tmp_path / "report.html"
    assert cli("report", out, "-o", html, "--samples", "2").exit_code == 0
    page, problems = _open(browser, html)
    try:
        card = page.locator("#gallery .card").first
        row_id = card.get_attribute("data-id")
        row = next(r for r in open_corpus(out).table("train").to_pylist() if r["id"] == row_id)
        svg = card.locator("svg.panel").first
        b = svg.bounding_box()
        scale = b["width"] / row["width"]
        x1, y1, x2, y2 = row["bboxs"][0]
        shot = np.asarray(Image.open(io.BytesIO(svg.screenshot())).convert("RGB")).astype(int)
        ratio = shot.shape[1] / b["width"]                 # screenshot pixels per CSS pixel
        col = int(round(x1 * scale * ratio))
        rows = range(int((y1 + 0.25 * (y2 - y1)) * scale * ratio), int((y1 + 0.75 * (y2 - y1)) * scale * ratio))
        edge = shot[list(rows), max(0, col - 2): col + 3]
        red = (edge[..., 0] > 200) & (edge[..., 1] < 110) & (edge[..., 2] < 140)
        assert red.any(), f"no red at x={x1} of {row_id}"
        inside = shot[list(rows), int(round((x1 + x2) / 2 * scale * ratio))]
        assert not ((inside[:, 0] > 200) & (inside[:, 1] < 110) & (inside[:, 2] < 140)).all()
        assert problems == [], problems
    finally:
        page.close()
