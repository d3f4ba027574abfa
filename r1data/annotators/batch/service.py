"""Submitting requests to batch APIs, waiting for them, and putting the answers in the cache.

:class:`BatchService` serves the batch-mode steps of one build. Every request goes to the
provider in a batch recorded in the build's :class:`~r1data.annotators.batch.journal.Journal`
first (``submitting``, then ``submitted`` with the provider's id), so a killed build resumes
by polling the batches it already paid for and never sends them twice; a batch whose
``submitting`` has no id is looked up at the provider by its tag and adopted, or abandoned
when it never got there.

When a batch ends, each answer is stored in the same :class:`~r1data.annotators.cache.ResponseCache`
as a direct call's (a later direct build asks nothing again); a request that expired, was
cancelled or met a 429/5xx is sent again in a later batch with the others left over (up to
the profile's ``max_retries``, then it fails ``gave_up_<reason>``); one the provider refused
(400, a safety block) fails for good. ``--max-cost`` holds: a batch is submitted only when
the dollars spent, the estimates of the batches in flight and its own estimate fit.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from r1data.annotators.batch.base import BatchAdapter, BatchJob, request_bytes
from r1data.annotators.batch.journal import Journal, JournalBatch
from r1data.annotators.cache import ResponseCache
from r1data.annotators.limits import backoff_delay
from r1data.annotators.profile import AnnotatorProfile
from r1data.annotators.request import (AnnotationRequest, AnnotationResponse, AnnotatorUnusable,
                                       PermanentError, TransientError)

FIRST_POLL_S = 5.0          # small batches often end within seconds; then back off to batch_poll_s
SUBMIT_TRIES = 5


def make_adapter(profile: AnnotatorProfile, workdir: Path) -> BatchAdapter:
    if profile.provider == "openai":
        from r1data.annotators.batch.openai_batch import OpenAIBatches

        return OpenAIBatches(profile, workdir)
    if profile.provider == "gemini":
        from r1data.annotators.batch.gemini_batch import GeminiBatches

        return GeminiBatches(profile, workdir)
    raise AnnotatorUnusable(f"annotator {profile.name}: the {profile.provider} provider has no batch API")


class BatchService:
    """The batch side of one build (see the module docstring)."""

    def __init__(self, out: Path, cache: ResponseCache, *, progress: bool = True,
                 max_cost: float | None = None, spent_direct: Callable[[], float] = lambda: 0.0):
        self.folder = Path(out) / ".r1data" / "batches"
        self.journal = Journal.open(self.folder)
        self.cache = cache
        self.progress = progress
        self.max_cost = max_cost
        self.spent_direct = spent_direct
        self.steps: dict[str, tuple[AnnotatorProfile, BatchAdapter]] = {}
        self.budget_stop: str | None = None     # why a submission was refused (--max-cost)

    def register(self, step: str, profile: AnnotatorProfile) -> None:
        if step not in self.steps:
            self.steps[step] = (profile, make_adapter(profile, self.folder))

    # -- money -------------------------------------------------------------------------------------
    def spent(self) -> float:
        """Dollars spent so far: direct calls plus the batches collected."""
        return self.spent_direct() + sum(t["cost_usd_batch"] for t in self.journal.totals().values())

    def _estimate(self, profile: AnnotatorProfile, step: str, items: list[tuple[str, AnnotationRequest]]) -> float:
        """About what a batch will cost: its input tokens, and per answer 1.5 times the output
        tokens seen so far (the profile's max_output_tokens until 5 answers have been seen)."""
        answered = [b.collected for b in self.journal.batches.values() if b.step == step and b.collected]
        n_ok = sum(len(c.get("ok", [])) for c in answered)
        out_tokens = sum(c.get("tokens_out", 0) for c in answered)
        per_answer = min(profile.max_output_tokens, 1.5 * out_tokens / n_ok) if n_ok >= 5 else profile.max_output_tokens
        tokens_in = sum(r.estimated_tokens() for _, r in items)
        return profile.batch_cost(tokens_in, int(per_answer * len(items)))

    # -- submit -------------------------------------------------------------------------------------
    def submit(self, step: str, items: list[tuple[str, AnnotationRequest]]) -> int:
        """Send ``items`` (request key, request) as one or more batches; the number sent.
        Fewer than all when ``--max-cost`` leaves no room for the rest (``budget_stop`` says why)."""
        profile, adapter = self.steps[step]
        chunk: list[tuple[str, AnnotationRequest]] = []
        size = sent = 0
        for item in items:
            n = request_bytes(item[1])
            if chunk and (len(chunk) >= profile.batch_max_requests or size + n > adapter.max_bytes):
                done = self._submit_chunk(step, chunk)
                sent += done
                if done < len(chunk):
                    return sent
                chunk, size = [], 0
            chunk.append(item)
            size += n
        return sent + (self._submit_chunk(step, chunk) if chunk else 0)

    def _submit_chunk(self, step: str, chunk: list[tuple[str, AnnotationRequest]]) -> int:
        """Submit one batch (or the part of it ``--max-cost`` leaves room for); the number sent."""
        profile, adapter = self.steps[step]
        estimate = self._estimate(profile, step, chunk)
        if self.max_cost is not None:
            room = self.max_cost - self.spent() - sum(b.estimate_usd for b in self.journal.in_flight())
            if estimate > room:
                per = estimate / len(chunk)
                fits = int(room / per) if per > 0 else len(chunk)
                self.budget_stop = (f"--max-cost ${self.max_cost:.2f} reached: spent ${self.spent():.2f}, and "
                                    f"{len(chunk)} more requests would cost about ${estimate:.2f}")
                return self._submit_chunk(step, chunk[:fits]) if fits > 0 else 0
        tag = f"r1data-{uuid.uuid4().hex[:16]}"
        self.journal.submitting(tag, step, adapter.provider, [k for k, _ in chunk], estimate)
        for attempt in range(SUBMIT_TRIES):
            try:
                batch_id = adapter.submit(tag, chunk)
                break
            except TransientError as e:
                if attempt == SUBMIT_TRIES - 1:
                    raise AnnotatorUnusable(f"{adapter.where}: could not submit a batch: {e}") from None   # type: ignore[attr-defined]
                time.sleep(backoff_delay(attempt, 1.0, 30.0, e.retry_after))
                found = adapter.find(tag, time.time() - 3600)    # did the lost answer create it?
                if found:
                    batch_id = found
                    break
        self.journal.submitted(tag, batch_id)
        self._say(f"submitted batch {batch_id} ({len(chunk)} requests, about ${estimate:.2f})")
        return len(chunk)

    # -- resume, wait, collect -------------------------------------------------------------------------
    def resume(self) -> None:
        """Adopt or abandon the batches a killed run was submitting; then wait for all in flight."""
        for b in self.journal.in_flight():
            if b.id is not None:
                continue
            if b.step not in self.steps:
                raise AnnotatorUnusable(f"{self.journal.path}: batch {b.tag} was sent for step {b.step!r}, "
                                        "which this build no longer runs in batch mode; rerun with its annotator")
            found = self.steps[b.step][1].find(b.tag, b.t)
            if found:
                self.journal.submitted(b.tag, found)
                self._say(f"found batch {found}, submitted before the build was stopped")
            else:
                self.journal.abandoned(b.tag)
        self.wait()

    def wait(self) -> None:
        """Poll every batch in flight until all have ended, collecting each as it ends."""
        pending = [b for b in self.journal.in_flight() if b.id is not None]
        if not pending:
            return
        poll_s = min(p.batch_poll_s for p, _ in self.steps.values())
        interval = min(FIRST_POLL_S, poll_s)
        bar = self._bar(sum(len(b.keys) for b in pending))
        ended = 0                       # requests of the batches that have ended
        try:
            while pending:
                running = 0             # requests done in the batches still running
                states: dict[str, int] = {}
                for b in list(pending):
                    job = self.steps[b.step][1].poll(b.id)  # type: ignore[arg-type]
                    states[job.state] = states.get(job.state, 0) + 1
                    if job.done:
                        self._collect(b, job)
                        pending.remove(b)
                        ended += len(b.keys)
                    else:
                        running += job.completed + job.failed
                if bar is not None:
                    bar.n = min(bar.total, ended + running)
                    word = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
                    bar.set_postfix_str(f"{len(pending)} batches in flight ({word}); next check in {interval:.3g} s"
                                        if pending else "all ended", refresh=True)
                if pending:
                    time.sleep(interval)
                    interval = min(poll_s, interval * 1.5)
        finally:
            if bar is not None:
                bar.close()

    def _collect(self, b: JournalBatch, job: BatchJob) -> None:
        profile, adapter = self.steps[b.step]
        ok: list[str] = []
        retry: dict[str, str] = {}
        failed: dict[str, tuple[str, str]] = {}
        tokens_in = tokens_out = 0

        def again(key: str, reason: str, detail: str) -> None:
            if self.journal.attempts.get(key, 0) + 1 > profile.max_retries:
                failed[key] = (f"gave_up_{reason}", f"{profile.max_retries + 1} batches: {detail}")
            else:
                retry[key] = reason

        if job.error is not None or job.bad_lines:
            if job.error is not None and not job.error_transient and not job.bad_lines:
                raise AnnotatorUnusable(f"{adapter.where}: batch {b.id} failed: {job.error}")  # type: ignore[attr-defined]
            bad = job.bad_lines or {}
            for i, key in enumerate(b.keys):
                if i in bad:
                    failed[key] = ("bad_request", bad[i])
                else:
                    again(key, "batch_failed", job.error or "another line of its batch was refused")
        else:
            for key, outcome in adapter.results(b.id, b.keys):  # type: ignore[arg-type]
                if isinstance(outcome, AnnotationResponse):
                    self.cache.put(key, adapter.provider, outcome)
                    ok.append(key)
                    tokens_in += outcome.tokens_in
                    tokens_out += outcome.tokens_out
                elif isinstance(outcome, TransientError):
                    again(key, outcome.reason, outcome.detail)
                elif isinstance(outcome, PermanentError):
                    failed[key] = (outcome.reason, outcome.detail)
        cost = profile.batch_cost(tokens_in, tokens_out)
        self.journal.collected(b.tag, job.state, ok, retry, failed, tokens_in, tokens_out, cost)
        self._say(f"batch {b.id} ended {job.state}: {len(ok)} answered, {len(retry)} to send again, "
                  f"{len(failed)} failed, ${cost:.4f}")

    # -- display -------------------------------------------------------------------------------------
    def _bar(self, total: int) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=total, unit=" requests", desc="batch API", dynamic_ncols=True, file=sys.stderr,
                    mininterval=0.5)

    def _say(self, text: str) -> None:
        if not self.progress:
            return
        from tqdm import tqdm

        tqdm.write(f"r1data: {text}", file=sys.stderr)

    def close(self) -> None:
        for _, adapter in self.steps.values():
            close = getattr(adapter, "close", None)
            if close is not None:
                close()
