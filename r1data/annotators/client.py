"""Calling an API annotator at scale: concurrency, pacing, retries, output checks, cache, cost.

:class:`AnnotatorClient` wraps one backend (Gemini, OpenAI-compatible) for one process:

* at most ``max_concurrency`` calls in flight (an asyncio semaphore), paced by a
  :class:`~r1data.annotators.quota.Quota` on requests and tokens per minute (in a build, one
  quota shared by all its workers; on its own, this process's);
* transient failures (5xx, timeouts, dropped connections, malformed bodies) are retried up
  to ``max_retries`` times with exponential backoff and jitter;
* a 429 pauses every caller of the quota for its Retry-After (or a backoff) and is retried
  without counting against ``max_retries``, for at most ``max_wait_s`` of waiting in all: past
  that the record fails with ``gave_up_rate_limited`` while other calls get through, and the
  build stops with :class:`~r1data.annotators.request.RateLimited` (one line: "rate limited")
  when none does;
* an answer not in the asked format is asked again (``parse_retries`` times) with a note
  saying what was wrong; then the record fails with ``unparsable_output``;
* every answer is stored in the :class:`~r1data.annotators.cache.ResponseCache` and looked
  up first (unless ``refresh``), so a rerun makes no call twice;
* tokens and dollars of the calls made are added up in :class:`Usage`.

A record that cannot be annotated comes back as an :class:`AnnotatorCallError` (the step
rejects it and the build goes on). A profile that cannot work at all (refused key, unknown
model, a server failing every one of the first calls) raises :class:`AnnotatorUnusable`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from r1data.annotators.cache import ResponseCache, request_key
from r1data.annotators.limits import backoff_delay
from r1data.annotators.profile import AnnotatorProfile
from r1data.annotators.prompt import check_answer
from r1data.annotators.quota import LocalQuota, Quota
from r1data.annotators.request import (AnnotationRequest, AnnotationResponse, AnnotatorCallError,
                                       AnnotatorUnusable, Message, PermanentError, RateLimited,
                                       TransientError)

# this many records failing in a row, before any record ever succeeded, means the server is
# down or the profile is wrong (a model that refuses images, say), not that these records are
# bad: stop with the reason instead of rejecting the whole source one record at a time
GIVE_UP_AFTER = 32


@dataclass
class Usage:
    """What the calls of one process cost (cache hits are free)."""

    calls: int = 0          # HTTP requests made, retries included
    cache_hits: int = 0
    retries: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    failed: int = 0         # records that could not be annotated
    cached_tokens_in: int = 0     # what the cache hits cost when they were asked (for estimates)
    cached_tokens_out: int = 0
    cached_cost_usd: float = 0.0

    def take(self) -> "Usage":
        """The usage so far; the counters start again from zero."""
        out = Usage(**{f.name: getattr(self, f.name) for f in fields(self)})
        for f in fields(self):
            setattr(self, f.name, type(getattr(self, f.name))())
        return out


def reask(ask: AnnotationRequest, response: AnnotationResponse, why: str) -> AnnotationRequest:
    """The request that asks again after an answer not in the required format: the model's own
    answer, then what was wrong with it (a new request, so a new cache entry)."""
    return ask.followed_by(
        Message("assistant", (response.text,)),
        Message("user", (f"That answer is not in the required format: {why}. Answer the "
                         "request again, in exactly the format it asks for.",)))


class AnnotatorClient:
    """Annotate requests with one profile's backend (see the module docstring).

    ``quota``: the limits to share (default: this process's own, from the profile);
    ``known_failures``: request key -> (reason, detail) of requests already failed for good
    (by the batch API): such a request fails the same way, without a call."""

    def __init__(self, profile: AnnotatorProfile, backend: Any, *, cache: ResponseCache | None = None,
                 refresh: bool = False, quota: Quota | None = None,
                 known_failures: dict[str, tuple[str, str]] | None = None):
        self.profile = profile
        self.backend = backend
        self.cache = cache
        self.refresh = refresh
        self.usage = Usage()
        self.quota = quota if quota is not None else LocalQuota(profile.requests_per_minute,
                                                                 profile.tokens_per_minute)
        self.limiter = self.quota          # the name it had before quotas were shared
        self.known_failures = known_failures if known_failures is not None else {}
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ever_ok = False
        self._failing = 0

    # -- one request -----------------------------------------------------------------------
    async def annotate(self, request: AnnotationRequest, answer_format: str = "text") -> AnnotationResponse:
        """The checked answer to ``request`` (``parsed`` filled), from the cache or the API.

        Raises :class:`AnnotatorCallError` when this record cannot be annotated."""
        ask = request
        why: str | None = None
        response: AnnotationResponse | None = None
        for _ in range(self.profile.parse_retries + 1):
            response = await self._answer(ask)
            parsed, why = check_answer(response.text, answer_format, request.response_schema)
            if why is None:
                response.parsed = parsed
                return response
            ask = reask(ask, response, why)
        raise PermanentError("unparsable_output", f"after {self.profile.parse_retries + 1} answers: {why}")

    async def _answer(self, request: AnnotationRequest) -> AnnotationResponse:
        key = request_key(self.backend.provider, self.profile.model or "", request)
        failed = self.known_failures.get(key)
        if failed is not None:
            raise PermanentError(*failed)
        if self.cache is not None and not self.refresh:
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.cache_hits += 1
                self.usage.cached_tokens_in += hit.tokens_in
                self.usage.cached_tokens_out += hit.tokens_out
                # at what it cost when asked: batch prices for a batch-mode profile
                price = self.profile.batch_cost if self.profile.batch else self.profile.cost
                self.usage.cached_cost_usd += price(hit.tokens_in, hit.tokens_out)
                return hit
        response = await self._call(request)
        if self.cache is not None:
            self.cache.put(key, self.backend.provider, response)
        return response

    async def _call(self, request: AnnotationRequest) -> AnnotationResponse:
        """One answer from the API, retrying transient failures and waiting out 429s."""
        p = self.profile
        if self._sem is None:
            self._sem = asyncio.Semaphore(p.max_concurrency)
        estimate = request.estimated_tokens() + p.max_output_tokens // 4
        last: TransientError | None = None
        failures = 0          # transient failures other than 429: at most max_retries
        limited = 0           # 429s of this request
        first_429: float | None = None    # when this request got its first 429
        backstop = 3 * p.timeout_s + 10
        while True:
            async with self._sem:
                await self.quota.acquire(estimate)
                self.usage.calls += 1
                try:
                    # a backstop over the client's own timeout, which bounds each socket read
                    # but not a server trickling bytes forever; generous, because the first call
                    # of a client also pays for its lazy imports on this loop
                    response = await asyncio.wait_for(self.backend.generate(request), backstop)
                except asyncio.TimeoutError:
                    last = TransientError("timeout", f"no answer within {backstop:g} s")
                except TransientError as e:
                    last = e
                else:
                    self.quota.done(estimate, response.tokens_in + response.tokens_out)
                    self.usage.tokens_in += response.tokens_in
                    self.usage.tokens_out += response.tokens_out
                    self.usage.cost_usd += p.cost(response.tokens_in, response.tokens_out)
                    return response
            if last.reason == "rate_limited":
                wait = backoff_delay(limited, p.backoff_initial_s, p.backoff_max_s, last.retry_after)
                limited += 1
                now = time.monotonic()
                first_429 = now if first_429 is None else first_429
                waited = now - first_429      # all of it: the pauses, and the slower pace after them
                if waited + wait > p.max_wait_s:
                    self.quota.limited(0.0, "HTTP 429")      # counted, but no one else pauses for it
                    raise self._rate_limit_verdict(last, waited)
                why = f"HTTP 429, Retry-After {last.retry_after:g} s" if last.retry_after else "HTTP 429"
                self.quota.limited(wait, why)                 # every caller of the quota pauses
                self.usage.retries += 1
                await asyncio.sleep(wait)
                continue
            failures += 1
            if failures > p.max_retries:
                break
            self.usage.retries += 1
            await asyncio.sleep(backoff_delay(failures - 1, p.backoff_initial_s, p.backoff_max_s, last.retry_after))
        assert last is not None
        raise PermanentError(f"gave_up_{last.reason}",
                             f"{p.max_retries + 1} attempts failed, the last with {last.detail or last.reason}")

    def _rate_limit_verdict(self, last: TransientError, waited: float) -> Exception:
        """Past ``max_wait_s``: this record gives up while others get through; otherwise the
        quota is exhausted and the build stops with one line."""
        p = self.profile
        where = getattr(self.backend, "where", p.name)
        ra = last.retry_after
        if self.quota.getting_through():
            asked = f"the server asks to wait {ra:g} s (Retry-After)" if ra and ra > p.max_wait_s - waited \
                else f"still refused after {waited:.0f} s of waiting"
            return PermanentError("gave_up_rate_limited", f"HTTP 429: {asked}; max_wait_s is {p.max_wait_s:g} s")
        resume = "the build is checkpointed: rerun the same command later to continue"
        if ra and ra > p.max_wait_s - waited:
            return RateLimited(f"{where}: rate limited: the server asks to wait {ra:g} s before the next call "
                               f"(Retry-After), longer than the profile's max_wait_s of {p.max_wait_s:g} s, "
                               f"and no call is getting through; {resume}")
        refused = max(waited, self.quota.limited_for())
        return RateLimited(f"{where}: rate limited: quota exhausted: every call for the last {refused:.0f} s was "
                           f"refused with HTTP 429 (max_wait_s {p.max_wait_s:g} s); {resume}")

    # -- many requests -----------------------------------------------------------------------
    async def annotate_many(self, requests: Sequence[tuple[AnnotationRequest, str]]
                            ) -> list[AnnotationResponse | AnnotatorCallError]:
        """Answers in the order of ``requests`` (request, answer format); failures as errors."""

        async def one(request: AnnotationRequest, fmt: str) -> AnnotationResponse | AnnotatorCallError:
            try:
                response = await self.annotate(request, fmt)
            except AnnotatorCallError as e:
                self.usage.failed += 1
                self._note(ok=False, error=e)
                return e
            self._note(ok=True)
            return response

        tasks = [asyncio.ensure_future(one(r, f)) for r, f in requests]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            # the build stops (a refused key, "rate limited"): end the other calls here, not
            # later on a closed client with a traceback each
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def _note(self, ok: bool, error: AnnotatorCallError | None = None) -> None:
        if ok:
            self._ever_ok = True
            self._failing = 0
            return
        self._failing += 1
        if not self._ever_ok and self._failing >= GIVE_UP_AFTER and error is not None:
            raise AnnotatorUnusable(f"{getattr(self.backend, 'where', self.profile.name)}: the first "
                                    f"{self._failing} records all failed ({error.reason}: {error.detail})")

    def run(self, requests: Sequence[tuple[AnnotationRequest, str]]) -> list[AnnotationResponse | AnnotatorCallError]:
        """:meth:`annotate_many` from synchronous code, on this client's own event loop
        (kept between calls: the HTTP connections and the limiter live on it)."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.annotate_many(requests))

    def close(self) -> None:
        """Close the HTTP client and the event loop (the cache stays open for others)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            def shut() -> None:
                loop.run_until_complete(self.backend.aclose())
                loop.close()

            try:
                asyncio.get_running_loop()
            except RuntimeError:
                shut()
            else:   # a finalizer run while another loop runs in this thread: close ours in a helper
                import threading

                helper = threading.Thread(target=shut, name="r1data-client-close")
                helper.start()
                helper.join()
        self.quota.close()

