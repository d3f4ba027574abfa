"""Stop a build whose yield says its size cannot be reached, before it spends on the rest.

A build keeps a fraction of what it reads: verifiers reject wrong answers, filters short ones,
dedup repeats. When that fraction is tiny (a weak model, a wrong template, a broken step), a
build asked for 30,000 rows would read millions of source records, each a paid API call,
before running out. After every batch the :class:`YieldGuard` projects how many source
records the size needs at the yield observed so far and stops the build when

* no row was kept from the first :data:`ZERO_AFTER` source records, or
* even an optimistic yield (the upper end of a 99 % interval on the rows kept so far, so a
  slow start does not stop a healthy build) projects more than ``max_read_multiple`` times
  the size in source records (a source known to hold fewer records than that is read out).

The stop is :class:`~r1data.errors.YieldTooLow` (exit 1): it names the most frequent reject
reasons and what the full size would have needed in source records, API calls and dollars.
The folder stays a checkpointed build: fix the cause and rerun the same command, or raise
``--max-read-multiple`` to go on at this yield.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from r1data.steps.base import Stats

ADVICE = ("the build is checkpointed: fix the cause and rerun the same command, "
          "or raise --max-read-multiple to go on at this yield")
ZERO_AFTER = 300          # source records: a build that kept nothing from these stops
Z_99 = 2.326              # one-sided 99 % normal quantile


def rate_upper(kept: int, read: int) -> float:
    """An optimistic rows-per-record rate: the upper end of a one-sided 99 % interval of a
    Poisson count ``kept`` over ``read`` records (Wilson-Hilferty; 4.6/read when nothing
    was kept)."""
    if read <= 0:
        return math.inf
    k = kept + 1
    upper = k * (1 - 1 / (9 * k) + Z_99 / (3 * math.sqrt(k))) ** 3
    return upper / read


@dataclass(frozen=True)
class Spend:
    """What the API steps of a build asked so far (from the build's counters).

    ``requests`` counts every answer the steps used, fresh or cached (retries left out);
    ``cost_usd`` is what was paid in this build, ``value_usd`` what all those answers cost
    when they were asked: the figure a projection scales (a cached answer is only free once).
    """

    requests: float = 0.0
    tokens_in: float = 0.0
    tokens_out: float = 0.0
    cost_usd: float = 0.0
    value_usd: float = 0.0

    @classmethod
    def of(cls, stats: Stats) -> "Spend":
        c = stats.counters

        def total(prefix: str) -> float:
            return sum(v for k, v in c.items() if k == prefix or k.startswith(prefix + ":"))

        # batch mode pays in cost_usd_batch; the build then takes those answers from the cache,
        # so they count once in what the answers are worth (cached_cost_usd, at batch prices)
        paid = total("cost_usd")
        return cls(requests=total("api_calls") - total("api_retries") + total("cache_hits"),
                   tokens_in=total("tokens_in") + total("cached_tokens_in"),
                   tokens_out=total("tokens_out") + total("cached_tokens_out"),
                   cost_usd=paid + total("cost_usd_batch"), value_usd=paid + total("cached_cost_usd"))

    def scaled(self, factor: float) -> "Spend":
        return Spend(self.requests * factor, self.tokens_in * factor, self.tokens_out * factor,
                     self.cost_usd * factor, self.value_usd * factor)


def top_reasons(stats: Stats, n: int = 3) -> list[tuple[str, int]]:
    """The ``n`` most frequent reject reasons as ``("step/reason", count)``."""
    pairs = [(f"{step}/{reason}", k) for step, rs in stats.reasons.items() for reason, k in rs.items()]
    return sorted(pairs, key=lambda p: (-p[1], p[0]))[:n]


def projected_total_cost(stats: Stats, kept: int, size: int | None) -> float | None:
    """Dollars the whole size costs at the cost per kept row so far, answers taken from the
    cache counted at what they cost when asked (None: unknown yet)."""
    if not size or kept <= 0:
        return None
    value = Spend.of(stats).value_usd
    return value * size / kept if value else None


@dataclass
class YieldGuard:
    """Decides after each batch whether the build can still reach its size (module docstring)."""

    size: int | None
    max_read_multiple: float = 20.0
    zero_after: int = ZERO_AFTER
    report_size: int | None = None     # the size the message projects for (an estimate's full size)
    examples: dict[str, str] = field(default_factory=dict)   # step/reason -> a reject's detail

    def why_stop(self, read: int, kept: int, total_items: int | None, stats: Stats) -> str | None:
        """None while the build may go on; else the one-line reason it must stop."""
        if read <= 0 or (self.size is not None and kept >= self.size):
            return None
        if total_items is not None and read >= total_items:
            return None                          # the source is read out: nothing left to spend
        if kept == 0 and read >= self.zero_after:
            return self._message(read, kept, stats, f"no row kept from the first {read:,} source records")
        if self.size is None:
            return None
        limit = self.max_read_multiple * self.size
        needed_at_best = self.size / rate_upper(kept, read)
        if total_items is not None:
            needed_at_best = min(needed_at_best, total_items)
        if needed_at_best <= limit:
            return None
        rate = f"{kept:,} rows kept from {read:,} source records"
        return self._message(read, kept, stats, rate)

    def _message(self, read: int, kept: int, stats: Stats, what: str) -> str:
        reasons = top_reasons(stats)
        if reasons:
            shown = []
            for r, n in reasons:
                example = self.examples.get(r)
                shown.append(f"{r} {n:,}" + (f' (e.g. "{_short(example)}")' if example else ""))
            what += "; most rejects: " + ", ".join(shown)
        parts = [f"stopped early: {what}"]
        size = self.report_size or self.size
        if size is not None:
            limit = self.max_read_multiple * size
            spend = Spend.of(stats)
            if kept > 0:
                factor = size / kept
                line = f"at this yield {size:,} rows need about {read * factor:,.0f} source records"
            else:
                factor = size / (rate_upper(0, read) * read)
                line = f"even at best {size:,} rows would need {read * factor:,.0f} source records"
            line += f", over the limit of {self.max_read_multiple:g} x size = {limit:,.0f}"
            if spend.requests:
                full = spend.scaled(factor)
                line += (f" (and {'about' if kept else 'at least'} {full.requests:,.0f} API requests, "
                         f"${full.value_usd:,.2f})")
            parts.append(line)
        parts.append(ADVICE)
        return "; ".join(parts)

    def note_rejects(self, rejects: list) -> None:
        """Keep one example detail per ``step/reason`` for the message (``(step, Reject)`` pairs)."""
        for step, rj in rejects:
            key = f"{step}/{rj.reason}"
            if key not in self.examples and rj.detail:
                self.examples[key] = str(rj.detail)


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
