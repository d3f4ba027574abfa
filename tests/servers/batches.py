"""The batch APIs of the stand-in servers: OpenAI's files + batches, Gemini's batch mode.

Both follow the providers' published wire formats (docs checked 2026-12: OpenAI's Batch object,
its statuses and the output/error file lines; Gemini's ``models/{m}:batchGenerateContent``
operation, ``batches/{id}``, ``batches`` listing, inlined requests and responses) closely
enough that the real openai and google-genai clients drive them unchanged.

A batch is answered ``batch_latency_s`` after it is created (each item as the generation
endpoint would answer it: the server's ``respond`` and item faults), or once
``batch_release`` (a ``threading.Event``) is set, when one is given. Knobs:

* ``batch_item_faults(n, prompt) -> fault | None``: per item (n counts items over all
  batches): ``429``, ``500``, ``503``, ``400``, ``401`` (its body echoes the key), ``safety``
  or ``bad_output``;
* ``batch_expire``: batch number (1-based) -> items answered before the batch expires;
* ``batch_fail``: batch number -> a ``failed`` batch, ``(code, message, line or None)``;
* ``batch_create_faults``: consumed one per create: ``401``, ``429`` or ``500``;
* ``batch_create_delay_s``: a create is recorded, then answered this much later (a client
  killed meanwhile never learns the id of a batch that exists).

Counters: ``batches_created``, ``batch_keys`` (the request keys of each batch, in order),
``files_uploaded``, ``batch_polls``.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import re
import threading
import time
import uuid
from typing import Any

from tests.servers.base import IMAGE_TOKENS, count_tokens


class BatchAPI:
    """What both providers' batch endpoints share: batches, their timing and their items."""

    def __init__(self, *args: Any, batch_latency_s: float = 0.2, batch_release: threading.Event | None = None,
                 batch_item_faults: Any = None, batch_expire: dict[int, int] | None = None,
                 batch_fail: dict[int, tuple[str, str, int | None]] | None = None,
                 batch_create_faults: list[str] | None = None, batch_create_delay_s: float = 0.0,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.batch_latency_s = batch_latency_s
        self.batch_release = batch_release
        self.batch_item_faults = batch_item_faults
        self.batch_expire = dict(batch_expire or {})
        self.batch_fail = dict(batch_fail or {})
        self.batch_create_faults = list(batch_create_faults or [])
        self.batch_create_delay_s = batch_create_delay_s
        self.batches: dict[str, dict] = {}
        self.batches_created = 0
        self.batch_keys: list[list[str]] = []
        self.files: dict[str, dict] = {}
        self.files_uploaded = 0
        self.batch_polls = 0
        self._items_seen = 0

    # -- shared --------------------------------------------------------------------------------
    def _create_fault(self, auth: str) -> tuple[int, dict, dict] | None:
        with self.lock:  # type: ignore[attr-defined]
            fault = self.batch_create_faults.pop(0) if self.batch_create_faults else None
        if fault is None:
            return None
        extra = {"Retry-After": "0"} if fault == "429" else {}
        return int(fault), self.error_body(int(fault), auth), extra  # type: ignore[attr-defined]

    def _new_batch(self, items: list[dict], **fields: Any) -> dict:
        with self.lock:  # type: ignore[attr-defined]
            self.batches_created += 1
            number = self.batches_created
            self.batch_keys.append([it["key"] for it in items])
        batch = {"number": number, "created": time.time(), "items": items, "done": False, **fields}
        self.batches[batch["id"]] = batch
        return batch

    def _ready(self, batch: dict) -> bool:
        if self.batch_release is not None:
            return self.batch_release.is_set()
        return time.time() - batch["created"] >= self.batch_latency_s

    def _run(self, batch: dict) -> None:
        """Answer a batch's items (once): ``results`` is one (key, kind, payload) per item,
        kind ``ok`` / ``http`` (status, body) / ``expired``."""
        if batch["done"] or not self._ready(batch):
            return
        batch["done"] = True
        fail = self.batch_fail.get(batch["number"])
        if fail is not None:
            batch["failed"] = fail
            batch["results"] = []
            return
        answered = self.batch_expire.get(batch["number"], len(batch["items"]))
        results = []
        for i, item in enumerate(batch["items"]):
            if i >= answered:
                results.append((item["key"], "expired", None))
                continue
            results.append((item["key"], *self._answer_item(item)))
        batch["results"] = results
        batch["expired"] = answered < len(batch["items"])

    def _answer_item(self, item: dict) -> tuple[str, Any]:
        prompt, images = self.parse_request(item["request"])  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            self._items_seen += 1
            n = self._items_seen
        fault = self.batch_item_faults(n, prompt) if self.batch_item_faults else None
        model = item.get("model", "stand-in")
        if fault in ("429", "500", "503", "400", "401"):     # a 401 body echoes the key, as OpenAI's does
            return "http", (int(fault), self.error_body(int(fault), item.get("auth", "")))  # type: ignore[attr-defined]
        if fault == "safety":
            return "ok", self.blocked_body(model)  # type: ignore[attr-defined]
        text = "I cannot tell." if fault == "bad_output" else self.respond(prompt, len(images))  # type: ignore[attr-defined]
        tokens_in = count_tokens(prompt) + IMAGE_TOKENS * len(images)
        return "ok", self.answer_body(model, text, tokens_in, count_tokens(text))  # type: ignore[attr-defined]


class OpenAIBatchAPI(BatchAPI):
    """``/v1/files`` (multipart upload, content download) and ``/v1/batches`` (create,
    retrieve, list)."""

    async def handle_api(self, method: str, path: str, headers: dict[str, str], raw: bytes
                         ) -> tuple[int, dict | bytes, dict] | None:
        auth = headers.get("authorization", "")
        route = path.split("?", 1)[0].rstrip("/")
        query = dict(p.split("=", 1) for p in path.split("?", 1)[1].split("&") if "=" in p) if "?" in path else {}
        if method == "POST" and route.endswith("/v1/files"):
            return self._upload(headers, raw)
        m = re.fullmatch(r".*/v1/files/([^/]+)/content", route)
        if method == "GET" and m:
            f = self.files.get(m.group(1))
            return (200, f["data"], {}) if f else (404, {"error": {"message": "no such file"}}, {})
        if method == "POST" and route.endswith("/v1/batches"):
            fault = self._create_fault(auth)
            if fault is not None:
                return fault
            body = json.loads(raw)
            batch = self._create(body, auth)
            if self.batch_create_delay_s:
                await asyncio.sleep(self.batch_create_delay_s)
            return 200, self._object(batch), {}
        m = re.fullmatch(r".*/v1/batches/([^/]+)", route)
        if method == "GET" and m:
            batch = self.batches.get(m.group(1))
            if batch is None:
                return 404, {"error": {"message": "no such batch", "type": "invalid_request_error"}}, {}
            with self.lock:  # type: ignore[attr-defined]
                self.batch_polls += 1
            self._run(batch)
            return 200, self._object(batch), {}
        if method == "GET" and route.endswith("/v1/batches"):
            ordered = sorted(self.batches.values(), key=lambda b: -b["created"])
            if "after" in query:
                ids = [b["id"] for b in ordered]
                ordered = ordered[ids.index(query["after"]) + 1:] if query["after"] in ids else []
            limit = int(query.get("limit", 20))
            page = ordered[:limit]
            return 200, {"object": "list", "data": [self._object(b) for b in page],
                         "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None,
                         "has_more": len(ordered) > limit}, {}
        return None

    def _upload(self, headers: dict[str, str], raw: bytes) -> tuple[int, dict, dict]:
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
            f"Content-Type: {headers.get('content-type', '')}\r\n\r\n".encode() + raw)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[name] = (part.get_filename(), part.get_payload(decode=True))
        filename, data = fields["file"]
        purpose = fields["purpose"][1].decode()
        file_id = f"file-{uuid.uuid4().hex[:20]}"
        self.files[file_id] = {"data": data, "filename": filename, "purpose": purpose}
        with self.lock:  # type: ignore[attr-defined]
            self.files_uploaded += 1
        return 200, self._file_object(file_id), {}

    def _file_object(self, file_id: str) -> dict:
        f = self.files[file_id]
        return {"id": file_id, "object": "file", "bytes": len(f["data"]), "created_at": int(time.time()),
                "filename": f["filename"], "purpose": f["purpose"], "status": "processed"}

    def _create(self, body: dict, auth: str) -> dict:
        lines = self.files[body["input_file_id"]]["data"].decode().splitlines()
        items = []
        for line in lines:
            obj = json.loads(line)
            items.append({"key": obj["custom_id"], "request": obj["body"], "model": obj["body"]["model"],
                          "auth": auth})
        return self._new_batch(items, id=f"batch_{uuid.uuid4().hex[:24]}", input_file_id=body["input_file_id"],
                               endpoint=body["endpoint"], completion_window=body["completion_window"],
                               metadata=body.get("metadata"))

    def _object(self, batch: dict) -> dict:
        created = int(batch["created"])
        obj: dict[str, Any] = {
            "id": batch["id"], "object": "batch", "endpoint": batch["endpoint"], "errors": None,
            "input_file_id": batch["input_file_id"], "completion_window": batch["completion_window"],
            "status": "in_progress", "output_file_id": None, "error_file_id": None, "created_at": created,
            "in_progress_at": created, "expires_at": created + 86400, "metadata": batch.get("metadata"),
            "request_counts": {"total": len(batch["items"]), "completed": 0, "failed": 0}}
        if not batch["done"]:
            return obj
        now = int(time.time())
        if batch.get("failed"):
            code, message, line = batch["failed"]
            obj.update(status="failed", failed_at=now, errors={"object": "list", "data": [
                {"code": code, "message": message, "param": None, "line": line}]})
            return obj
        if "files" not in batch:
            out, err = [], []
            for key, kind, payload in batch["results"]:
                line: dict[str, Any] = {"id": f"batch_req_{uuid.uuid4().hex[:20]}", "custom_id": key}
                if kind == "ok":
                    out.append({**line, "response": {"status_code": 200, "request_id": uuid.uuid4().hex,
                                                      "body": payload}, "error": None})
                elif kind == "http":
                    status, body = payload
                    err.append({**line, "response": {"status_code": status, "request_id": uuid.uuid4().hex,
                                                      "body": body}, "error": None})
                else:
                    err.append({**line, "response": None, "error": {
                        "code": "batch_expired",
                        "message": "This request could not be executed before the completion window expired."}})
            batch["files"] = (self._store_file(out, "batch_output"), self._store_file(err, "batch_output"))
            batch["counts"] = (len(out), len(err))
        output_id, error_id = batch["files"]
        obj.update(status="expired" if batch.get("expired") else "completed", output_file_id=output_id,
                   error_file_id=error_id, finalizing_at=now,
                   request_counts={"total": len(batch["items"]), "completed": batch["counts"][0],
                                   "failed": batch["counts"][1]})
        obj["expired_at" if batch.get("expired") else "completed_at"] = now
        return obj

    def _store_file(self, lines: list[dict], purpose: str) -> str | None:
        if not lines:
            return None
        file_id = f"file-{uuid.uuid4().hex[:20]}"
        self.files[file_id] = {"data": "".join(json.dumps(x) + "\n" for x in lines).encode(),
                               "filename": f"{file_id}.jsonl", "purpose": purpose}
        return file_id


class GeminiBatchAPI(BatchAPI):
    """``models/{model}:batchGenerateContent`` (inlined requests), ``batches/{id}`` and the
    ``batches`` listing, as long-running operations (``name``, ``metadata``, ``done``)."""

    async def handle_api(self, method: str, path: str, headers: dict[str, str], raw: bytes
                         ) -> tuple[int, dict | bytes, dict] | None:
        auth = headers.get("x-goog-api-key") or headers.get("authorization") or ""
        route = path.split("?", 1)[0]
        query = dict(p.split("=", 1) for p in path.split("?", 1)[1].split("&") if "=" in p) if "?" in path else {}
        m = re.fullmatch(r"/v1(?:beta|alpha)?/models/([^/:]+):batchGenerateContent", route)
        if method == "POST" and m:
            fault = self._create_fault(auth)
            if fault is not None:
                return fault
            body = json.loads(raw)["batch"]
            requests = body["inputConfig"]["requests"]["requests"]
            items = [{"key": (r.get("metadata") or {}).get("key", str(i)), "request": r["request"],
                      "model": m.group(1), "metadata": r.get("metadata"), "auth": auth}
                     for i, r in enumerate(requests)]
            batch = self._new_batch(items, id=f"batches/{uuid.uuid4().hex[:16]}", model=f"models/{m.group(1)}",
                                    display_name=body.get("displayName", ""))
            if self.batch_create_delay_s:
                await asyncio.sleep(self.batch_create_delay_s)
            return 200, self._operation(batch), {}
        m = re.fullmatch(r"/v1(?:beta|alpha)?/(batches/[^/:]+)", route)
        if method == "GET" and m:
            batch = self.batches.get(m.group(1))
            if batch is None:
                return 404, {"error": {"code": 404, "message": "no such batch", "status": "NOT_FOUND"}}, {}
            with self.lock:  # type: ignore[attr-defined]
                self.batch_polls += 1
            self._run(batch)
            return 200, self._operation(batch), {}
        if method == "GET" and re.fullmatch(r"/v1(?:beta|alpha)?/batches", route):
            ordered = sorted(self.batches.values(), key=lambda b: -b["created"])
            start = int(query.get("pageToken", 0) or 0)
            size = int(query.get("pageSize", 50))
            page = ordered[start:start + size]
            out: dict[str, Any] = {"operations": [self._operation(b) for b in page]}
            if start + size < len(ordered):
                out["nextPageToken"] = str(start + size)
            return 200, out, {}
        return None

    def _operation(self, batch: dict) -> dict:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(batch["created"]))
        n = len(batch["items"])
        meta: dict[str, Any] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch",
                                "model": batch["model"], "displayName": batch["display_name"], "createTime": stamp,
                                "updateTime": stamp, "name": batch["id"], "state": "BATCH_STATE_RUNNING",
                                "batchStats": {"requestCount": str(n), "pendingRequestCount": str(n)}}
        op: dict[str, Any] = {"name": batch["id"], "metadata": meta, "done": False}
        if not batch["done"]:
            return op
        if batch.get("failed"):
            code, message, _ = batch["failed"]
            meta["state"] = "BATCH_STATE_FAILED"
            op.update(done=True, error={"code": 400 if code == "invalid_request" else 500, "message": message})
            return op
        responses = []
        ok = failed = 0
        for (key, kind, payload), item in zip(batch["results"], batch["items"]):
            if kind == "expired":
                continue
            entry: dict[str, Any] = {"metadata": item.get("metadata") or {"key": key}}
            if kind == "ok":
                entry["response"] = payload
                ok += 1
            else:
                status, body = payload
                entry["error"] = {"code": status, "message": body["error"]["message"]}
                failed += 1
            responses.append(entry)
        output = {"inlinedResponses": {"inlinedResponses": responses}}
        meta.update(state="BATCH_STATE_EXPIRED" if batch.get("expired") else "BATCH_STATE_SUCCEEDED",
                    endTime=time.strftime("%Y-%m-%dT%H:%M:%SZ"), output=output,
                    batchStats={"requestCount": str(n), "successfulRequestCount": str(ok),
                                "failedRequestCount": str(failed), "pendingRequestCount": str(n - ok - failed)})
        op.update(done=True, response={
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatchOutput", **output})
        return op
