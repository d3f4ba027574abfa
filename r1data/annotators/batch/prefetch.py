"""Batch mode in a build: ask every request through the batch API before the rows are built.

A batch API answers in minutes to hours, so a build cannot wait for it batch of rows by batch
of rows. Instead, before the build proper, :func:`prefetch_batches` runs *planning passes*:
the spec's steps over the source, from the build's position, with each batch-mode
``annotate`` step answering from the response cache and setting aside (as the reject
``batch_pending``) every row whose request has no answer yet. The requests set aside go out
in batches as they accumulate (so memory stays flat); the pass reads the source until the
rows kept plus the rows pending (times the yield seen so far) reach the size asked for. Then
it waits for the batches, whose answers land in the cache, and plans again: the next pass
goes further (re-asks for answers not in the required format, requests sent again after an
expiry or a failure, more records when the yield was lower than hoped) until a pass finds
nothing left to ask. The build proper then runs as usual and finds every answer in the cache.

A planning pass runs the steps in this process (rendering included), once per round: the
price of not paying twice. A killed build resumes here: the journal's batches are polled
(never sent again), then planning continues.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from r1data.annotators.batch.journal import Journal
from r1data.annotators.cache import ResponseCache, request_key
from r1data.annotators.client import reask
from r1data.annotators.prompt import check_answer
from r1data.annotators.request import AnnotationRequest, AnnotationResponse, AnnotatorCallError, PermanentError

PENDING = "batch_pending"
MAX_ROUNDS = 100      # a safety net: rounds end by themselves (see prefetch_batches)


class Collector:
    """What a planning pass's annotate steps ask: answers from the cache, the rest set aside.

    Shared by the steps of one pass through ``options["batch_collect"]``."""

    def __init__(self, service: Any, cache: ResponseCache, *, refresh: bool, flush_every: int = 2000):
        self.service = service
        self.journal: Journal = service.journal
        self.cache = cache
        self.refresh = refresh
        self.flush_every = flush_every
        self.pending: dict[str, list[tuple[str, AnnotationRequest]]] = {}    # step -> (key, request)
        self.asked: set[str] = set()          # keys set aside (or sent) during this pass
        self.sent = 0                         # requests submitted during this pass
        self.stopped = False                  # --max-cost left no room for some: plan no further

    def advance(self, step: str, client: Any, request: AnnotationRequest, answer_format: str
                ) -> AnnotationResponse | AnnotatorCallError | None:
        """The checked answer to ``request`` from the cache, its failure, or None (set aside)."""
        p = client.profile
        ask = request
        why: str | None = None
        for _ in range(p.parse_retries + 1):
            key = request_key(client.backend.provider, p.model or "", ask)
            failed = self.journal.failures.get(key)
            if failed is not None:
                return PermanentError(*failed)
            hit = self.cache.get(key) if not self.refresh or key in self.journal.answered else None
            if hit is None:
                if key not in self.asked:
                    self.asked.add(key)
                    self.pending.setdefault(step, []).append((key, ask))
                    if len(self.pending[step]) >= self.flush_every:
                        self.flush()
                return None
            parsed, why = check_answer(hit.text, answer_format, ask.response_schema)
            if why is None:
                hit.parsed = parsed
                return hit
            ask = reask(ask, hit, why)
        return PermanentError("unparsable_output", f"after {p.parse_retries + 1} answers: {why}")

    def flush(self) -> None:
        """Submit what is set aside (while --max-cost allows)."""
        for step, items in list(self.pending.items()):
            if items and not self.stopped:
                sent = self.service.submit(step, items)
                self.sent += sent
                self.stopped = sent < len(items)
            self.pending[step] = []


def batch_steps(resolved: Any, options: dict) -> dict[str, Any]:
    """The annotate steps of a spec whose profile asks for batch mode: step name -> profile."""
    from r1data.annotators.profile import load_profile
    from r1data.steps.annotate import Annotate

    found = {}
    for b in resolved.steps:
        if b.definition.target is not Annotate:
            continue
        profile = load_profile(options.get("annotator") or b.params.get("profile", "programmatic"), resolved.assets)
        if profile.batch:
            found[b.name] = profile
    return found


def prefetch_batches(resolved: Any, out: Path, *, size: int | None, seed: int, cursor: int, kept: int,
                     options: dict, stats: Any, max_cost: float | None, progress: bool) -> None:
    """Answer, through the batch API, every request the build will need (module docstring).

    Sets the build's batch counters (``batches:STEP``, ``batch_requests:STEP``,
    ``tokens_in_batch:STEP``, ``tokens_out_batch:STEP``, ``cost_usd_batch:STEP``) from the
    journal; raises :class:`~r1data.errors.BudgetExhausted` when ``max_cost`` stops it."""
    from r1data.annotators.batch.service import BatchService
    from r1data.errors import BudgetExhausted, R1DataError

    steps = batch_steps(resolved, options)
    if not steps:
        return

    def spent_direct() -> float:
        return sum(v for k, v in stats.counters.items() if k.startswith("cost_usd") and
                   not k.startswith("cost_usd_batch"))

    cache = ResponseCache.default()
    service = BatchService(out, cache, progress=progress, max_cost=max_cost, spent_direct=spent_direct)
    try:
        for name, profile in steps.items():
            service.register(name, profile)
        service.resume()
        # rounds end when a pass finds nothing left to ask; each round makes progress (answers,
        # failures recorded for good, retries counted against max_retries, more of the source)
        for _ in range(MAX_ROUNDS):
            collector = Collector(service, cache, refresh=bool(options.get("refresh")))
            _plan(resolved, out, collector, size=size, seed=seed, cursor=cursor, kept=kept, options=options,
                  first=next(iter(steps)))
            collector.flush()
            service.wait()
            _account(service.journal, stats)
            if collector.stopped and collector.sent == 0:      # the budget takes no more
                raise BudgetExhausted(service.budget_stop or f"--max-cost ${max_cost:.2f} reached")
            if collector.sent == 0 and not collector.stopped:
                return
        raise R1DataError(f"batch mode: still asking after {MAX_ROUNDS} rounds of batches; "
                          f"see {service.journal.path}")
    finally:
        _account(service.journal, stats)
        service.close()


def _plan(resolved: Any, out: Path, collector: Collector, *, size: int | None, seed: int, cursor: int,
          kept: int, options: dict, first: str) -> None:
    """One planning pass over the source from ``cursor`` (see the module docstring)."""
    from r1data.engine.pipeline import StepRunner, partition
    from r1data.steps.base import StepContext

    runner = StepRunner(resolved, resolved.steps, seed=seed, output=out,
                        options={**options, "batch_collect": collector})
    ctx = StepContext(seed=seed, corpus=resolved.name, step="source", assets=resolved.assets, output=out,
                      options=options)
    source = resolved.source_def.make(ctx, resolved.source_params)
    need = None if size is None else max(0, size - kept)
    limit = None if need is None else 20 * need + 2000
    batch_size = resolved.spec.output.batch_size
    reader = source.read(cursor)
    read = kept_rows = pending = 0
    while need is None or need > 0:
        items = list(itertools.islice(reader, batch_size))
        if not items:
            return
        read += len(items)
        rows, _ = partition(items)
        out_rows, rejects = runner.run(rows)
        kept_rows += len(out_rows)
        pending += sum(1 for _, rj in rejects if rj.reason == PENDING)
        if collector.stopped:
            return
        if need is not None:
            s = runner.stats.steps.get(first, {"in": 0})
            answered = s["in"] - runner.stats.reasons.get(first, {}).get(PENDING, 0)
            # the rows answered so far tell how many of the pending ones will be kept
            expected = kept_rows / answered if answered >= 20 else 1.0
            if kept_rows + pending * expected >= need or (limit is not None and read >= limit):
                return


def _account(journal: Journal, stats: Any) -> None:
    """Set (not add: the journal holds the totals) the build's batch counters."""
    for step, totals in journal.totals().items():
        for name, value in totals.items():
            stats.counters[f"{name}:{step}"] = value
