"""Pacing API calls: the retry backoff schedule, and :class:`RateLimiter`.

The rate limits themselves live in :mod:`r1data.annotators.quota` (one quota shared by every
worker of a build); :class:`RateLimiter` is that quota for one process, under its old name.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from r1data.annotators.quota import LocalQuota

# Jitter only spreads retries in time; it never changes what a record contains, so it does
# not come from the build's seeded generators (see r1data.steps.base.record_rng).
_jitter = random.Random()


def backoff_delay(attempt: int, initial_s: float, max_s: float, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    Exponential (``initial_s * 2**attempt``, capped at ``max_s``) with "equal jitter": half
    the delay fixed, half random, so retries of calls that failed together spread out. A
    server's ``Retry-After`` is a floor: we never come back sooner than it asked.
    """
    base = min(max_s, initial_s * (2 ** min(attempt, 60)))
    delay = base / 2 + _jitter.uniform(0, base / 2)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, retry_after + _jitter.uniform(0, min(1.0, retry_after / 4)))
    return delay


class RateLimiter(LocalQuota):
    """Requests-per-minute and tokens-per-minute limits for the calls of one process.

    ``await acquire(tokens)`` waits for a request slot and ``tokens`` estimated tokens;
    ``settle(estimated, actual)`` charges the difference; ``hold(seconds)`` pauses every call.
    Buckets hold one second of rate, so a build starts at full speed without a burst the
    provider would refuse.
    """

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(requests_per_minute, tokens_per_minute, clock)
