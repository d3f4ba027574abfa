"""Child processes that die with the process that started them, however it died.

A build killed with ``kill -9`` cannot clean up after itself: its worker processes, the
multiprocessing resource tracker they keep alive and the engines they started (Fairy-Stockfish)
would run on, each holding memory, with nobody to read their results. Two mechanisms stop them:

* On Linux the kernel sends the child a signal when its parent dies (``prctl(PR_SET_PDEATHSIG)``),
  within milliseconds. It survives ``exec``, so it also works for external programs started
  with ``preexec_fn=preexec_die_with_parent``.
* Everywhere, a daemon thread in a Python child polls ``os.getppid()`` and exits the process when
  the parent is gone (the child has been re-parented). This is the portable fallback.

Usage::

    # first thing in a Python worker process (a pool initializer, an actor's __init__)
    from r1data.procs import die_with_parent
    die_with_parent()

    # an external program started by this process
    subprocess.Popen([...], **child_popen_kwargs())

Caveat: Linux's "parent" is the *thread* that forked the child. Start children from a thread
that lives as long as they should (the main thread, or a thread that outlives them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from typing import Any

PR_SET_PDEATHSIG = 1
POLL_S = 0.5

_watching = False


def _prctl_pdeathsig(sig: int) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(parent_pid: int | None = None, sig: int = signal.SIGKILL) -> None:
    """Make this (child) process exit when its parent process dies.

    ``parent_pid`` is the pid of the process that started this one (default: the current
    parent). If that parent is already gone, the process exits at once. Safe to call twice.
    """
    global _watching
    expected = os.getppid() if parent_pid is None else parent_pid
    _prctl_pdeathsig(sig)
    if os.getppid() != expected:      # the parent died before the kernel was told to watch it
        os._exit(1)
    if _watching:
        return
    _watching = True

    def watch() -> None:
        while True:
            time.sleep(POLL_S)
            if os.getppid() != expected:
                os._exit(1)

    threading.Thread(target=watch, name="r1data-parent-watch", daemon=True).start()


def preexec_die_with_parent() -> None:
    """For ``subprocess.Popen(preexec_fn=...)``: the program gets SIGKILL when this process dies.

    Runs in the forked child before ``exec`` (async-signal-safe enough: one ``prctl`` call)."""
    _prctl_pdeathsig(signal.SIGKILL)


def child_popen_kwargs() -> dict[str, Any]:
    """Keyword arguments for ``subprocess.Popen`` that tie the program's life to this process.

    On Linux, ``preexec_fn`` sets the parent-death signal. (Elsewhere nothing portable exists
    for an external program: close it explicitly, e.g. from ``weakref.finalize``.)"""
    if sys.platform.startswith("linux"):
        return {"preexec_fn": preexec_die_with_parent}
    return {}


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie) on this machine."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def descendants(pid: int) -> list[int]:
    """The pids of every living descendant of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
