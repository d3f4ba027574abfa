"""One SQLite file shared by the processes of a build (the response cache, the xiangqi oracle's scores).

:func:`connect_shared` opens it in autocommit mode with WAL journaling and creates its tables.
The workers of a build open such a file at the same moment; SQLite answers one of two
connections that both read and then want to write (switching a new file to WAL, creating its
table) "database is locked" at once, without waiting: its busy timeout cannot resolve that
deadlock. The setup is therefore retried, with backoff, until ``seconds`` have passed.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def connect_shared(path: str | Path, *statements: str, seconds: float = 60.0) -> sqlite3.Connection:
    """A connection to ``path`` (its folder made), WAL, ``synchronous=NORMAL``, ``statements``
    (``CREATE TABLE IF NOT EXISTS ...``) run; usable from several threads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # autocommit (isolation_level=None): each statement is its own transaction, committed at once
    db = sqlite3.connect(path, timeout=seconds, isolation_level=None, check_same_thread=False)
    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        try:
            if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            for sql in statements:
                db.execute(sql)
            return db
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(delay)
            delay = min(0.5, delay * 2)
