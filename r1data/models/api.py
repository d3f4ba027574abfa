"""Generation by an API model (an annotator profile) through the annotator client.

Every completion is one request of :class:`~r1data.annotators.client.AnnotatorClient`: the
profile's bounded concurrency, request and token limits, retries with backoff, the
content-addressed response cache and the token and dollar counts all apply. Sample k of N of a
prompt is its own request with ``sample=k`` (:class:`~r1data.annotators.request.AnnotationRequest`),
hence its own cache entry: a rerun or a resumed rollout asks nothing twice, and the samples are
separate answers of the model, not copies of one.

The answer is taken as it is: a completion in the wrong format is data for the rewards to
score, not something to ask again (the profile's ``parse_retries`` is not used here).
"""

from __future__ import annotations

from typing import Any

from r1data.models.prompts import Prompt, request_messages
from r1data.models.resolve import ModelRef


class ApiGenerator:
    """Completions from an API profile (see the module docstring).

    ``workers``: the build's worker processes (each takes its share of the profile's limits);
    ``refresh``: ask again instead of reading the cache (answers still stored)."""

    def __init__(self, ref: ModelRef, *, temperature: float, max_new_tokens: int, workers: int = 1,
                 refresh: bool = False, cache: Any = "default"):
        from r1data.annotators import providers
        from r1data.annotators.cache import ResponseCache
        from r1data.annotators.client import AnnotatorClient

        self.ref = ref
        self.temperature = float(temperature)
        self.max_new_tokens = int(max_new_tokens)
        # no re-asks: with the "text" format only an empty answer fails the check, and an empty
        # completion is a completion (it scores what the rewards give it)
        profile = ref.profile.share(workers).model_copy(update={"parse_retries": 0})
        backend = providers.get(profile.provider)(profile)
        if cache == "default":
            cache = ResponseCache.default()
        self.client = AnnotatorClient(profile, backend, cache=cache, refresh=refresh)

    @property
    def settings(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_new_tokens": self.max_new_tokens}

    def generate(self, prompts: list[Prompt], samples: int = 1, seed: int = 0) -> list[list[Any]]:
        """``samples`` completions per prompt, in order: the text, or the
        :class:`~r1data.annotators.request.AnnotatorCallError` of a sample the API could not give.
        (``seed`` is for local models; an API samples as it does.)"""
        from r1data.annotators.request import AnnotationRequest, AnnotatorCallError

        requests = []
        for p in prompts:
            messages = request_messages(p)          # images encoded once for all samples
            for k in range(samples):
                requests.append((AnnotationRequest(messages, self.temperature, self.max_new_tokens, sample=k), "text"))
        answers = self.client.run(requests) if requests else []
        out: list[list[Any]] = []
        for i in range(len(prompts)):
            row = []
            for a in answers[i * samples:(i + 1) * samples]:
                if isinstance(a, AnnotatorCallError):
                    row.append("" if a.reason == "unparsable_output" else a)   # the empty answer
                else:
                    row.append(a.text)
            out.append(row)
        return out

    def take_usage(self) -> dict[str, float]:
        """Calls, cache hits, retries, tokens and dollars since the last call (then reset)."""
        u = self.client.usage.take()
        return {"api_calls": u.calls, "cache_hits": u.cache_hits, "api_retries": u.retries,
                "tokens_in": u.tokens_in, "tokens_out": u.tokens_out, "cost_usd": u.cost_usd}

    def close(self) -> None:
        self.client.close()
