"""Faults of the machine and of input files, as one line each.

A full disk, a compressed file cut short, a file that is not what its name says: the build
stops with one line saying what happened, where, and whether the same command resumes, not
with a traceback (``--debug`` still shows it).
"""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import sqlite3
import zlib
from pathlib import Path
from types import TracebackType

from r1data.errors import DiskFull, R1DataError

NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
COMPRESSED = (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile)


def disk_full(e: BaseException, out: Path) -> DiskFull | None:
    """A :class:`DiskFull` for an error that means the disk (or a quota) is full, else None."""
    if isinstance(e, OSError) and e.errno in NO_SPACE:
        where = e.filename or out
        why = e.strerror or "no space left on device"
    elif isinstance(e, sqlite3.OperationalError) and "disk is full" in str(e):
        where, why = "the annotator cache (R1DATA_CACHE_DIR)", str(e)
    else:
        return None
    return DiskFull(f"disk full: writing {where} failed ({why}); the build in {out} is checkpointed "
                    "and resumable: free some space and rerun the same command")


def file_in_traceback(tb: TracebackType | None) -> str | None:
    """The name of the compressed file (or, failing that, the file) a reader was reading when
    it failed: the innermost frame holding a gzip/bz2/lzma file or an open file object."""
    found: str | None = None
    while tb is not None:
        frame_locals = tb.tb_frame.f_locals
        for value in list(frame_locals.values()):
            name = None
            if isinstance(value, COMPRESSED):
                name = getattr(value, "name", None) or getattr(getattr(value, "fileobj", None), "name", None)
            if isinstance(name, str):
                found = name
        tb = tb.tb_next
    if found is None:
        return None
    return found


def source_fault(e: BaseException, source: str) -> R1DataError | None:
    """A one-line error for a source whose file is damaged (a truncated ``.gz``, bad
    compression), naming the file and the cause; None for other errors."""
    if isinstance(e, EOFError):
        cause = f"it ends early, cut off or still being written ({e})"
    elif isinstance(e, (zlib.error, gzip.BadGzipFile, lzma.LZMAError)):
        cause = f"its compressed data is damaged ({type(e).__name__}: {e})"
    elif isinstance(e, OSError) and not isinstance(e, (FileNotFoundError, PermissionError)) and e.errno is None:
        cause = f"{type(e).__name__}: {e}"          # bz2 and friends raise plain OSErrors
    else:
        return None
    name = file_in_traceback(e.__traceback__)
    what = f"file {name}" if name else "a file"
    return R1DataError(f"source {source}: cannot read {what}: {cause}; fix or remove the file and rerun "
                       "the same command to resume")
