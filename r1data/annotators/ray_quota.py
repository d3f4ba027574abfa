"""The build's quota as a Ray actor, for builds on Ray (``--executor ray``).

Ray actors may run on other nodes, which share no disk with the driver, so the file-locked
:class:`~r1data.annotators.quota.FileQuota` cannot be their meeting point. Instead the first
stage actor that needs the quota creates a small named actor (no CPU reserved) holding the
same :class:`~r1data.annotators.quota.QuotaState`; the others find it by name. Its methods
run one at a time, so every decision is made on one consistent state, like the file's lock.

Cost per call: ``acquire`` awaits one actor call (a reservation: no polling); ``done`` and
``limited`` are sent without waiting for the answer. ``scripts/bench_annotators.py --ray``
measures the round trip. The actor dies with the stage actor that created it (at the end of
the build). When its node can write the driver's output folder (a cluster on one machine), it
also mirrors its state there on each 429, so the progress bar can say why the build waits.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from r1data.annotators.quota import Quota, QuotaState
from r1data.annotators.quota_status import write_state


def ray_ready() -> bool:
    """Whether this process is part of a running Ray job."""
    try:
        import ray
    except ImportError:
        return False
    return bool(ray.is_initialized())


class _QuotaActor:
    def __init__(self, mirror: str | None):
        self.state = QuotaState()
        self.mirror = Path(mirror) if mirror else None

    def call(self, method: str, *args: Any) -> Any:
        result = getattr(self.state, method)(time.monotonic(), *args)
        if method == "on_limited" and self.mirror is not None and self.mirror.parent.is_dir():
            try:
                write_state(self.mirror, self.state)
            except OSError:
                pass
        return result


class RayQuota(Quota):
    """A handle on the build's quota actor (created by the first caller, found by the rest)."""

    def __init__(self, key: str, requests_per_minute: float | None, tokens_per_minute: float | None, *,
                 mirror: Path | None = None, scope: str = ""):
        import ray

        self.ray = ray
        digest = hashlib.sha256(f"{scope}|{key}".encode()).hexdigest()[:16]
        self.name = f"r1data-quota-{digest}"
        cls = ray.remote(num_cpus=0, max_restarts=0)(_QuotaActor)
        self.actor = cls.options(name=self.name, get_if_exists=True).remote(str(mirror) if mirror else None)
        self._apply("configure", requests_per_minute, tokens_per_minute)

    def _apply(self, method: str, *args: Any) -> Any:
        return self.ray.get(self.actor.call.remote(method, *args))

    async def acquire(self, tokens: float = 0) -> None:
        import asyncio

        from r1data.annotators.quota import _jitter

        delay, held = await self.actor.call.remote("reserve", tokens)
        if delay > 0:
            if held > 0:
                delay += _jitter.uniform(0, min(1.0, held / 4))
            await asyncio.sleep(delay)
            while (left := await self.actor.call.remote("hold_left")) > 0:
                await asyncio.sleep(left + _jitter.uniform(0, min(1.0, left / 4)))

    def done(self, estimated: float, actual: float) -> None:
        self.actor.call.remote("done", estimated, actual)        # no need to wait for it

    def limited(self, wait: float, why: str) -> None:
        self.actor.call.remote("on_limited", wait, why)
