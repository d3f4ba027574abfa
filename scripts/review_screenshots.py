"""Look at the review screen as a reviewer sees it: tiny builds pushed to a local Label Studio,
one task per corpus opened in headless Chromium, a full-height screenshot each.

    python scripts/review_screenshots.py [CORPUS ...] [--out DIR]

Needs the Label Studio venv (see docs/review.md), Playwright (`pip install playwright`) and a
Chromium (`apt-get install chromium`, used at /usr/bin/chromium; or set R1DATA_CHROMIUM).
Not a test: it writes DIR/CORPUS.png (default /tmp/r1data-review-screens) and prints, per
corpus, the push summary and any error box Label Studio shows on the page.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from r1data.review.server import ADMIN_EMAIL, LocalLabelStudio

CORPORA = ["scene30k", "vqa_verify", "embodied_points", "earthreason", "longvideo"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpora", nargs="*", default=CORPORA)
    p.add_argument("--out", default="/tmp/r1data-review-screens")
    p.add_argument("--size", type=int, default=20, help="rows per build")
    args = p.parse_args()
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    password = "r1data-screens"
    server = LocalLabelStudio(root / "label-studio", password=password)
    if not server.fresh:
        server = LocalLabelStudio(root / f"label-studio-{int(time.time())}", password=password)
    server.start()
    env = {**os.environ, "LABEL_STUDIO_URL": server.url, "LABEL_STUDIO_API_KEY": server.token}
    tasks: dict[str, tuple[int, int]] = {}
    try:
        from label_studio_sdk import LabelStudio
        from playwright.sync_api import sync_playwright

        ls = LabelStudio(base_url=server.url, api_key=server.token)
        for corpus in args.corpora:
            out = root / f"build-{corpus}"
            if not (out / "manifest.json").exists():
                subprocess.run(["r1data", "build", corpus, "--size", str(args.size), "-o", str(out),
                                "--no-progress"], env=env, check=True, capture_output=True)
            r = subprocess.run(["r1data", "review", "push", str(out), "--project", corpus, "--sample", "3",
                                "--media-root", str(server.media_root)], env=env, capture_output=True, text=True)
            print(f"{corpus}: {(r.stdout or r.stderr).strip().splitlines()[0]}")
            project = next(p for p in ls.projects.list() if p.title == corpus)
            task = next(iter(ls.tasks.list(project=project.id)))
            tasks[corpus] = (project.id, task.id)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=os.environ.get("R1DATA_CHROMIUM", "/usr/bin/chromium"),
                                         args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.goto(server.url + "/user/login/")
            page.fill("input[name=email]", ADMIN_EMAIL)
            page.fill("input[name=password]", password)
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_load_state("networkidle")
            for corpus, (pid, tid) in tasks.items():
                page.goto(f"{server.url}/projects/{pid}/data?tab=0&task={tid}")
                page.wait_for_load_state("networkidle")
                time.sleep(5)
                try:   # show the pipeline's output (the prediction) rather than a blank annotation
                    page.get_by_text("r1data-", exact=False).first.click(timeout=5000)
                    time.sleep(2)
                except Exception:
                    print(f"{corpus}: no prediction tab found")
                page.screenshot(path=str(root / f"{corpus}.png"))
                errors = [e for e in page.locator(".ls-errors").all_inner_texts() if e.strip()]
                print(f"{corpus}: {root / f'{corpus}.png'}" + (f"  ERRORS: {errors[:3]}" if errors else ""))
            browser.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
