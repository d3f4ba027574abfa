"""``annotate``: fill fields of each row with text from an annotator profile."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from r1data.annotators.profile import load_profile, providers
from r1data.errors import UsageError
from r1data.registry import annotator_functions
from r1data.steps.base import Reject, StepContext, step


def programmatic_annotator(name: str | None = None):
    """Register an offline annotator: ``fn(row, ctx) -> str | dict``.

    A string is stored in the step's ``output`` field; a dict is merged into the row. Raise
    ``ValueError`` to reject the row (the message becomes the reject detail).
    """
    return annotator_functions(name)


@step("annotate")
class Annotate:
    """Annotate rows with a profile (``annotators/PROFILE.yaml``) and a prompt template.

    With the ``programmatic`` provider, ``function`` names the registered Python annotator
    that derives the text from ground truth (offline, deterministic); it answers the same
    request/response as the API backends (``r1data.annotators.programmatic``), without a
    call. With an API provider (``gemini``, ``openai``) the template (``annotators/templates/``) is rendered with each
    row and sent, with the media the template names; the answer, checked against the format
    the template asks for, goes to ``output``. ``--annotator`` swaps the profile.

    ``skip_if``: a field; rows where it already holds a value pass through untouched and cost
    no call (e.g. released data that carries its own questions).

    A profile with ``batch: true`` sends the build's requests through the provider's batch API
    before the rows are built (:mod:`r1data.annotators.batch`); this step then reads the
    answers from the cache, and the requests the batches failed for good reject their rows
    with the batch's reason, without a direct call.

    A record the API cannot annotate (refused as unsafe, a 400, an answer still not in the
    format after the re-asks, failures past the retries) is rejected with that reason.
    Tokens, dollars, calls and cache hits are counted per step (``tokens_in:annotate``...).
    """

    def __init__(self, ctx: StepContext, *, profile: str = "programmatic", function: str | None = None,
                 template: str | None = None, output: str = "cot", skip_if: str | None = None):
        self.ctx = ctx
        self.output = output
        self.skip_if = skip_if
        chosen = ctx.options.get("annotator") or profile
        self.profile = load_profile(chosen, ctx.assets)
        self.template = template
        template_path = None
        if template is not None:
            try:
                template_path = ctx.assets.find("annotators", f"templates/{template}", suffixes=(".jinja", ".j2"))
            except Exception as e:
                raise UsageError(f"template {template!r}: {getattr(e, 'message', e)}") from None
        self.client: Any = None
        if self.profile.provider == "programmatic":
            if not function:
                raise UsageError("a programmatic profile needs 'function' (a registered annotator)")
            from r1data.annotators.programmatic import ProgrammaticBackend

            self.backend = ProgrammaticBackend(annotator_functions.get(function), ctx, function)
            return
        if template_path is None:
            raise UsageError(f"the {self.profile.provider} profile {self.profile.name!r} needs 'template' "
                             "(a prompt in annotators/templates/)")
        from r1data.annotators.cache import ResponseCache
        from r1data.annotators.client import AnnotatorClient
        from r1data.annotators.prompt import PromptTemplate

        from r1data.annotators.quota import build_quota

        self.prompt = PromptTemplate(template_path)
        # the profile's limits hold for the whole build: its rates are one quota shared by every
        # worker (a file in the build's state folder, or a Ray actor), its concurrency is divided
        share = self.profile.share(int(ctx.options.get("workers") or 1), rates=False)
        backend = providers.get(self.profile.provider)(share)   # checks the key's env var now
        # in batch mode --refresh is the batches' business: this step reads what they answered
        refresh = bool(ctx.options.get("refresh")) and not self.profile.batch
        self.client = AnnotatorClient(share, backend, cache=ResponseCache.default(), refresh=refresh,
                                      quota=build_quota(self.profile, ctx.output, ctx.options))
        self._batch_failures_read = not self.profile.batch
        weakref.finalize(self, self.client.close)

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        if self.skip_if is None:
            yield from self._annotate(rows)
            return
        # one result per row, in order: annotate the rows that need it, pass the others through
        skip = [bool(row.get(self.skip_if)) for row in rows]     # decided before any annotation
        results = iter(self._annotate([row for row, s in zip(rows, skip) if not s]))
        for row, s in zip(rows, skip):
            yield row if s else next(results)

    def _annotate(self, rows: list[dict]) -> Iterator[dict | Reject]:
        if not rows:
            return
        if self.client is not None:
            yield from self._annotate_api(rows)
            return
        from r1data.annotators.request import AnnotationRequest, AnnotatorCallError

        answer = self.backend.answer
        for row in rows:
            try:
                result: Any = answer(AnnotationRequest((), row=row)).parsed
            except AnnotatorCallError as e:
                yield Reject(row, e.reason, e.detail)
                continue
            if isinstance(result, dict):
                row.update(result)
            else:
                row[self.output] = result
            yield row

    def _annotate_api(self, rows: list[dict]) -> Iterator[dict | Reject]:
        from r1data.annotators.request import AnnotatorCallError

        p = self.profile
        out: list[dict | Reject | None] = [None] * len(rows)
        asked: list[int] = []
        requests = []
        for i, row in enumerate(rows):
            try:
                requests.append(self.prompt.request(row, temperature=p.temperature,
                                                    max_output_tokens=p.max_output_tokens,
                                                    response_schema=p.response_schema))
            except ValueError as e:
                out[i] = Reject(row, "prompt_error", str(e))
                continue
            asked.append(i)
        collect = self.ctx.options.get("batch_collect")
        if collect is not None and self.profile.batch:     # a batch-mode planning pass
            yield from self._plan(rows, out, asked, requests, collect)
            return
        if not self._batch_failures_read:
            # what the build's batches failed for good fails the same way, without a call (read
            # at the first batch: the planning passes run after a Ray stage is built)
            from r1data.annotators.batch.journal import read_failures

            self.client.known_failures.update(read_failures(self.ctx.output))
            self._batch_failures_read = True
        answers = self.client.run(requests) if requests else []
        for i, (_, fmt), answer in zip(asked, requests, answers):
            row = rows[i]
            if isinstance(answer, AnnotatorCallError):
                out[i] = Reject(row, answer.reason, answer.detail)
                continue
            row[self.output] = answer.parsed if fmt == "json" else answer.text
            out[i] = row
        self._count()
        yield from out  # type: ignore[misc]

    def _plan(self, rows: list[dict], out: list, asked: list[int], requests: list, collect: Any
              ) -> Iterator[dict | Reject]:
        from r1data.annotators.batch.prefetch import PENDING
        from r1data.annotators.request import AnnotatorCallError

        for i, (request, fmt) in zip(asked, requests):
            row = rows[i]
            answer = collect.advance(self.ctx.step, self.client, request, fmt)
            if answer is None:
                out[i] = Reject(row, PENDING, "waiting for the batch API")
            elif isinstance(answer, AnnotatorCallError):
                out[i] = Reject(row, answer.reason, answer.detail)
            else:
                row[self.output] = answer.parsed if fmt == "json" else answer.text
                out[i] = row
        yield from out

    def _count(self) -> None:
        usage = self.client.usage.take()
        name = self.ctx.step
        stats = self.ctx.stats
        stats.count(f"api_calls:{name}", usage.calls)
        stats.count(f"cache_hits:{name}", usage.cache_hits)
        stats.count(f"api_retries:{name}", usage.retries)
        stats.count(f"tokens_in:{name}", usage.tokens_in)
        stats.count(f"tokens_out:{name}", usage.tokens_out)
        stats.count(f"cost_usd:{name}", usage.cost_usd)
        if usage.cache_hits:      # what the answers taken from the cache cost when asked (--estimate)
            stats.count(f"cached_tokens_in:{name}", usage.cached_tokens_in)
            stats.count(f"cached_tokens_out:{name}", usage.cached_tokens_out)
            stats.count(f"cached_cost_usd:{name}", usage.cached_cost_usd)
