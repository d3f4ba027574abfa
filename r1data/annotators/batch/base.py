"""What every provider's batch adapter speaks (see ``openai_batch`` and ``gemini_batch``).

An adapter turns requests into one provider batch and back:

* ``submit(tag, items) -> batch id``: upload/send the requests (``items``: request key and
  :class:`~r1data.annotators.request.AnnotationRequest`), tagged so that ``find(tag)`` can
  recognise the batch after a kill between the provider's answer and the journal's record;
* ``poll(batch_id) -> BatchJob``: its state and counts;
* ``results(batch_id, keys)``: for every key, the answer or the error: a
  :class:`~r1data.annotators.request.TransientError` (expired, cancelled, 429, 5xx: send it
  again) or a :class:`~r1data.annotators.request.PermanentError` (the record fails).

Adapters use the provider's own (synchronous) client library. The batch API calls that only
read (poll, list, download) are retried by the client; the call that creates a batch is not
(a retry after a lost answer could pay twice): the tag lookup covers that case.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from r1data.annotators.request import AnnotationRequest, AnnotationResponse, AnnotatorCallError


@dataclass
class BatchJob:
    """A batch as last seen at the provider."""

    state: str               # the provider's word (in_progress, JOB_STATE_RUNNING, ...)
    done: bool               # ended: completed, expired, cancelled or failed
    total: int = 0
    completed: int = 0
    failed: int = 0
    error: str | None = None          # why the whole batch failed (None when it did not)
    error_transient: bool = False     # whether sending its requests again may work
    bad_lines: dict[int, str] | None = None   # 0-based input line -> why the provider refused it


class BatchAdapter(Protocol):
    provider: str
    max_bytes: int           # the most one batch may carry (the provider's limit, with a margin)

    def submit(self, tag: str, items: list[tuple[str, AnnotationRequest]]) -> str: ...

    def find(self, tag: str, since: float) -> str | None: ...

    def poll(self, batch_id: str) -> BatchJob: ...

    def results(self, batch_id: str, keys: list[str]
                ) -> Iterator[tuple[str, AnnotationResponse | AnnotatorCallError]]: ...


def request_bytes(request: AnnotationRequest) -> int:
    """About how many bytes a request takes in a batch (text, base64 media, envelope)."""
    return len(request.text.encode()) + sum(len(m.data) * 4 // 3 + 64 for m in request.media) + 600
