"""Pacing API calls: a request/token rate limiter and the retry backoff schedule.

Both work on an asyncio loop. The limiter is two token buckets, one counting requests and
one counting tokens, refilled continuously at the profile's per-minute rates; a call waits
until both buckets hold what it needs. A ``429`` answer with ``Retry-After`` holds every
call of the limiter (not just the one that got it): the quota is shared, so hammering on
with the other calls would only earn more 429s.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

# Jitter only spreads retries in time; it never changes what a record contains, so it does
# not come from the build's seeded generators (see r1data.steps.base.record_rng).
_jitter = random.Random()


def backoff_delay(attempt: int, initial_s: float, max_s: float, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    Exponential (``initial_s * 2**attempt``, capped at ``max_s``) with "equal jitter": half
    the delay fixed, half random, so retries of calls that failed together spread out. A
    server's ``Retry-After`` is a floor: we never come back sooner than it asked.
    """
    base = min(max_s, initial_s * (2 ** attempt))
    delay = base / 2 + _jitter.uniform(0, base / 2)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, retry_after + _jitter.uniform(0, min(1.0, retry_after / 4)))
    return delay


class _Bucket:
    """A token bucket: ``capacity`` units, refilled at ``rate`` units per second."""

    def __init__(self, rate_per_s: float, capacity: float, clock: Callable[[], float]):
        self.rate = rate_per_s
        self.capacity = max(1.0, capacity)
        self.level = self.capacity
        self.clock = clock
        self.stamp = clock()

    def refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, n: float) -> float:
        """Seconds until ``n`` units (at most a full bucket) are there; 0 when they are."""
        self.refill()
        need = min(n, self.capacity)   # a request larger than the bucket goes when it is full
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, n: float) -> None:
        self.level -= n                # may go negative: a large request is paid back later


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits for the calls of one process.

    ``acquire(tokens)`` waits for a request slot and ``tokens`` estimated tokens; after the
    answer, ``settle(estimated, actual)`` charges the difference. Waiters are served in
    arrival order. Buckets hold a few seconds of rate, so a build starts at full speed
    without a burst the provider would refuse.
    """

    BURST_S = 2.0

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.requests = (_Bucket(requests_per_minute / 60, requests_per_minute / 60 * self.BURST_S, clock)
                         if requests_per_minute else None)
        self.tokens = (_Bucket(tokens_per_minute / 60, tokens_per_minute / 60 * self.BURST_S, clock)
                       if tokens_per_minute else None)
        self.hold_until = 0.0
        self._lock: asyncio.Lock | None = None

    def hold(self, seconds: float) -> None:
        """No call starts in the next ``seconds`` (the server said Retry-After)."""
        self.hold_until = max(self.hold_until, self.clock() + seconds)

    async def acquire(self, tokens: int = 0) -> None:
        if self.requests is None and self.tokens is None and self.hold_until <= self.clock():
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:       # one waiter at a time: first come, first served
            while True:
                wait = self.hold_until - self.clock()
                if self.requests is not None:
                    wait = max(wait, self.requests.wait_time(1))
                if self.tokens is not None:
                    wait = max(wait, self.tokens.wait_time(tokens))
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self.requests is not None:
                self.requests.take(1)
            if self.tokens is not None:
                self.tokens.take(tokens)

    def settle(self, estimated: int, actual: int) -> None:
        """Charge the tokens a call really used instead of its estimate."""
        if self.tokens is not None:
            self.tokens.refill()
            self.tokens.take(actual - estimated)
