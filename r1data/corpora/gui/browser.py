"""Headless Chromium through Playwright: one browser per process, one page per device.

Debian's ``chromium`` (``/usr/bin/chromium``, or ``$R1DATA_CHROMIUM``) is driven by the
``playwright`` package (``pip install 'r1data[gui]'``; Playwright's own browser download is not
used). The browser starts on first use and is reused for every episode the process renders; each
episode loads into a fresh document (``about:blank`` then the page), so no state leaks between
episodes. Timers run on Playwright's fake clock: a splash screen, a long press or a wait takes no
wall time and happens the same way on every machine.

Playwright's sync API runs an event loop in the thread that uses it, so every browser call runs
on one thread of its own (:meth:`Browser.run`): the main thread's asyncio stays free for the
annotator client, which runs its own loop there.

Nothing outlives the build: the browser is closed at exit; if the process is killed, the
Playwright driver sees its pipe close and takes the browser down with it; and a worker process
exits when the build does (:func:`r1data.procs.die_with_parent`), so its browser goes too.
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from r1data.corpora.gui.ui import Device
from r1data.errors import R1DataError
from r1data.steps.base import RecordError

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# quiet, reproducible rendering: no GPU, no network chatter, no background throttling of timers;
# no partial raster (a repaint of part of a tile anti-aliases edges differently from a full one, so
# a screen's pixels would depend on what the page showed before: seen with a focused input's border)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-partial-raster", "--disable-background-networking", "--disable-component-update",
        "--disable-default-apps", "--disable-sync", "--no-first-run", "--mute-audio", "--hide-scrollbars",
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--font-render-hinting=none"]
CLOCK_START_MS = 1_750_000_000_000       # the pages' Date.now() at load (fixed: same pixels every run)


class BrowserUnavailable(R1DataError):
    """Chromium is missing or does not start: no page can be rendered, the build stops."""


class PageError(RecordError):
    """One page failed (did not render, threw, an action had no effect): that episode is rejected."""


def resolve_chromium(path: str | None = None) -> str:
    candidate = path or os.environ.get("R1DATA_CHROMIUM") or DEFAULT_CHROMIUM
    found = candidate if os.path.isfile(candidate) else shutil.which(candidate)
    if not found or not os.access(found, os.X_OK):
        raise BrowserUnavailable(f"chromium not found at {candidate}; install it (apt-get install chromium) or set "
                                 "R1DATA_CHROMIUM or the step's chromium: PATH")
    return found


@dataclass
class Capture:
    """What the screen shows: the screenshot (PNG), the elements (boxes in screenshot pixels)
    and the app's state (``r1app.state()``)."""

    png: bytes
    elements: list[dict]
    state: dict

    def element(self, el_id: str) -> dict | None:
        return next((e for e in self.elements if e["id"] == el_id), None)


T = TypeVar("T")


class _Thread:
    """One daemon thread running calls in order (Playwright objects stay on the thread that made them)."""

    def __init__(self) -> None:
        self._q: queue.Queue = queue.Queue()
        self._t = threading.Thread(target=self._loop, name="r1data-chromium", daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            fut, fn, args = item
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args))
                except BaseException as e:  # handed to the caller, who re-raises it
                    fut.set_exception(e)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        if threading.current_thread() is self._t:
            return fn(*args)
        fut: Future = Future()
        self._q.put((fut, fn, args))
        return fut.result()

    def stop(self) -> None:
        self._q.put(None)
        self._t.join(timeout=30)


class Browser:
    """A lazily started Chromium with one context and page per :class:`Device`.

    :meth:`load`, :meth:`capture` and every call on the pages they return must run inside
    :meth:`run` (the browser's own thread)."""

    def __init__(self, executable: str | None = None, timeout_s: float = 20.0):
        self.executable = resolve_chromium(executable)
        self.timeout_ms = int(timeout_s * 1000)
        self._pw: Any = None
        self._browser: Any = None
        self._pages: dict[Device, Any] = {}
        self._thread: _Thread | None = None
        self.errors: list[str] = []

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the browser's thread; its result, or its exception raised here."""
        if self._thread is None:
            self._thread = _Thread()
        return self._thread.call(fn, *args)

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=self.executable, args=ARGS,
                                                     timeout=self.timeout_ms)
        except Exception as e:          # playwright's Error: the binary exists but does not start
            self._close()
            raise BrowserUnavailable(f"chromium at {self.executable} did not start: {str(e).splitlines()[0]}") from None

    def page(self, device: Device) -> Any:
        if self._browser is None:
            self._start()
        page = self._pages.get(device)
        if page is None or page.is_closed():
            context = self._browser.new_context(viewport={"width": device.width, "height": device.height},
                                                device_scale_factor=device.scale, has_touch=False,
                                                reduced_motion="reduce", locale="en-US", timezone_id="UTC")
            context.set_default_timeout(self.timeout_ms)
            page = context.new_page()
            page.clock.install(time=CLOCK_START_MS)
            page.on("pageerror", lambda e: self.errors.append(str(e).splitlines()[0][:200]))
            self._pages[device] = page
        return page

    def load(self, device: Device, html: str) -> Any:
        """A page showing ``html`` in a fresh document; :class:`PageError` if it does not come up."""
        page = self.page(device)
        self.errors.clear()
        try:
            page.goto("about:blank")
            page.set_content(html, wait_until="load")
            ready = page.evaluate("() => document.body && document.body.dataset.ready === '1'")
        except Exception as e:   # a crashed renderer or a timeout: this page only
            self._drop(device)
            raise PageError("render_failed", f"the page did not load: {str(e).splitlines()[0][:200]}") from None
        if not ready or self.errors:
            raise PageError("render_failed", "the app did not start" + (f": {self.errors[0]}" if self.errors else ""))
        return page

    def capture(self, device: Device, page: Any) -> Capture:
        """Screenshot, elements (scaled to screenshot pixels) and state of the current screen."""
        try:
            elements = page.evaluate("() => r1app.elements()")
            state = page.evaluate("() => r1app.state()")
            png = page.screenshot(type="png", caret="hide", animations="disabled")
        except Exception as e:
            raise PageError("render_failed", f"the screen could not be read: {str(e).splitlines()[0][:200]}") from None
        s = device.scale
        for e in elements:
            e["box"] = [round(v * s, 2) for v in e["box"]]
        return Capture(png, elements, state)

    def _drop(self, device: Device) -> None:
        page = self._pages.pop(device, None)
        if page is not None:
            try:
                page.context.close()
            except Exception:
                pass

    def close(self) -> None:
        if self._thread is None:
            return
        try:
            self._thread.call(self._close)
        finally:
            self._thread.stop()
            self._thread = None

    def _close(self) -> None:
        for device in list(self._pages):
            self._drop(device)
        for thing in (self._browser, self._pw):
            if thing is not None:
                try:
                    thing.close() if thing is self._browser else thing.stop()
                except Exception:
                    pass
        self._browser = self._pw = None


_SHARED: dict[tuple, Browser] = {}


def shared_browser(executable: str | None = None, timeout_s: float = 20.0) -> Browser:
    """This process's browser for a Chromium binary (made on first call, started on first page).

    In a worker process of a build, the worker is first tied to the build (it exits when the
    build dies, even by ``kill -9``), and with it the browser it drives."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid:
        from r1data.procs import die_with_parent

        die_with_parent(parent.pid)
    key = (resolve_chromium(executable), float(timeout_s))
    browser = _SHARED.get(key)
    if browser is None:
        browser = _SHARED[key] = Browser(key[0], timeout_s)
    return browser


@atexit.register
def close_all() -> None:
    """Close every browser this process started."""
    for browser in _SHARED.values():
        browser.close()
    _SHARED.clear()
