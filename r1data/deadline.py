"""Run one call with a time limit, so that a check stuck on one record cannot hang a worker.

    from r1data.deadline import CallTimeout, call_with_limit
    try:
        ok = call_with_limit(check, 10.0, row)
    except CallTimeout:
        ...   # reject the record with reason "timeout"

On the main thread of a process (the engine's own process, its worker processes) the limit is
a ``SIGALRM`` timer: it interrupts Python code and blocking system calls (``sleep``, a read
from a socket or a pipe). On other threads the call is interrupted with an asynchronous
exception, which takes effect at the next Python instruction. Neither can stop a C function
that never returns to Python (a pathological regular expression inside ``re``); such a record
still holds its worker until the C call returns.
"""

from __future__ import annotations

import ctypes
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CallTimeout(Exception):
    """The call ran past its time limit."""


_installed = False


def _on_alarm(signum: int, frame: Any) -> None:
    if getattr(_main_state, "armed", False):
        _main_state.armed = False
        raise CallTimeout()
    previous = _main_state.previous
    if callable(previous):
        previous(signum, frame)


class _MainState:
    armed = False
    previous: Any = None


_main_state = _MainState()


def _install() -> bool:
    global _installed
    if _installed:
        return True
    try:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
    except (ValueError, AttributeError, OSError):   # not the main thread, or no SIGALRM here
        return False
    _main_state.previous = previous
    _installed = True
    return True


def call_with_limit(fn: Callable[..., T], seconds: float | None, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, or :class:`CallTimeout` after ``seconds`` (None or <= 0: no limit)."""
    if not seconds or seconds <= 0:
        return fn(*args, **kwargs)
    if threading.current_thread() is threading.main_thread() and _install():
        return _with_alarm(fn, seconds, args, kwargs)
    return _with_async_exc(fn, seconds, args, kwargs)


def _with_alarm(fn: Callable[..., T], seconds: float, args: tuple, kwargs: dict) -> T:
    if _main_state.armed:              # nested: the outer limit keeps running, this one is not set
        return fn(*args, **kwargs)
    outer = signal.getitimer(signal.ITIMER_REAL)[0]     # someone else's timer: restored after
    start = time.monotonic()
    _main_state.armed = True
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _main_state.armed = False
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))


def _with_async_exc(fn: Callable[..., T], seconds: float, args: tuple, kwargs: dict) -> T:
    ident = threading.get_ident()
    done = threading.Event()
    fired = []

    def fire() -> None:
        if not done.is_set():
            fired.append(True)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(CallTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        return fn(*args, **kwargs)
    finally:
        done.set()
        timer.cancel()
        if fired:     # raised after fn returned: clear the pending exception of this thread
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)
