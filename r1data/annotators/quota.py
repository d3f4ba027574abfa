"""One quota for a whole build: requests and tokens per minute shared by every worker.

A provider's rate limits hold for the key, not for one process: with ``--workers 4`` or 32 Ray
actors the build as a whole must stay within them, however unevenly the work falls on the
workers. So the quota lives in ONE place that every call of a build consults:

* :class:`LocalQuota`: in this process (a client used on its own, the tests);
* :class:`FileQuota`: a small JSON file under the build's state folder
  (``OUT/.r1data/quota/``), locked with ``flock`` for each decision: shared by every worker
  process on this machine, some tens of microseconds a call, and a killed worker never leaves
  it locked (the kernel drops the lock with the process);
* :class:`~r1data.annotators.ray_quota.RayQuota`: a small Ray actor, when the build runs on
  Ray (its actors may be on other nodes, which share no disk).

All three keep the same :class:`QuotaState`, which decides by *reservation*: a call takes its
request and its estimated tokens from two token buckets at once (they may go negative) and is
told how long to wait before it goes, so callers queue first come, first served, with one
locked operation each and no polling.

It adapts to what the server says. A ``429`` holds every caller of the build for its
``Retry-After`` (or a backoff when there is none), drains the buckets so that no burst follows
the pause, and cuts the request rate (the profile's, or the rate calls were sent at when the
profile names none) to the share of calls that got through over the last two seconds: the
real quota, when the profile's figures are too high or absent. One cut every two seconds at
most, never by more than half (a quarter on fewer than 20 outcomes); the cap grows back by 3 %
a second while calls succeed, and goes once it reaches the profile's rate.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import random
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

BURST_S = 1.0             # a bucket holds this many seconds of its rate (providers refuse bigger bursts)
WINDOW_S = 2.0           # calls, answers and 429s since about the last cut: what the server lets through now
CUT_COOLDOWN_S = 2.0      # one cut of the learned rate per this many seconds (429s come in bunches)
GROWTH_PER_S = 0.03       # the learned cap grows back by this fraction a second while calls succeed
GETTING_THROUGH_S = 10.0  # a call got through this recently: the quota is not exhausted
QUOTA_DIR = "quota"

# Jitter only spreads callers in time; it never changes what a record contains, so it does
# not come from the build's seeded generators (see r1data.steps.base.record_rng).
_jitter = random.Random()


@dataclass
class QuotaState:
    """The shared state of one quota; every method takes ``now`` (a monotonic clock)."""

    rpm: float | None = None
    tpm: float | None = None
    req_level: float = 0.0
    tok_level: float = 0.0
    stamp: float = 0.0                     # the buckets are full up to this time
    learned_rps: float | None = None       # request-rate cap learned from 429s
    last_growth: float = 0.0
    last_cut: float | None = None
    hold_until: float = 0.0
    hold_why: str = ""
    last_ok: float | None = None
    limited_since: float | None = None     # first 429 since the last success
    limited: int = 0                       # 429s since the last success
    # whole second -> events of the last WINDOW_S seconds: calls let go, answers, 429s
    sent_slots: dict[str, int] = field(default_factory=dict)
    ok_slots: dict[str, int] = field(default_factory=dict)
    limited_slots: dict[str, int] = field(default_factory=dict)

    # -- rates -------------------------------------------------------------------------------
    def req_rate(self) -> float | None:
        rates = [r for r in ((self.rpm or 0) / 60, self.learned_rps or 0) if r > 0]
        return min(rates) if rates else None

    def tok_rate(self) -> float | None:
        return self.tpm / 60 if self.tpm else None

    def _refill(self, now: float) -> None:
        dt = now - self.stamp
        if dt <= 0:
            return
        r = self.req_rate()
        if r:
            self.req_level = min(max(1.0, r * BURST_S), self.req_level + dt * r)
        t = self.tok_rate()
        if t:
            self.tok_level = min(max(1.0, t * BURST_S), self.tok_level + dt * t)
        self.stamp = now

    # -- operations (each runs under the quota's lock) ------------------------------------------
    def configure(self, now: float, rpm: float | None, tpm: float | None) -> None:
        """Set the profile's limits; a new (or reused, after a restart) state starts full."""
        fresh = self.stamp > now or now - self.stamp > 3600 or (self.rpm, self.tpm) != (rpm, tpm)
        self.rpm, self.tpm = rpm, tpm
        if fresh:   # another boot, an old build, or other limits: start again
            self.__init__(rpm=rpm, tpm=tpm)  # type: ignore[misc]
            r, t = self.req_rate(), self.tok_rate()
            self.req_level = max(1.0, r * BURST_S) if r else 0.0
            self.tok_level = max(1.0, t * BURST_S) if t else 0.0
            self.stamp = now
            self.last_growth = now

    def reserve(self, now: float, tokens: float) -> tuple[float, float]:
        """Take one request and ``tokens``; ``(seconds to wait, of which on a hold)``."""
        self._refill(now)
        ready = max(now, self.stamp)
        r = self.req_rate()
        if r:
            if self.req_level < 1:
                ready = max(ready, self.stamp + (1 - self.req_level) / r)
            self.req_level -= 1
        t = self.tok_rate()
        if t and tokens > 0:
            need = min(tokens, max(1.0, t * BURST_S))   # a call larger than the bucket goes when it is full
            if self.tok_level < need:
                ready = max(ready, self.stamp + (need - self.tok_level) / t)
            self.tok_level -= tokens
        _count(self.sent_slots, now)
        held = max(0.0, self.hold_until - now)
        return max(0.0, ready - now, held), held

    def hold_left(self, now: float) -> float:
        return max(0.0, self.hold_until - now)

    def settle(self, now: float, estimated: float, actual: float) -> None:
        """Charge the tokens a call really used instead of its estimate."""
        if self.tok_rate():
            self._refill(now)
            self.tok_level -= actual - estimated

    def done(self, now: float, estimated: float, actual: float) -> None:
        """A call got through: settle its tokens, count it, let a learned cap grow back."""
        self.settle(now, estimated, actual)
        self.last_ok = now
        self.limited_since = None
        self.limited = 0
        _count(self.ok_slots, now)
        if self.learned_rps is not None:
            self._refill(now)
            self.learned_rps *= 1 + GROWTH_PER_S * min(1.0, max(0.0, now - self.last_growth))
            if self.rpm and self.learned_rps >= self.rpm / 60:
                self.learned_rps = None       # back at the profile's rate
        self.last_growth = now

    def sent_rate(self, now: float) -> float:
        """Calls let go per second, in the busiest second of the last :data:`WINDOW_S` seconds."""
        return _rate(self.sent_slots, now)

    def on_limited(self, now: float, wait: float, why: str) -> None:
        """A 429: hold every caller ``wait`` seconds and learn the rate that gets through."""
        self._refill(now)
        self.limited += 1
        if self.limited_since is None:
            self.limited_since = now
        _count(self.limited_slots, now)
        oks, refused = _recent(self.ok_slots, now), _recent(self.limited_slots, now)
        # one cut per bunch of 429s; when nothing gets through at all, one cut only: slowing
        # down further cannot help, the pauses do the waiting (and max_wait_s ends it)
        if (self.last_cut is None or now - self.last_cut >= CUT_COOLDOWN_S) and \
                (oks > 0 or self.learned_rps is None):
            # the rate so far (the limit in force, else the rate calls were sent at) times the
            # share of them that got through lately
            current = self.req_rate()
            if current is None and oks + refused >= 20:     # too few outcomes say nothing of the rate
                current = self.sent_rate(now) or None
            if current is not None:
                # halve at most on good evidence (20 outcomes or more), else a quarter off at most
                floor = 0.5 if oks + refused >= 20 else 0.75
                new = max(floor * current, current * oks / (oks + refused))
                self.learned_rps = max(new, 1 / 60)
                self.req_level = min(self.req_level, max(1.0, new * BURST_S))
            self.last_cut = now
            self.last_growth = now
        if wait > 0:
            self.hold_until = max(self.hold_until, now + wait)
            self.hold_why = why
            # no burst after the pause: empty buckets that start filling when it ends
            self.req_level = min(self.req_level, 0.0)
            self.tok_level = min(self.tok_level, 0.0)
            self.stamp = max(self.stamp, self.hold_until)

    def hold(self, now: float, seconds: float) -> None:
        self.hold_until = max(self.hold_until, now + seconds)

    def getting_through(self, now: float) -> bool:
        """Whether any call of the build got an answer in the last few seconds."""
        return self.last_ok is not None and now - self.last_ok <= GETTING_THROUGH_S

    def limited_for(self, now: float) -> float:
        """Seconds since the first of the 429s that followed the last success (0: none)."""
        return now - self.limited_since if self.limited_since is not None else 0.0

    def status(self, now: float) -> str | None:
        """What the build waits for, in words, or None."""
        left = self.hold_until - now
        if left >= 0.5:
            return f"rate limited: waiting {left:.0f} s ({self.hold_why})" if self.hold_why else \
                f"rate limited: waiting {left:.0f} s"
        if self.limited_since is not None and now - self.limited_since >= 5:
            return f"rate limited: every call refused (HTTP 429) for {now - self.limited_since:.0f} s"
        return None

    # -- storage ---------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> "QuotaState":
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _count(slots: dict[str, int], now: float) -> None:
    """One more event in the whole second of ``now`` (slots older than the window are dropped)."""
    second = str(int(now))
    slots[second] = slots.get(second, 0) + 1
    if len(slots) > WINDOW_S + 2:
        floor = int(now - WINDOW_S) - 1
        for k in [k for k in slots if int(k) < floor]:
            del slots[k]


def _recent(slots: dict[str, int], now: float) -> int:
    """Events of the last :data:`WINDOW_S` seconds."""
    floor = now - WINDOW_S
    return sum(v for k, v in slots.items() if int(k) + 1 > floor)


def _rate(slots: dict[str, int], now: float) -> float:
    """The busiest second's events per second over the last :data:`WINDOW_S` seconds (the one
    under way counted over its elapsed part): an idle stretch next to a burst of work must not
    make its rate look small."""
    floor = now - WINDOW_S
    current = int(now)
    return max((v / (1.0 if int(k) < current else max(0.25, now - current))
                for k, v in slots.items() if int(k) + 1 > floor), default=0.0)


class Quota:
    """The limits every call of a build goes through (see the module docstring).

    ``await acquire(tokens)`` before a call; then ``done(estimated, actual)`` when it got an
    answer, or ``limited(wait, why)`` when it got a 429 (``wait`` 0: no shared pause)."""

    def _apply(self, method: str, *args: Any) -> Any:
        raise NotImplementedError

    async def acquire(self, tokens: float = 0) -> None:
        delay, held = self._apply("reserve", tokens)
        if delay > 0:
            if held > 0:   # callers paused together must not all come back at once
                delay += _jitter.uniform(0, min(1.0, held / 4))
            await asyncio.sleep(delay)
            # a 429 elsewhere may have paused everyone while this call waited for its turn
            while (left := self._apply("hold_left")) > 0:
                await asyncio.sleep(left + _jitter.uniform(0, min(1.0, left / 4)))

    def done(self, estimated: float, actual: float) -> None:
        self._apply("done", estimated, actual)

    def settle(self, estimated: float, actual: float) -> None:
        self._apply("settle", estimated, actual)

    def limited(self, wait: float, why: str) -> None:
        self._apply("on_limited", wait, why)

    def hold(self, seconds: float) -> None:
        """No call starts in the next ``seconds``."""
        self._apply("hold", seconds)

    def getting_through(self) -> bool:
        return bool(self._apply("getting_through"))

    def limited_for(self) -> float:
        return float(self._apply("limited_for"))

    def status(self) -> str | None:
        return self._apply("status")

    def close(self) -> None:
        pass


class LocalQuota(Quota):
    """The quota of one process (a lock around a :class:`QuotaState`)."""

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None,
                 clock: Any = time.monotonic):
        self.clock = clock
        self.state = QuotaState()
        self._lock = threading.Lock()
        self._apply("configure", requests_per_minute, tokens_per_minute)

    def _apply(self, method: str, *args: Any) -> Any:
        with self._lock:
            return getattr(self.state, method)(self.clock(), *args)


class FileQuota(Quota):
    """The quota of every process of this machine that opens the same file.

    Each operation locks the file (``flock``), reads the state, applies, writes it back. The
    clock is ``time.monotonic`` (CLOCK_MONOTONIC: one clock for every process of a machine)."""

    def __init__(self, path: str | Path, requests_per_minute: float | None = None,
                 tokens_per_minute: float | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._apply("configure", requests_per_minute, tokens_per_minute)

    def _apply(self, method: str, *args: Any) -> Any:
        fd = self._fd
        if fd is None:
            raise ValueError(f"quota {self.path} is closed")
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            raw = os.pread(fd, 1 << 16, 0)
            try:
                state = QuotaState.from_json(raw) if raw.strip() else QuotaState()
            except (ValueError, TypeError):    # a writer killed mid-write: start again
                state = QuotaState()
            result = getattr(state, method)(time.monotonic(), *args)
            data = state.to_json().encode()
            os.pwrite(fd, data, 0)
            if len(data) < len(raw):
                os.ftruncate(fd, len(data))
            return result
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


def quota_key(profile: Any) -> str:
    """The file or actor name of a profile's quota: one per provider, endpoint and model."""
    text = json.dumps([profile.provider, profile.base_url or "", profile.model or "", profile.name])
    return f"{profile.name or profile.provider}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def build_quota(profile: Any, output: Path | None, options: dict) -> Quota:
    """The quota for a step of a build: a Ray actor when the build runs on Ray, else a file in
    the build's state folder, else (no build folder) this process's own."""
    if options.get("executor") == "ray":
        from r1data.annotators.ray_quota import RayQuota, ray_ready

        if ray_ready():
            mirror = output / ".r1data" / QUOTA_DIR / f"{quota_key(profile)}.json" if output else None
            return RayQuota(quota_key(profile), profile.requests_per_minute, profile.tokens_per_minute,
                            mirror=mirror, scope=str(output or ""))
    if output is not None:
        return FileQuota(Path(output) / ".r1data" / QUOTA_DIR / f"{quota_key(profile)}.json",
                         profile.requests_per_minute, profile.tokens_per_minute)
    return LocalQuota(profile.requests_per_minute, profile.tokens_per_minute)
