"""Model-backed rewards: a judge or a grounder asked through an annotator profile.

A reward that needs a model's reading of a completion (GoT-R1's semantic and spatial judgments,
InfiGUI-R1's sub-goal check, Omni-R1's grounder) names an annotator profile (``judge="gpt-4o"``)
and asks it through a :class:`ModelJudge`::

    judge = judge_for("gpt-4o")
    scores = judge.ask([Ask("got_judge_semantic", {"caption": c, "reasoning": r, "scale": "10"}), None],
                       parse=lambda answer: ...)        # -> [value or None, None]

* **One reward call, one batch.** Every :class:`Ask` of a call goes out concurrently through the
  profile's :class:`~r1data.annotators.client.AnnotatorClient` (``max_concurrency``, request and
  token limits, retries with backoff) and the response cache (``$R1DATA_CACHE_DIR``): scoring the
  same completions again asks nothing.
* **Bounded.** The batch waits at most ``timeout_s`` (by default the profile's ``timeout_s``);
  whatever has not answered by then scores None.
* **None with a reason, never a silent 0.** A completion the model cannot score (``timeout``, an
  API error past the retries such as ``gave_up_http_500``, ``unparsable``: an answer ``parse``
  turns down or that is not in the template's format after the re-asks, ``prompt_error``: the row
  does not fit the template) scores None and its reason is counted: :func:`counting_unscored`
  collects the counts of a block (``r1data eval`` reports them per reward; ``r1data train`` logs
  them as ``unscored/<reward>/<reason>``). An Ask of ``None`` means "does not apply" (no image to
  judge, say): None, not counted.
* **A profile that cannot work at all** (refused key, unknown model, a server failing every one of
  the first calls) raises :class:`~r1data.annotators.request.AnnotatorUnusable`: one line, not a
  run of Nones.

Threads and loops: every judge of a process runs on one event loop in a daemon thread, so its
HTTP client and limiter live on one loop whoever calls: :meth:`ModelJudge.ask` from plain code
(``r1data eval``, the rollout step), ``await`` :meth:`ModelJudge.ask_async` from a coroutine. TRL's
GRPOTrainer runs ``async`` reward functions concurrently with each other; :func:`as_async_reward`
makes one of any reward (``r1data train`` does it for every reward that is not rule-based).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import functools
import os
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1data.errors import UsageError

# a failure that is not the record's fault: an unreachable or refusing server answers every call
# the same way; after this many failures and no success the judge stops with the reason
GIVE_UP_AFTER = 32


@dataclass(frozen=True)
class Ask:
    """One question for a model: a prompt template of ``annotators/templates/`` and its variables.

    ``row`` holds the template's variables; a media field the template names (``{% set media =
    "image" %}``) holds image bytes, an Arrow image struct, a PIL image or an array."""

    template: str
    row: dict = field(default_factory=dict)


# -- counting what could not be scored --------------------------------------------------------------

_SCOPE: contextvars.ContextVar[Counter | None] = contextvars.ContextVar("r1data_unscored", default=None)
_TOTALS: Counter = Counter()
_TOTALS_LOCK = threading.Lock()


@contextlib.contextmanager
def counting_unscored() -> Iterator[Counter]:
    """Count, by reason, the completions the judges called in this block could not score.

    ``with counting_unscored() as counts: values = reward(...)`` -> ``counts["timeout"]`` ...
    Blocks nest (the innermost counts); the process-wide totals are :func:`unscored_totals`."""
    counts: Counter = Counter()
    token = _SCOPE.set(counts)
    try:
        yield counts
    finally:
        _SCOPE.reset(token)


def note_unscored(reason: str, n: int = 1) -> None:
    """Record ``n`` completions left unscored for ``reason`` (judges call this; so may a reward)."""
    if n <= 0:
        return
    scope = _SCOPE.get()
    if scope is not None:
        scope[reason] += n
    with _TOTALS_LOCK:
        _TOTALS[reason] += n


def unscored_totals() -> dict[str, int]:
    """Every unscored completion of this process so far, by reason."""
    with _TOTALS_LOCK:
        return dict(_TOTALS)


# -- the judges' event loop -----------------------------------------------------------------------------

class _JudgeLoop:
    """One asyncio loop in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="r1data-judges", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def submit(self, coro: Coroutine) -> concurrent.futures.Future:
        loop = self.loop()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a judge was called synchronously from its own event loop; use ask_async")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()


_LOOP = _JudgeLoop()


# -- the judge --------------------------------------------------------------------------------------

_TIMEOUT = object()      # the marker of an Ask the batch deadline cut off


class ModelJudge:
    """A model behind an annotator profile, asked with prompt templates (see the module docstring).

    ``profile``: a profile name in ``annotators/`` or a path to one (a gemini or openai profile;
    its key is checked now). ``timeout_s``: the longest one :meth:`ask` waits (default: the
    profile's ``timeout_s``). ``cache``: ``"default"`` (the shared response cache), a path, a
    :class:`~r1data.annotators.cache.ResponseCache` or None. ``what`` names the judge in errors."""

    def __init__(self, profile: str | Path, *, timeout_s: float | None = None, cache: Any = "default",
                 refresh: bool = False, workspace: str | Path | None = None, what: str = "judge"):
        from r1data.annotators import providers
        from r1data.annotators.cache import ResponseCache
        from r1data.annotators.client import AnnotatorClient
        from r1data.annotators.profile import load_profile
        from r1data.assets import Assets

        self.what = what
        self.assets = Assets.from_workspace(workspace, plugins=False)
        self.profile = load_profile(profile, self.assets)
        if self.profile.provider == "programmatic":
            raise UsageError(f"{what}: annotator profile {self.profile.name!r} is programmatic; a judge needs a "
                             "model behind an API profile (gemini or openai)")
        if timeout_s is not None and not timeout_s > 0:
            raise UsageError(f"{what}: timeout_s must be positive, got {timeout_s}")
        self.timeout_s = float(timeout_s or self.profile.timeout_s)
        backend = providers.get(self.profile.provider)(self.profile)      # checks the key's env var now
        if cache == "default":
            cache = ResponseCache.default()
        elif isinstance(cache, (str, Path)):
            cache = ResponseCache(cache)
        self.client = AnnotatorClient(self.profile, backend, cache=cache, refresh=refresh)
        self._templates: dict[str, Any] = {}
        self._ever_ok = False
        self._failing = 0
        self._closed = False

    @property
    def usage(self) -> Any:
        """The client's :class:`~r1data.annotators.client.Usage`: calls, cache hits, tokens, dollars."""
        return self.client.usage

    def template(self, name: str) -> Any:
        """The compiled prompt template ``annotators/templates/NAME.jinja`` (a workspace copy first)."""
        if name not in self._templates:
            from r1data.annotators.prompt import PromptTemplate
            from r1data.errors import UnknownNameError

            try:
                path = self.assets.find("annotators", f"templates/{name}", suffixes=(".jinja", ".j2"))
            except UnknownNameError:
                raise UsageError(f"{self.what}: no prompt template {name!r} in annotators/templates/") from None
            self._templates[name] = PromptTemplate(path)
        return self._templates[name]

    def request(self, ask: Ask) -> tuple[Any, str]:
        """The request of one Ask and the answer format its template asks for; ``ValueError``
        when the row does not fit the template (a variable or an image missing)."""
        p = self.profile
        return self.template(ask.template).request(ask.row, temperature=p.temperature,
                                                   max_output_tokens=p.max_output_tokens)

    # -- asking ------------------------------------------------------------------------------------
    def ask(self, asks: Sequence[Ask | None], parse: Callable[[Any], Any]) -> list[Any]:
        """The model's answers to ``asks``, each through ``parse`` (the template's parsed answer:
        a dict for ``json``, the text for ``text``; None rejects it). None where the Ask is None,
        or the answer is missing (counted with its reason)."""
        requests, slots, out = self._prepare(asks)
        if requests:
            answers = _LOOP.submit(self._ask_all(requests)).result()
            self._finish(answers, slots, out, parse)
        return out

    async def ask_async(self, asks: Sequence[Ask | None], parse: Callable[[Any], Any]) -> list[Any]:
        """:meth:`ask` for coroutines: awaits the judges' loop without blocking the caller's."""
        requests, slots, out = self._prepare(asks)
        if requests:
            answers = await asyncio.wrap_future(_LOOP.submit(self._ask_all(requests)))
            self._finish(answers, slots, out, parse)
        return out

    def _prepare(self, asks: Sequence[Ask | None]) -> tuple[list, list[int], list[Any]]:
        if self._closed:
            raise RuntimeError(f"{self.what} {self.profile.name!r} is closed")
        out: list[Any] = [None] * len(asks)
        requests, slots = [], []
        bad = 0
        for i, ask in enumerate(asks):
            if ask is None:
                continue
            try:
                requests.append(self.request(ask))
            except ValueError:
                bad += 1
                continue
            slots.append(i)
        note_unscored("prompt_error", bad)
        return requests, slots, out

    def _finish(self, answers: list, slots: list[int], out: list[Any], parse: Callable[[Any], Any]) -> None:
        from r1data.annotators.request import AnnotatorCallError

        reasons: Counter = Counter()
        for i, answer in zip(slots, answers):
            if answer is _TIMEOUT:
                reasons["timeout"] += 1
            elif isinstance(answer, AnnotatorCallError):
                reasons["unparsable" if answer.reason == "unparsable_output" else answer.reason] += 1
            else:
                value = parse(answer.parsed)
                if value is None:
                    reasons["unparsable"] += 1
                out[i] = value
        for reason, n in reasons.items():
            note_unscored(reason, n)

    async def _ask_all(self, requests: list[tuple[Any, str]]) -> list[Any]:
        """Runs on the judges' loop: every request at once, cut off at the deadline."""
        from r1data.annotators.request import AnnotatorCallError, AnnotatorUnusable

        async def one(request: Any, fmt: str) -> Any:
            try:
                return await self.client.annotate(request, fmt)
            except AnnotatorCallError as e:
                return e

        tasks = [asyncio.ensure_future(one(r, f)) for r, f in requests]
        _, pending = await asyncio.wait(tasks, timeout=self.timeout_s)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        answers = [_TIMEOUT if t in pending else t.result() for t in tasks]   # AnnotatorUnusable propagates
        failed = [a for a in answers if isinstance(a, AnnotatorCallError)]
        if len(failed) < len(answers):
            self._ever_ok, self._failing = True, 0
        elif failed:
            self._failing += len(failed)
            if not self._ever_ok and self._failing >= GIVE_UP_AFTER:
                where = getattr(self.client.backend, "where", self.profile.name)
                raise AnnotatorUnusable(f"{where}: the first {self._failing} {self.what} calls all failed "
                                        f"({failed[-1].reason}: {failed[-1].detail})")
        return answers

    def close(self) -> None:
        """Close the HTTP client (on the judges' loop); the cache stays open for others."""
        if self._closed:
            return
        self._closed = True
        try:
            _LOOP.submit(self.client.backend.aclose()).result(timeout=10)
        except Exception:   # closing at exit: a dead loop or connection has nothing left to close
            pass


# -- one judge per profile and process --------------------------------------------------------------

_JUDGES: dict[tuple, ModelJudge] = {}
_JUDGES_LOCK = threading.Lock()


def judge_for(profile: str | Path, *, timeout_s: float | None = None, what: str = "judge") -> ModelJudge:
    """The process's :class:`ModelJudge` for a profile name or path, made on first use.

    Keyed by the profile, the timeout and ``$R1DATA_WORKSPACE`` / ``$R1DATA_CACHE_DIR`` (a test
    or a run with another cache gets its own client). GRPO calls a reward every step: the
    client, its connections and its limiter are kept."""
    key = (str(profile), timeout_s, os.environ.get("R1DATA_WORKSPACE"), os.environ.get("R1DATA_CACHE_DIR"))
    with _JUDGES_LOCK:
        judge = _JUDGES.get(key)
        if judge is None:
            judge = ModelJudge(profile, timeout_s=timeout_s, what=what)
            _JUDGES[key] = judge
        return judge


def forget_judges() -> None:
    """Close and drop the kept judges (tests; a process that changes its keys or profiles)."""
    with _JUDGES_LOCK:
        judges = list(_JUDGES.values())
        _JUDGES.clear()
    for judge in judges:
        judge.close()


@atexit.register
def _close_at_exit() -> None:
    forget_judges()
    _LOOP.stop()


# -- TRL: model-backed rewards run concurrently -------------------------------------------------------

class AsyncReward:
    """A reward function as a coroutine function for TRL (see :func:`as_async_reward`).

    A class rather than a closure so that it pickles like the reward it wraps."""

    def __init__(self, fn: Callable[..., list]):
        self.fn = fn
        inner = fn
        while isinstance(inner, functools.partial):     # TRL logs the function's name
            inner = inner.func
        self.__name__ = getattr(fn, "__name__", None) or getattr(inner, "__name__", type(fn).__name__)

    async def __call__(self, *args: Any, **kwargs: Any) -> list:
        log_metric = kwargs.get("log_metric")

        def call() -> tuple[list, Counter]:
            with counting_unscored() as counts:
                values = self.fn(*args, **kwargs)
            return values, counts

        values, counts = await asyncio.to_thread(call)
        if callable(log_metric):
            for reason, n in sorted(counts.items()):
                log_metric(f"unscored/{self.__name__}/{reason}", float(n))
        return values

    def __repr__(self) -> str:
        return f"AsyncReward({self.__name__})"


def as_async_reward(fn: Callable[..., list]) -> AsyncReward:
    """``fn`` as an ``async`` reward: TRL's GRPOTrainer gathers its async rewards, so rewards that
    wait on a model (judges, grounders, embedding models) run at the same time instead of one
    after the other. The function itself runs in a worker thread; unscored completions are
    logged through TRL's ``log_metric`` as ``unscored/<reward>/<reason>``."""
    return fn if isinstance(fn, AsyncReward) else AsyncReward(fn)
