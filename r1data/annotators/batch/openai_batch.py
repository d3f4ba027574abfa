"""OpenAI's Batch API (``/v1/files`` and ``/v1/batches``) through the openai client.

Submitting: the requests are written as a JSONL input file (one line each:
``{"custom_id": KEY, "method": "POST", "url": "/v1/chat/completions", "body": ...}``, the
body exactly what a direct call sends), uploaded with ``purpose="batch"`` and made a batch
(``endpoint="/v1/chat/completions"``, ``completion_window="24h"``, ``metadata={"r1data_tag":
TAG}``). The local file is deleted once uploaded.

Collecting: a batch ends ``completed``, ``expired``, ``cancelled`` or ``failed``. The output
file has a line per answered request (``{"custom_id", "response": {"status_code": 200,
"body": <chat completion>}}``); the error file one per request that was not
(``{"custom_id", "response": {"status_code", "body": {"error": ...}}}`` for an HTTP error, or
``{"custom_id", "response": null, "error": {"code": "batch_expired" | "batch_cancelled" |
"request_timeout", "message"}}``). A request found in neither is sent again. A ``failed``
batch failed validation: its ``errors`` name the input lines at fault (those records fail)
or the whole file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from r1data.annotators.batch.base import BatchJob
from r1data.annotators.openai_chat import OpenAIChatBackend
from r1data.annotators.profile import AnnotatorProfile
from r1data.annotators.request import (AnnotationRequest, AnnotationResponse, AnnotatorCallError,
                                       AnnotatorUnusable, PermanentError, TransientError, redact, status_error)

ENDPOINT = "/v1/chat/completions"
TERMINAL = {"completed", "expired", "cancelled", "failed"}
RESEND_CODES = {"batch_expired", "batch_cancelled", "request_timeout"}
# whole-batch failures that sending again later may cure (the organisation's queue is full)
TRANSIENT_BATCH_CODES = {"token_limit_exceeded", "rate_limit_exceeded", "server_error", "request_limit_exceeded"}


class OpenAIBatches:
    provider = "openai"

    def __init__(self, profile: AnnotatorProfile, workdir: Path):
        self.profile = profile
        self.backend = OpenAIChatBackend(profile)       # the body and answer formats of direct calls
        self._key = self.backend._key
        self.workdir = Path(workdir)
        self.where = f"annotator {profile.name or 'openai'} batches ({profile.model} at " \
                     f"{profile.base_url or 'api.openai.com'})"
        self.max_bytes = int((profile.batch_max_mb or 190) * 1e6)   # OpenAI: 200 MB a file
        self._client: Any = None

    def client(self, retries: int = 3) -> Any:
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(api_key=self._key or "EMPTY", base_url=self.profile.base_url,
                                  max_retries=0, timeout=max(60.0, self.profile.timeout_s))
        return self._client.with_options(max_retries=retries) if retries else self._client

    def _api(self, what: str, fn: Any) -> Any:
        """Call the API; its errors as ours (never echoing the key)."""
        import openai

        try:
            return fn()
        except openai.APIStatusError as e:
            from r1data.annotators.openai_chat import _error_code, _error_message

            message = redact(_error_message(e), self._key)
            err = status_error(e.status_code, f"{what}: {message}", self.where, self.profile.api_key_env,
                               code=_error_code(e))
            if isinstance(err, PermanentError):     # a 400 on the batch itself: nothing will work
                raise AnnotatorUnusable(f"{self.where}: {what} refused: {message}") from None
            raise err from None
        except (openai.APITimeoutError, openai.APIConnectionError) as e:
            raise TransientError("connection_error", redact(f"{what}: {type(e).__name__}: {e}", self._key)) from None

    # -- submit --------------------------------------------------------------------------------
    def submit(self, tag: str, items: list[tuple[str, AnnotationRequest]]) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"{tag}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for key, request in items:
                line = {"custom_id": key, "method": "POST", "url": ENDPOINT, "body": self.backend.body(request)}
                f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        with open(path, "rb") as fh:
            uploaded = self._api("uploading the input file",
                                 lambda: self.client().files.create(file=(path.name, fh), purpose="batch"))
        batch = self._api("creating the batch", lambda: self.client(retries=0).batches.create(
            input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h",
            metadata={"r1data_tag": tag}))
        path.unlink(missing_ok=True)
        return str(batch.id)

    def find(self, tag: str, since: float) -> str | None:
        """The batch created with ``tag`` (after a kill lost its id), looking back to ``since``."""
        after = None
        for _ in range(50):                               # 50 pages of 100: far enough back
            page = self._api("listing batches", lambda: self.client().batches.list(
                limit=100, **({"after": after} if after else {})))
            for b in page.data:
                if (b.metadata or {}).get("r1data_tag") == tag:
                    return str(b.id)
            if not page.data or not page.has_more or min(b.created_at for b in page.data) < since - 3600:
                return None
            after = page.data[-1].id
        return None

    # -- poll and collect -------------------------------------------------------------------------
    def poll(self, batch_id: str) -> BatchJob:
        b = self._api("checking the batch", lambda: self.client().batches.retrieve(batch_id))
        counts = b.request_counts
        job = BatchJob(state=b.status, done=b.status in TERMINAL, total=counts.total if counts else 0,
                       completed=counts.completed if counts else 0, failed=counts.failed if counts else 0)
        if b.status == "failed":
            errors = list(b.errors.data or []) if b.errors else []
            lines = {int(e.line) - 1: redact(f"{e.code}: {e.message}", self._key)
                     for e in errors if getattr(e, "line", None)}
            whole = [e for e in errors if not getattr(e, "line", None)]
            if lines:
                job.bad_lines = lines
            if whole or not lines:
                e = whole[0] if whole else None
                job.error = redact(f"{e.code}: {e.message}" if e else "the batch failed", self._key)
                job.error_transient = bool(e is not None and e.code in TRANSIENT_BATCH_CODES)
        return job

    def results(self, batch_id: str, keys: list[str]) -> Iterator[tuple[str, AnnotationResponse | AnnotatorCallError]]:
        b = self._api("checking the batch", lambda: self.client().batches.retrieve(batch_id))
        found: dict[str, AnnotationResponse | AnnotatorCallError] = {}
        for file_id in (b.output_file_id, b.error_file_id):
            if not file_id:
                continue
            text = self._api("downloading results", lambda: self.client().files.content(file_id).text)
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue
                key = obj.get("custom_id")
                if isinstance(key, str):
                    found[key] = self._outcome(obj)
        missing = {"expired": "batch_expired", "cancelled": "batch_cancelled"}.get(b.status, "no_result")
        for key in keys:
            yield key, found.get(key) or TransientError(missing, f"batch {batch_id} ended {b.status} "
                                                                 "without this request's result")

    def _outcome(self, obj: dict) -> AnnotationResponse | AnnotatorCallError:
        from openai.types.chat import ChatCompletion
        from pydantic import ValidationError

        response = obj.get("response") or {}
        error = obj.get("error") or {}
        status = response.get("status_code")
        if status == 200:
            try:
                return self.backend.parse(ChatCompletion.model_validate(response.get("body") or {}))
            except AnnotatorCallError as e:
                return e
            except ValidationError as e:
                return TransientError("malformed_response", redact(f"{type(e).__name__}: {e}", self._key)[:200])
        if status:
            body = response.get("body") or {}
            inner = body.get("error", body) if isinstance(body, dict) else {}
            message = redact(str(inner.get("message", "")) if isinstance(inner, dict) else str(body), self._key)
            code = inner.get("code") if isinstance(inner, dict) else None
            err = status_error(int(status), message, self.where, self.profile.api_key_env, code=code)
            if isinstance(err, AnnotatorCallError):
                return err
            return PermanentError("refused", redact(str(err), self._key))   # 401/404 on one line: that line fails
        code = str(error.get("code") or "no_result")
        message = redact(str(error.get("message") or ""), self._key)
        if code in RESEND_CODES:
            return TransientError(code, message)
        return TransientError(code, message) if "timeout" in code or "server" in code else \
            PermanentError(code if code.isidentifier() else "batch_error", message)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
