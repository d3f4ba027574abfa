"""Calling an API annotator at scale: concurrency, pacing, retries, output checks, cache, cost.

:class:`AnnotatorClient` wraps one backend (Gemini, OpenAI-compatible) for one process:

* at most ``max_concurrency`` calls in flight (an asyncio semaphore), paced by a
  :class:`~r1data.annotators.limits.RateLimiter` on requests and tokens per minute;
* transient failures (429, 5xx, timeouts, dropped connections, malformed bodies) are retried
  up to ``max_retries`` times with exponential backoff and jitter, honouring Retry-After;
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
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from r1data.annotators.cache import ResponseCache, request_key
from r1data.annotators.limits import RateLimiter, backoff_delay
from r1data.annotators.profile import AnnotatorProfile
from r1data.annotators.prompt import check_answer
from r1data.annotators.request import (AnnotationRequest, AnnotationResponse, AnnotatorCallError,
                                       AnnotatorUnusable, Message, PermanentError, TransientError)

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


class AnnotatorClient:
    """Annotate requests with one profile's backend (see the module docstring)."""

    def __init__(self, profile: AnnotatorProfile, backend: Any, *, cache: ResponseCache | None = None,
                 refresh: bool = False):
        self.profile = profile
        self.backend = backend
        self.cache = cache
        self.refresh = refresh
        self.usage = Usage()
        self.limiter = RateLimiter(profile.requests_per_minute, profile.tokens_per_minute)
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
            # ask again with what was wrong; a new request, so a new cache entry
            ask = ask.followed_by(
                Message("assistant", (response.text,)),
                Message("user", (f"That answer is not in the required format: {why}. Answer the "
                                 "request again, in exactly the format it asks for.",)))
        raise PermanentError("unparsable_output", f"after {self.profile.parse_retries + 1} answers: {why}")

    async def _answer(self, request: AnnotationRequest) -> AnnotationResponse:
        key = request_key(self.backend.provider, self.profile.model or "", request)
        if self.cache is not None and not self.refresh:
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.cache_hits += 1
                self.usage.cached_tokens_in += hit.tokens_in
                self.usage.cached_tokens_out += hit.tokens_out
                self.usage.cached_cost_usd += self.profile.cost(hit.tokens_in, hit.tokens_out)
                return hit
        response = await self._call(request)
        if self.cache is not None:
            self.cache.put(key, self.backend.provider, response)
        return response

    async def _call(self, request: AnnotationRequest) -> AnnotationResponse:
        """One answer from the API, retrying transient failures."""
        p = self.profile
        if self._sem is None:
            self._sem = asyncio.Semaphore(p.max_concurrency)
        estimate = request.estimated_tokens() + p.max_output_tokens // 4
        last: TransientError | None = None
        backstop = 3 * p.timeout_s + 10
        for attempt in range(p.max_retries + 1):
            async with self._sem:
                await self.limiter.acquire(estimate)
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
                    self.limiter.settle(estimate, response.tokens_in + response.tokens_out)
                    self.usage.tokens_in += response.tokens_in
                    self.usage.tokens_out += response.tokens_out
                    self.usage.cost_usd += p.cost(response.tokens_in, response.tokens_out)
                    return response
            if attempt == p.max_retries:
                break
            self.usage.retries += 1
            if last.retry_after:
                self.limiter.hold(last.retry_after)
            await asyncio.sleep(backoff_delay(attempt, p.backoff_initial_s, p.backoff_max_s, last.retry_after))
        assert last is not None
        raise PermanentError(f"gave_up_{last.reason}",
                             f"{p.max_retries + 1} attempts failed, the last with {last.detail or last.reason}")

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

        return list(await asyncio.gather(*(one(r, f) for r, f in requests)))

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
        if self._loop is not None and not self._loop.is_closed():
            self._loop.run_until_complete(self.backend.aclose())
            self._loop.close()

