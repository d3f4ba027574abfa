"""``r1data build CORPUS --estimate [N]``: know the bill before paying it.

The estimate builds ``N`` rows for real, in a temporary folder next to the output, with the
same annotator, workers and limits as the build would use. Every API answer lands in the
response cache, so the real build pays for none of them again. From what those ``N`` rows
took it projects the requested size at the observed yield:

* source records needed (rows made per source record so far),
* per API step: requests, input and output tokens, dollars at the profile's prices, and hours
  at the profile's rate limits (``requests_per_minute``, ``tokens_per_minute``).

Answers that came from the cache count as what they cost when they were asked (their tokens
are stored with them), so a second estimate says the same as the first. The temporary folder
is deleted; nothing else is built.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1data.assets import Assets
from r1data.engine.yieldguard import ADVICE
from r1data.errors import R1DataError, UsageError, YieldTooLow
from r1data.spec import ResolvedSpec, load_spec


@dataclass
class StepEstimate:
    """What one API step would need for the whole size."""

    step: str
    profile: str
    model: str
    requests: float
    tokens_in: float
    tokens_out: float
    cost_usd: float
    price_in: float                      # USD per million tokens
    price_out: float
    hours: float | None                  # at the profile's rate limits; None: no limit set
    limits: str = ""
    batch: bool = False                  # through the provider's batch API (batch prices)


@dataclass
class Estimate:
    corpus: str
    size: int
    rows_built: int
    records_read: int
    rows_made: int                       # kept + made past the N asked for (same yield)
    sample_wall_s: float
    steps: list[StepEstimate] = field(default_factory=list)

    @property
    def rows_per_record(self) -> float:
        return self.rows_made / self.records_read if self.records_read else 0.0

    @property
    def records_needed(self) -> float:
        return self.size / self.rows_per_record if self.rows_per_record else float("inf")

    @property
    def cost_usd(self) -> float:
        return sum(s.cost_usd for s in self.steps)

    @property
    def requests(self) -> float:
        return sum(s.requests for s in self.steps)

    def hours(self) -> float | None:
        known = [s.hours for s in self.steps if s.hours is not None]
        return sum(known) if known else None

    def text(self) -> str:
        lines = [f"estimate for {self.corpus} at {self.size:,} rows, from a real build of {self.rows_built:,} rows "
                 f"({self.records_read:,} source records read, {self.rows_per_record:.3g} rows per record, "
                 f"{self.sample_wall_s:.1f} s):",
                 f"  source records needed: {self.records_needed:,.0f}"]
        for s in self.steps:
            line = (f"  {s.step} ({s.profile}, {s.model}): {s.requests:,.0f} requests, {_tokens(s.tokens_in)} tokens in, "
                    f"{_tokens(s.tokens_out)} out, ${s.cost_usd:,.2f} at ${s.price_in:g} / ${s.price_out:g} per "
                    "million tokens in / out")
            line += f"; {_duration(s.hours)} at {s.limits}" if s.hours is not None else \
                "; through the batch API (answers within 24 h)" if s.batch else "; no rate limit in the profile"
            lines.append(line)
        if not self.steps:
            lines.append("  no API calls: the steps' annotators are offline (pass --annotator PROFILE)")
        else:
            hours = self.hours()
            lines.append(f"  total: {self.requests:,.0f} API requests, ${self.cost_usd:,.2f}"
                         + (f", {_duration(hours)} at the rate limits" if hours is not None else ""))
            lines.append(f"  the {self.rows_built:,} rows' answers are cached: the real build does not pay for them "
                         f"again (cap it with a margin, e.g. --max-cost {_round_up(self.cost_usd * 1.2)})")
        return "\n".join(lines)


def _duration(hours: float) -> str:
    return f"{hours:,.1f} h" if hours >= 1 else f"{hours * 60:.1f} min"


def _tokens(n: float) -> str:
    return f"{n / 1e6:,.1f}M" if n >= 1e6 else f"{n / 1e3:,.1f}k" if n >= 1e3 else f"{n:,.0f}"


def _round_up(x: float) -> str:
    if x <= 0:
        return "0"
    step = 10 ** max(0, len(f"{int(x)}") - 2)
    return f"{(int(x // step) + 1) * step:,}"


def estimate(corpus: str | Path, output: str | Path | None = None, *, rows: int = 50, size: int | None = None,
             seed: int | None = None, source: str | None = None, source_dir: str | Path | None = None,
             workers: int = 1, progress: bool = True, workspace: str | Path | None = None,
             options: dict | None = None, debug: bool = False,
             source_params: dict | None = None) -> Estimate:
    """Build ``rows`` rows for real and project the full ``size`` (see the module docstring)."""
    from r1data.engine.runner import build, default_output

    if rows <= 0:
        raise UsageError(f"--estimate takes a positive number of rows, got {rows}")
    assets = Assets.from_workspace(workspace)
    resolved = load_spec(corpus, assets, source=source, source_dir=source_dir, source_params=source_params)
    size = resolved.spec.size if size is None else size
    if size is None:
        raise UsageError(f"{resolved.name} builds every source record (no size): pass --size to estimate")
    rows = min(rows, size)
    out = Path(output) if output is not None else default_output(resolved.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-estimate-", dir=out.parent))
    try:
        result = build(resolved, tmp, size=rows, seed=seed, workers=workers, progress=progress,
                       source=source, source_dir=source_dir, source_params=source_params,
                       options={**(options or {}), "project_size": size}, debug=debug)
    except YieldTooLow as e:
        raise YieldTooLow(e.message.replace(ADVICE, "the size cannot be reached at this yield: fix the cause "
                                                    "(the answers so far are cached) and estimate again")) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    m = result.manifest
    made = m["rows"] + int(m["counters"].get("rows_beyond_size", 0))
    if made == 0:
        raise R1DataError(f"no row kept from {m['source']['items_read']:,} source records: the size cannot be "
                          "estimated; see why with a plain build of a few rows")
    est = Estimate(resolved.name, size, m["rows"], m["source"]["items_read"], made, m["wall_time_s"])
    factor = size / made
    for name, profile in _api_profiles(resolved, assets, options or {}).items():
        c = {k[: -len(name) - 1]: v for k, v in m["counters"].items() if k.endswith(f":{name}")}
        requests = c.get("api_calls", 0) - c.get("api_retries", 0) + c.get("cache_hits", 0)
        if not requests:
            continue
        tin = (c.get("tokens_in", 0) + c.get("cached_tokens_in", 0)) * factor
        tout = (c.get("tokens_out", 0) + c.get("cached_tokens_out", 0)) * factor
        requests *= factor
        minutes, limits = [], []
        if profile.requests_per_minute:
            minutes.append(requests / profile.requests_per_minute)
            limits.append(f"{profile.requests_per_minute:,.0f} requests/min")
        if profile.tokens_per_minute:
            minutes.append((tin + tout) / profile.tokens_per_minute)
            limits.append(f"{profile.tokens_per_minute:,.0f} tokens/min")
        if profile.batch:      # batch prices, and no rate limit: the provider answers within 24 h
            price_in, price_out = profile.batch_cost(1_000_000, 0), profile.batch_cost(0, 1_000_000)
            est.steps.append(StepEstimate(
                step=name, profile=profile.name, model=profile.model or profile.provider, requests=requests,
                tokens_in=tin, tokens_out=tout, cost_usd=profile.batch_cost(tin, tout), price_in=price_in,
                price_out=price_out, hours=None, batch=True))
            continue
        est.steps.append(StepEstimate(
            step=name, profile=profile.name, model=profile.model or profile.provider, requests=requests,
            tokens_in=tin, tokens_out=tout, cost_usd=profile.cost(tin, tout), price_in=profile.price_input_per_million,
            price_out=profile.price_output_per_million, hours=max(minutes) / 60 if minutes else None,
            limits=" and ".join(limits)))
    return est


def _api_profiles(resolved: ResolvedSpec, assets: Assets, options: dict) -> dict[str, Any]:
    """Step name -> the annotator profile its API calls used (``--annotator`` or the spec's)."""
    from r1data.annotators.profile import load_profile

    out: dict[str, Any] = {}
    for b in resolved.steps:
        if b.name in out or "profile" not in b.params:
            continue
        profile = load_profile(options.get("annotator") or b.params["profile"], assets)
        if profile.provider != "programmatic":
            out[b.name] = profile
    return out
