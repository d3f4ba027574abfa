"""A stdlib HTTP server standing in for a hosted model, for tests and benchmarks.

:class:`ModelServer` serves HTTP/1.1 with keep-alive from an asyncio loop in a daemon thread,
on 127.0.0.1 with an ephemeral port (a thread per connection would cap it, under the GIL, far
below what a benchmark of 64 concurrent clients needs). Subclasses speak one wire format (OpenAI chat
completions, Gemini generateContent); this class does the rest:

* ``latency_s``: every answer waits this long (the model's "thinking" time);
* ``faults``: what goes wrong, either a list consumed one per call (``None`` entries answer
  normally) or a function ``(call_number, prompt) -> fault | None``. A fault is one of
  :data:`FAULTS`;
* ``respond(prompt, n_images) -> str``: the text of a normal answer;
* ``quota_rpm``: a rate limit the server ENFORCES, as a provider does: a token bucket of
  ``quota_rpm / 60`` requests a second holding ``quota_burst_s`` seconds of them; a request
  beyond it gets ``429`` (with ``Retry-After``, the seconds until the next slot, when
  ``quota_retry_after``) and counts in ``refused``;
* counters: ``calls`` (requests to the generation endpoint), ``answered`` (normal answers,
  with their times in ``answer_times``),
  ``max_in_flight`` (the most requests open at once), ``seen`` (one :class:`Seen` per call:
  prompt, images, auth header) -- all under ``lock``.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus

# 429/500/503/400/401: that status with an error body ("429" carries Retry-After);
# insufficient_quota: OpenAI's 429 for an account out of credit (Gemini: a 429 without a delay);
# timeout: answer after ``timeout_s`` (the client gives up first); drop: close the connection
# without answering; malformed: 200 with a body that is not JSON; bad_output: 200 with text
# that is not the asked format; safety: 200 with the provider's "blocked" answer.
FAULTS = ("429", "500", "503", "400", "401", "timeout", "drop", "malformed", "bad_output", "safety",
          "insufficient_quota")

FaultPlan = Iterable[str | None] | Callable[[int, str], str | None] | None


def default_respond(prompt: str, n_images: int) -> str:
    """A well-formed 3D-R1 style answer."""
    return ("<think>First, I read the question and the scene description. Next, I look at the "
            f"{n_images} views to find the objects it names. Then, I compare their positions. "
            "Finally, I answer the question.</think><answer>yes</answer>")


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: about four characters a token."""
    return max(1, math.ceil(len(text) / 4))


IMAGE_TOKENS = 258   # what Gemini bills for a small image; used by both servers


@dataclass
class Seen:
    """What one call carried (kept for assertions; images as their byte lengths)."""

    prompt: str
    image_sizes: list[int]
    auth: str
    model: str
    body: dict


class ModelServer:
    """Base of the fake model servers; use as a context manager or ``start()``/``stop()``."""

    path_hint = "/"

    def __init__(self, *, latency_s: float = 0.0, faults: FaultPlan = None,
                 respond: Callable[[str, int], str] = default_respond, retry_after: float | None = 0.0,
                 timeout_s: float = 2.0, keep_bodies: bool = True, port: int = 0,
                 quota_rpm: float | None = None, quota_burst_s: float = 1.0, quota_retry_after: bool = True):
        self.latency_s = latency_s
        self.respond = respond
        self.retry_after = retry_after
        self.timeout_s = timeout_s
        self.keep_bodies = keep_bodies
        self.lock = threading.Lock()
        self.calls = 0
        self.answered = 0
        self.in_flight = 0
        self.max_in_flight = 0      # the most generation requests open at once
        self.faults_served: list[str] = []
        self.quota_rpm = quota_rpm
        self.quota_burst_s = quota_burst_s
        self.quota_retry_after = quota_retry_after
        self.refused = 0            # 429s for exceeding quota_rpm
        self.answer_times: list[float] = []   # time.monotonic() of each normal answer
        self._quota_level = quota_rpm / 60 * quota_burst_s if quota_rpm else 0.0
        self._quota_stamp = time.monotonic()
        self.seen: list[Seen] = []
        self.set_faults(faults)
        self._port = port
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- configuration ----------------------------------------------------------------------
    def set_faults(self, faults: FaultPlan) -> None:
        if faults is None or callable(faults):
            self._fault_fn = faults
            self._fault_list: list[str | None] = []
        else:
            self._fault_fn = None
            self._fault_list = list(faults)
        for f in self._fault_list:
            if f is not None and f not in FAULTS:
                raise ValueError(f"unknown fault {f!r} (known: {', '.join(FAULTS)})")

    def reset_counts(self) -> None:
        with self.lock:
            self.calls = self.answered = self.max_in_flight = self.refused = 0
            self.answer_times.clear()
            self.faults_served.clear()
            self.seen.clear()

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.sockets[0].getsockname()[1]

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ModelServer":
        """Serve on 127.0.0.1 from an asyncio loop in a daemon thread (one thread, many
        connections: thousands of requests a second with ``latency_s`` spent waiting)."""
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(
                    asyncio.start_server(self._connection, "127.0.0.1", self._port, backlog=1024))
            except BaseException as e:  # reported to the caller of start()
                failed.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        ready.wait()
        if failed:
            raise failed[0]
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        loop = self._loop

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=10)
        loop.close()
        self._server = None

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the request cycle -----------------------------------------------------------------------
    def _next_fault(self, call_no: int, prompt: str) -> str | None:
        if self._fault_fn is not None:
            return self._fault_fn(call_no, prompt)
        with self.lock:
            return self._fault_list.pop(0) if self._fault_list else None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One keep-alive connection: read requests until the client closes it."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    break
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    key, _, value = h.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                n = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(n) if n else b""
                keep = await self._handle(method, path, headers, raw, writer)
                if not keep or headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes,
                      writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must close."""
        handled = await self.handle_api(method, path, headers, raw)
        if handled is not None:          # another endpoint of the API (files, batches)
            status, body, extra = handled
            if isinstance(body, bytes):
                return await self._send(writer, status, body, extra)
            return await self._send_json(writer, status, body, extra)
        route = self.route(path) if method == "POST" else None
        if route is None:
            return await self._send_json(writer, 404, {"error": {"code": 404, "message": f"no route {path}"}})
        try:
            body = json.loads(raw or b"{}")
            prompt, images = self.parse_request(body)
            model = self.model_of(route, body)
        except (ValueError, KeyError, TypeError) as e:
            return await self._send_json(writer, 400, {"error": {"code": 400, "message": f"bad request: {e}"}})
        auth = headers.get("authorization") or headers.get("x-goog-api-key") or ""
        with self.lock:
            self.calls += 1
            call_no = self.calls
            self.seen.append(Seen(prompt, [len(i) for i in images], auth, model,
                                  body if self.keep_bodies else {}))
        over = self._over_quota()
        if over is not None:
            extra = {"Retry-After": f"{over:.3f}"} if self.quota_retry_after else {}
            return await self._send_json(writer, 429, self.error_body(429, auth), extra)
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(call_no, prompt, images, model, auth, writer)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _over_quota(self) -> float | None:
        """None when the request fits the enforced quota (and takes its slot), else the
        seconds until the next slot."""
        if not self.quota_rpm:
            return None
        rate = self.quota_rpm / 60
        with self.lock:
            now = time.monotonic()
            cap = max(1.0, rate * self.quota_burst_s)
            self._quota_level = min(cap, self._quota_level + (now - self._quota_stamp) * rate)
            self._quota_stamp = now
            if self._quota_level >= 1:
                self._quota_level -= 1
                return None
            self.refused += 1
            return (1 - self._quota_level) / rate

    async def _answer(self, call_no: int, prompt: str, images: list[bytes], model: str, auth: str,
                      writer: asyncio.StreamWriter) -> bool:
        fault = self._next_fault(call_no, prompt)
        if fault is not None:
            with self.lock:
                self.faults_served.append(fault)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if fault == "drop":
            writer.transport.abort()
            return False
        if fault == "timeout":
            await asyncio.sleep(self.timeout_s)
            return False
        if fault == "malformed":
            return await self._send(writer, 200, b'{"choices": [ this is not json')
        if fault == "insufficient_quota":
            return await self._send_json(writer, 429, self.error_body(429, auth, code="insufficient_quota"))
        if fault in ("429", "500", "503", "400", "401"):
            extra = {}
            if fault == "429" and self.retry_after is not None:
                extra["Retry-After"] = f"{self.retry_after:g}"
            return await self._send_json(writer, int(fault), self.error_body(int(fault), auth), extra)
        if fault == "safety":
            return await self._send_json(writer, 200, self.blocked_body(model))
        text = "I cannot tell." if fault == "bad_output" else self.respond(prompt, len(images))
        tokens_in = count_tokens(prompt) + IMAGE_TOKENS * len(images)
        keep = await self._send_json(writer, 200, self.answer_body(model, text, tokens_in, count_tokens(text)))
        with self.lock:
            self.answered += 1
            self.answer_times.append(time.monotonic())
        return keep

    async def _send_json(self, writer: asyncio.StreamWriter, status: int, body: dict,
                         headers: dict | None = None) -> bool:
        return await self._send(writer, status, json.dumps(body).encode(), headers)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, status: int, data: bytes, headers: dict | None = None) -> bool:
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Content-Type: application/json",
                f"Content-Length: {len(data)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        try:
            await writer.drain()
        except ConnectionError:
            return False   # the client gave up (its timeout): nothing to answer
        return True

    # -- the wire format (subclasses) -------------------------------------------------------------
    async def handle_api(self, method: str, path: str, headers: dict[str, str], raw: bytes
                         ) -> tuple[int, dict | bytes, dict] | None:
        """Endpoints other than generation (the batch APIs, tests/servers/batches.py): the
        status, the body and extra headers, or None for a path they do not serve."""
        return None

    def route(self, path: str) -> str | None:
        """The model named by a generation request's path, or None for any other path."""
        raise NotImplementedError

    def model_of(self, route: str, body: dict) -> str:
        """The model a request asks for (from its path by default)."""
        return route

    def parse_request(self, body: dict) -> tuple[str, list[bytes]]:
        """The prompt text (all text parts joined) and the decoded images."""
        raise NotImplementedError

    def answer_body(self, model: str, text: str, tokens_in: int, tokens_out: int) -> dict:
        raise NotImplementedError

    def blocked_body(self, model: str) -> dict:
        raise NotImplementedError

    def error_body(self, status: int, auth: str, code: str | None = None) -> dict:
        raise NotImplementedError
