"""Annotator profiles: ``annotators/NAME.yaml`` parsed into :class:`AnnotatorProfile`."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from r1data.assets import Assets
from r1data.errors import UsageError
from r1data.registry import Registry
from r1data.yamlio import load_yaml, pydantic_problems, raise_problems

# provider name -> factory(profile, ctx, *, template, output, function, images, parse) returning
# the step's callable ``rows -> Iterable[dict | Reject]`` (see r1data.annotators.api)
providers: Registry[Any] = Registry("annotator provider")


class AnnotatorProfile(BaseModel):
    """How to reach one annotator. Keys never live here: only the name of their env var.

    Limits (``max_concurrency``, ``requests_per_minute``, ``tokens_per_minute``) are for the
    whole build: the rates are one quota shared by every worker process and Ray actor
    (:mod:`r1data.annotators.quota`), the concurrency is divided among them (see
    :meth:`share`). Prices are US dollars per million tokens; ``batch: true`` sends the
    requests through the provider's batch API at the ``batch_price_*`` prices
    (:mod:`r1data.annotators.batch`).
    """

    model_config = ConfigDict(extra="forbid")
    provider: Literal["programmatic", "gemini", "openai"]
    description: str = ""
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    max_concurrency: int = Field(8, gt=0)
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    temperature: float = 0.0
    max_output_tokens: int = Field(1024, gt=0)
    price_input_per_million: float = Field(0.0, ge=0)
    price_output_per_million: float = Field(0.0, ge=0)
    response_schema: dict[str, Any] | None = None
    max_retries: int = Field(5, ge=0)            # transport retries: 429, 5xx, timeouts, drops
    parse_retries: int = Field(2, ge=0)          # re-asks when the answer is not in the format
    backoff_initial_s: float = Field(1.0, gt=0)  # first retry delay; doubles each retry
    backoff_max_s: float = Field(60.0, gt=0)
    timeout_s: float = Field(120.0, gt=0)
    # a request answered 429 waits (Retry-After, or backoff) at most this long in all; past it
    # the record is rejected `gave_up_rate_limited`, or the build stops ("rate limited") when
    # no call of the build is getting through
    max_wait_s: float = Field(300.0, gt=0)
    # the provider's batch API (OpenAI Batch API, Gemini batch mode): about half the price,
    # answers within hours; see docs/annotators.md
    batch: bool = False
    batch_price_input_per_million: float | None = Field(None, ge=0)    # default: half the price
    batch_price_output_per_million: float | None = Field(None, ge=0)
    batch_poll_s: float = Field(30.0, gt=0)            # seconds between status checks
    batch_max_requests: int = Field(5000, gt=0)        # requests per submitted batch
    batch_max_mb: float | None = Field(None, gt=0)     # size of one batch (default: the provider's limit)
    name: str = ""          # filled from the file name
    file: str = ""

    def api_key(self) -> str | None:
        """The key from the environment variable ``api_key_env``.

        Raises a one-line :class:`UsageError` naming the variable when it is unset. A profile
        without ``api_key_env`` (a local server) has no key.
        """
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            raise UsageError(f"annotator profile {self.name or self.provider!r} needs an API key in the "
                             f"environment variable {self.api_key_env}, which is not set")
        return key

    def share(self, processes: int, *, rates: bool = True) -> "AnnotatorProfile":
        """This profile's limits divided among ``processes`` worker processes.

        Concurrency is ``max_concurrency // processes`` but at least 1, so more processes than
        ``max_concurrency`` exceed it (one call in flight each). Rates are split exactly, unless
        ``rates=False``: a build's workers share one quota instead
        (:func:`r1data.annotators.quota.build_quota`), which a static split would waste
        whenever the work falls unevenly on them.
        """
        if processes <= 1:
            return self
        update: dict[str, Any] = {"max_concurrency": max(1, self.max_concurrency // processes)}
        if not rates:
            return self.model_copy(update=update)
        if self.requests_per_minute:
            update["requests_per_minute"] = self.requests_per_minute / processes
        if self.tokens_per_minute:
            update["tokens_per_minute"] = self.tokens_per_minute / processes
        return self.model_copy(update=update)

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        """US dollars for one call's tokens."""
        return (tokens_in * self.price_input_per_million + tokens_out * self.price_output_per_million) / 1e6

    def batch_cost(self, tokens_in: int, tokens_out: int) -> float:
        """US dollars for one request's tokens through the batch API (half price by default)."""
        pin = self.batch_price_input_per_million
        pout = self.batch_price_output_per_million
        pin = self.price_input_per_million / 2 if pin is None else pin
        pout = self.price_output_per_million / 2 if pout is None else pout
        return (tokens_in * pin + tokens_out * pout) / 1e6

    def ideal_rate(self, latency_s: float) -> float:
        """Requests per second at full concurrency with a given latency, capped by the rate limits."""
        rate = self.max_concurrency / latency_s if latency_s > 0 else math.inf
        if self.requests_per_minute:
            rate = min(rate, self.requests_per_minute / 60)
        return rate


def load_profile(name_or_path: str | Path, assets: Assets) -> AnnotatorProfile:
    path = assets.resolve("annotators", name_or_path)
    data, lines = load_yaml(path)
    try:
        profile = AnnotatorProfile.model_validate(data or {})
    except ValidationError as e:
        raise_problems(str(path), pydantic_problems(e, str(path), lines))
        raise AssertionError("unreachable")
    if profile.provider != "programmatic" and not profile.model:
        raise UsageError(f"{path}: model: a {profile.provider} profile needs the model name")
    if profile.batch and profile.provider == "programmatic":
        raise UsageError(f"{path}: batch: the programmatic provider makes no API call to batch")
    return profile.model_copy(update={"name": path.stem, "file": str(path)})
