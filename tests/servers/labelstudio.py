"""A real Label Studio server for the review tests (``label-studio`` from its own venv).

The first start of a fresh database runs Django migrations (about 25 s on 2 cores), so the
first test session keeps a migrated copy under ``~/.cache/r1data/label-studio-template-<version>``
and later sessions start from a copy of it (about 4 s). The admin's legacy API token is
:data:`TEST_TOKEN` (created with the template; legacy tokens are enabled for its organisation).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from r1data.review.server import ADMIN_EMAIL, LocalLabelStudio, default_venv, find_label_studio

TEST_TOKEN = "r1data-test-token-0123456789abcdef"
TEST_PASSWORD = "r1data-test-password"
INSTALL_HINT = (f"label-studio not installed: python3 -m venv {default_venv()} && "
                f"{default_venv()}/bin/pip install label-studio (or set R1DATA_LABEL_STUDIO)")


def _version(binary: Path) -> str:
    out = subprocess.run([str(binary.parent / "python"), "-c", "import label_studio; print(label_studio.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def start_label_studio(data_dir: Path) -> LocalLabelStudio:
    """Start a server whose database is a copy of the cached, migrated template."""
    binary = find_label_studio()
    assert binary is not None, INSTALL_HINT
    template = default_venv().parent / f"label-studio-template-{_version(binary)}"
    if not (template / "label_studio.sqlite3").exists():
        tmp = template.with_name(template.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        with LocalLabelStudio(tmp, token=TEST_TOKEN, password=TEST_PASSWORD, binary=binary):
            pass   # started once: migrations done, admin and token created
        for junk in ("media", "label-studio.log"):
            p = tmp / junk
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        shutil.rmtree(template, ignore_errors=True)
        tmp.rename(template)
    shutil.copytree(template, data_dir, dirs_exist_ok=True)
    server = LocalLabelStudio(data_dir, token=TEST_TOKEN, password=TEST_PASSWORD, binary=binary)
    return server.start()


__all__ = ["ADMIN_EMAIL", "INSTALL_HINT", "TEST_PASSWORD", "TEST_TOKEN", "find_label_studio", "start_label_studio"]
