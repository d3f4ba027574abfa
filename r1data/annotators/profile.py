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
    whole build: with ``--workers N`` each worker process gets its share (see
    :meth:`share`). Prices are US dollars per million tokens.
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

    def share(self, processes: int) -> "AnnotatorProfile":
        """This profile's limits divided among ``processes`` worker processes.

        Rates are split exactly; concurrency is ``max_concurrency // processes`` but at least 1,
        so more processes than ``max_concurrency`` exceed it (one call in flight each).
        """
        if processes <= 1:
            return self
        update: dict[str, Any] = {"max_concurrency": max(1, self.max_concurrency // processes)}
        if self.requests_per_minute:
            update["requests_per_minute"] = self.requests_per_minute / processes
        if self.tokens_per_minute:
            update["tokens_per_minute"] = self.tokens_per_minute / processes
        return self.model_copy(update=update)

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        """US dollars for one call's tokens."""
        return (tokens_in * self.price_input_per_million + tokens_out * self.price_output_per_million) / 1e6

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
    return profile.model_copy(update={"name": path.stem, "file": str(path)})
