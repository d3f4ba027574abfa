"""A real Label Studio server for the review tests (``label-studio`` from its own venv).

The first start of a fresh database runs Django migrations (about 25 s on 2 cores), so the
first test session keeps a migrated copy under ``~/.cache/r1data/label-studio-template-<version>``
and later sessions start from a copy of it (about 4 s). The admin's legacy API token is
:data:`TEST_TOKEN` (created with the template; legacy tokens are enabled for its organisation).

Without a ``label-studio`` executable the server tests are skipped, unless
``R1DATA_REQUIRE_LABEL_STUDIO=1`` (set in CI): then they fail, so CI never passes by skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from r1data.review.server import ADMIN_EMAIL, LocalLabelStudio, default_venv, find_label_studio

TEST_TOKEN = "r1data-test-token-0123456789abcdef"
TEST_PASSWORD = "r1data-test-password"
REQUIRE_ENV = "R1DATA_REQUIRE_LABEL_STUDIO"
INSTALL_HINT = (f"label-studio not installed: python3 -m venv {default_venv()} && "
                f"{default_venv()}/bin/pip install label-studio (or set R1DATA_LABEL_STUDIO)")


def _version(binary: Path) -> str:
    out = subprocess.run([str(binary.parent / "python"), "-c", "import label_studio; print(label_studio.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def label_studio_or_skip() -> Path:
    """The ``label-studio`` executable; skips the test without one, or fails it when
    ``R1DATA_REQUIRE_LABEL_STUDIO=1`` says it must be there."""
    binary = find_label_studio()
    if binary is None:
        if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
            pytest.fail(f"{REQUIRE_ENV}={os.environ[REQUIRE_ENV]} but {INSTALL_HINT}", pytrace=False)
        pytest.skip(INSTALL_HINT)
    return binary


def migrated_template() -> Path:
    """A data dir with a migrated database, the admin (:data:`TEST_PASSWORD`) and :data:`TEST_TOKEN`."""
    binary = label_studio_or_skip()
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
    return template


def start_label_studio(data_dir: Path) -> LocalLabelStudio:
    """Start a server whose database is a copy of the cached, migrated template."""
    shutil.copytree(migrated_template(), data_dir, dirs_exist_ok=True)
    server = LocalLabelStudio(data_dir, token=TEST_TOKEN, password=TEST_PASSWORD, binary=label_studio_or_skip())
    return server.start()


__all__ = ["ADMIN_EMAIL", "INSTALL_HINT", "REQUIRE_ENV", "TEST_PASSWORD", "TEST_TOKEN", "find_label_studio",
           "label_studio_or_skip", "migrated_template", "start_label_studio"]
