"""The ``programmatic`` backend: a registered Python function in place of a model.

It speaks the same :class:`~r1data.annotators.request.AnnotationRequest` /
:class:`~r1data.annotators.request.AnnotationResponse` as the API backends, so the annotate
step treats every provider alike. The function reads the record the request carries
(``request.row``: the ground truth), not the messages, and answers at once:

* a string becomes the response's ``text`` and ``parsed``;
* a dict (several fields at once) is ``parsed``, and its JSON is the ``text``;
* ``ValueError`` is a :class:`~r1data.annotators.request.PermanentError` with reason
  ``annotator_error`` (the record is rejected, the build goes on).

Nothing is sent anywhere: no tokens, no cost, no cache entry; ``latency_s`` is the time the
function took.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from r1data.annotators.request import AnnotationRequest, AnnotationResponse, PermanentError


class ProgrammaticBackend:
    provider = "programmatic"

    def __init__(self, fn: Callable[[dict, Any], Any], ctx: Any, name: str = ""):
        self.fn = fn
        self.ctx = ctx
        self.name = name or getattr(fn, "__name__", "function")
        self.where = f"programmatic annotator {self.name!r}"

    def answer(self, request: AnnotationRequest) -> AnnotationResponse:
        if request.row is None:
            raise PermanentError("annotator_error", f"{self.where} needs the record (request.row)")
        t0 = time.perf_counter()
        try:
            result = self.fn(request.row, self.ctx)
        except ValueError as e:
            raise PermanentError("annotator_error", str(e)) from None
        latency = time.perf_counter() - t0
        if isinstance(result, dict):
            text = json.dumps(result, ensure_ascii=False, default=str)
        elif isinstance(result, str):
            text = result
        else:
            raise PermanentError("annotator_error", f"{self.where} returned a {type(result).__name__}, "
                                 "not a string or a dict")
        return AnnotationResponse(text=text, parsed=result, latency_s=latency, finish_reason="stop",
                                  model=self.name)

    async def generate(self, request: AnnotationRequest) -> AnnotationResponse:
        """The API backends' coroutine, for callers that drive every backend alike."""
        return self.answer(request)

    async def aclose(self) -> None:
        pass
