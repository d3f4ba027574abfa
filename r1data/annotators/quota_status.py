"""Why a build waits, on its progress bar: the pauses of the build's quota (429s).

The stage workers pause in their own processes (or Ray actors) while the main process sits
waiting for their next batch, so the bar would sit still without a word. :class:`StatusTicker`
reads the quota files of the build's state folder (``OUT/.r1data/quota/*.json``, which the
Ray quota actor mirrors when it can) once a second and puts the reason on the bar.
"""

from __future__ import annotations

import fcntl
import sys
import threading
import time
from pathlib import Path
from typing import Any

from r1data.annotators.quota import QUOTA_DIR, QuotaState


def quota_status(state_dir: Path) -> tuple[str, float] | None:
    """What the build's API steps wait for: the freshest quota's status and the seconds its
    pause has left, or None."""
    folder = Path(state_dir) / QUOTA_DIR
    if not folder.is_dir():
        return None
    now = time.monotonic()
    found: list[tuple[float, str]] = []
    for path in folder.glob("*.json"):
        try:
            with open(path, "rb") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH)
                raw = f.read()
            state = QuotaState.from_json(raw)
        except (OSError, ValueError, TypeError):
            continue
        text = state.status(now)
        if text:
            found.append((state.hold_until, text))
    if not found:
        return None
    until, text = max(found)
    return text, max(0.0, until - now)


def write_state(path: Path, state: QuotaState) -> None:
    """Write a state where :func:`quota_status` reads it (the Ray actor's mirror)."""
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(state.to_json().encode())


class StatusTicker:
    """Shows on the build's progress bar why it waits (a rate-limit pause), once a second.

    The bar otherwise moves only when a batch comes back, which a long pause may not let
    happen for minutes. Without a bar, a pause of 5 s or more is printed on stderr (at most
    every 30 s)."""

    def __init__(self, state_dir: Path, bar: Any, desc: str, interval_s: float = 1.0):
        self.state_dir = Path(state_dir)
        self.bar = bar
        self.desc = desc
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._printed = -1e9
        self._thread = threading.Thread(target=self._run, name="r1data-status", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                found = quota_status(self.state_dir)
            except Exception:       # a display aid: never let it take the build down
                continue
            text = found[0] if found else None
            if self.bar is not None:
                desc = f"{self.desc} [{text}]" if text else self.desc
                if desc != self.bar.desc:
                    self.bar.set_description_str(desc, refresh=True)
            elif found and found[1] >= 5 and time.monotonic() - self._printed >= 30:
                print(f"r1data: {text}", file=sys.stderr, flush=True)
                self._printed = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.bar is not None and self.bar.desc != self.desc:
            self.bar.set_description_str(self.desc, refresh=False)
