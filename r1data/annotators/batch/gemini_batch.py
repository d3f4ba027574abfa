"""Gemini's batch mode (``models/{model}:batchGenerateContent``, ``batches/{id}``) through
google-genai's ``client.batches``.

Submitting: inline requests (``InlinedRequest`` with the contents and config of a direct
call, and ``metadata={"key": KEY}``) in one ``batches.create``; the batch's display name is
the journal's tag. Inline requests are limited to 20 MB a batch (``batch_max_mb``, default
18), so a corpus with many images goes out as many batches.

Collecting: a batch ends ``JOB_STATE_SUCCEEDED``, ``_EXPIRED``, ``_CANCELLED`` or ``_FAILED``;
``dest.inlined_responses`` holds, in the order of the requests, each one's ``response`` (a
``GenerateContentResponse``, read exactly as a direct call's) or ``error`` (a status code and
message: 429 and 5xx are sent again, other codes fail the record). A request without a
response (an expired batch) is sent again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from r1data.annotators.batch.base import BatchJob
from r1data.annotators.gemini import GeminiBackend
from r1data.annotators.profile import AnnotatorProfile
from r1data.annotators.request import (AnnotationRequest, AnnotationResponse, AnnotatorCallError,
                                       AnnotatorUnusable, PermanentError, TransientError, redact, status_error)

TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
            "JOB_STATE_PARTIALLY_SUCCEEDED"}


class GeminiBatches:
    provider = "gemini"

    def __init__(self, profile: AnnotatorProfile, workdir: Path):
        self.profile = profile
        self.backend = GeminiBackend(profile)
        self._key = self.backend._key
        self.where = f"annotator {profile.name or 'gemini'} batches ({profile.model})"
        self.max_bytes = int((profile.batch_max_mb or 18) * 1e6)   # inline requests: 20 MB a batch
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from google import genai
            from google.genai import types

            http = types.HttpOptions(base_url=self.profile.base_url,
                                     timeout=int(max(60.0, self.profile.timeout_s) * 1000))
            self._client = genai.Client(api_key=self._key or "no-key", http_options=http)
        return self._client

    def _api(self, what: str, fn: Any) -> Any:
        from google.genai import errors

        try:
            return fn()
        except errors.APIError as e:
            message = redact(str(getattr(e, "message", "") or getattr(e, "status", "") or ""), self._key)
            err = status_error(int(e.code or 500), f"{what}: {message}", self.where, self.profile.api_key_env)
            if isinstance(err, PermanentError):
                raise AnnotatorUnusable(f"{self.where}: {what} refused: {message}") from None
            raise err from None
        except Exception as e:
            from r1data.annotators.gemini import is_transport_error

            if is_transport_error(e):
                raise TransientError("connection_error", redact(f"{what}: {type(e).__name__}: {e}", self._key)) from None
            raise

    def submit(self, tag: str, items: list[tuple[str, AnnotationRequest]]) -> str:
        from google.genai import types

        requests = []
        for key, request in items:
            contents, _ = self.backend._contents(request)
            requests.append(types.InlinedRequest(contents=contents, config=self.backend.config(request),
                                                 metadata={"key": key}))
        job = self._api("creating the batch", lambda: self.client().batches.create(
            model=self.profile.model, src=requests, config=types.CreateBatchJobConfig(display_name=tag)))
        return str(job.name)

    def find(self, tag: str, since: float) -> str | None:
        pager = self._api("listing batches", lambda: self.client().batches.list(config={"page_size": 100}))
        for i, job in enumerate(pager):
            if job.display_name == tag:
                return str(job.name)
            if i >= 5000:
                break
        return None

    def poll(self, batch_id: str) -> BatchJob:
        job = self._api("checking the batch", lambda: self.client().batches.get(name=batch_id))
        state = _name(job.state)
        out = BatchJob(state=state, done=state in TERMINAL)
        if state == "JOB_STATE_FAILED":
            error = job.error
            code = int(error.code) if error is not None and error.code else None
            message = redact(str(error.message) if error is not None and error.message else "the batch failed",
                             self._key)
            out.error = f"{code}: {message}" if code else message
            out.error_transient = code is None or code == 429 or code >= 500
        return out

    def results(self, batch_id: str, keys: list[str]) -> Iterator[tuple[str, AnnotationResponse | AnnotatorCallError]]:
        job = self._api("downloading results", lambda: self.client().batches.get(name=batch_id))
        state = _name(job.state)
        responses = list(job.dest.inlined_responses or []) if job.dest is not None else []
        found: dict[str, AnnotationResponse | AnnotatorCallError] = {}
        for i, item in enumerate(responses):
            key = (item.metadata or {}).get("key") or (keys[i] if i < len(keys) else None)
            if key is None:
                continue
            if item.error is not None:
                code = int(item.error.code or 500)
                message = redact(str(item.error.message or ""), self._key)
                err = status_error(code, message, self.where, self.profile.api_key_env)
                found[key] = err if isinstance(err, AnnotatorCallError) else \
                    PermanentError("refused", redact(str(err), self._key))
            elif item.response is not None:
                try:
                    found[key] = self.backend.parse(item.response)
                except AnnotatorCallError as e:
                    found[key] = e
        missing = "batch_expired" if state == "JOB_STATE_EXPIRED" else \
            "batch_cancelled" if state == "JOB_STATE_CANCELLED" else "no_result"
        for key in keys:
            yield key, found.get(key) or TransientError(missing, f"batch {batch_id} ended {state} "
                                                                 "without this request's result")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _name(value: Any) -> str:
    return str(getattr(value, "name", value) or "")
