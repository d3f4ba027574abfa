"""The ``gemini`` provider: google-genai's async client (``client.aio.models.generate_content``).

Images and video frames go as inline parts (``Part.from_bytes``); a system message becomes
the ``system_instruction``; the ``assistant`` role is Gemini's ``model``. The SDK's own
retries are off (its default): retrying, pacing and caching are :mod:`r1data.annotators.client`'s.
``base_url`` points the client at another endpoint (a proxy, or the tests' local server).
"""

from __future__ import annotations

import time
from typing import Any

from r1data.annotators.profile import AnnotatorProfile, providers
from r1data.annotators.request import (AnnotationRequest, AnnotationResponse, PermanentError,
                                       TransientError, redact, retry_after_seconds, status_error)

# finish reasons meaning the model refused to answer this record
_BLOCKED = {"SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY"}


def is_transport_error(e: BaseException) -> bool:
    """A timeout or a dropped connection from httpx (or the httpx2 fork google-genai uses)."""
    if isinstance(e, (ConnectionError, TimeoutError)):
        return True
    return any(c.__name__ in ("TransportError", "TimeoutException")
               and c.__module__.split(".")[0] in ("httpx", "httpx2") for c in type(e).__mro__)


class GeminiBackend:
    """One profile's google-genai client; ``generate`` is a coroutine (one call, no retry)."""

    provider = "gemini"

    def __init__(self, profile: AnnotatorProfile):
        self.profile = profile
        self._key = profile.api_key()
        self._client: Any = None
        self.where = f"annotator {profile.name or 'gemini'} ({profile.model})"

    def _aio(self) -> Any:
        if self._client is None:   # created on the loop that uses it
            from google import genai
            from google.genai import types

            # our own httpx client, so retries are ours alone: left to itself google-genai
            # switches to aiohttp whenever aiohttp is installed, and aiohttp silently re-sends
            # a request whose connection dropped. The aiohttp *transport* under httpx (the
            # `httpx-aiohttp` package, as openai's DefaultAioHttpClient) keeps that control and
            # costs far less CPU per call than httpx's own pool at 64 calls in flight.
            self._http = _http_client(self.profile.timeout_s, self.profile.max_concurrency)
            http = types.HttpOptions(base_url=self.profile.base_url, timeout=int(self.profile.timeout_s * 1000),
                                     httpx_async_client=self._http)
            self._client = genai.Client(api_key=self._key or "no-key", http_options=http)
        return self._client.aio

    def _contents(self, request: AnnotationRequest) -> tuple[list, str | None]:
        from google.genai import types

        contents = []
        system = []
        for m in request.messages:
            if m.role == "system":
                system.append(m.text)
                continue
            parts = [types.Part.from_text(text=p) if isinstance(p, str)
                     else types.Part.from_bytes(data=p.data, mime_type=p.mime_type) for p in m.parts]
            contents.append(types.Content(role="model" if m.role == "assistant" else "user", parts=parts))
        return contents, "\n".join(system) or None

    def config(self, request: AnnotationRequest) -> Any:
        """The ``GenerateContentConfig`` of a request (sampling, system message, JSON schema)."""
        from google.genai import types

        _, system = self._contents(request)
        config: dict[str, Any] = {"temperature": request.temperature,
                                  "max_output_tokens": request.max_output_tokens}
        if system:
            config["system_instruction"] = system
        if request.response_schema is not None:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = request.response_schema
        return types.GenerateContentConfig(**config)

    async def generate(self, request: AnnotationRequest) -> AnnotationResponse:
        from google.genai import errors

        contents, _ = self._contents(request)
        t0 = time.monotonic()
        try:
            r = await self._aio().models.generate_content(
                model=self.profile.model, contents=contents, config=self.config(request))
        except errors.APIError as e:
            raise self._api_error(e) from None
        except ValueError as e:   # a 200 whose body is not JSON
            raise TransientError("malformed_response", redact(f"{type(e).__name__}: {e}", self._key)) from None
        except Exception as e:
            if is_transport_error(e):
                raise TransientError("timeout" if "Timeout" in type(e).__name__ else "connection_error",
                                     redact(f"{type(e).__name__}: {e}", self._key)) from None
            raise
        return self.parse(r, time.monotonic() - t0)

    def parse(self, r: Any, latency: float = 0.0) -> AnnotationResponse:
        """A ``GenerateContentResponse`` (from a call, or a batch's inlined response) as ours."""
        feedback = r.prompt_feedback
        if feedback is not None and feedback.block_reason:
            raise PermanentError("safety_block", f"prompt blocked: {_name(feedback.block_reason)}")
        if not r.candidates:
            raise PermanentError("no_answer", "the response holds no candidate")
        finish = _name(r.candidates[0].finish_reason)
        if finish in _BLOCKED:
            raise PermanentError("safety_block", f"answer blocked: {finish}")
        content = r.candidates[0].content
        text = "".join(p.text for p in (content.parts or []) if getattr(p, "text", None) and not p.thought) \
            if content is not None else ""
        usage = r.usage_metadata
        tokens_in = (usage.prompt_token_count or 0) if usage else 0
        # thinking tokens are billed as output
        tokens_out = ((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)) if usage else 0
        return AnnotationResponse(text=text, tokens_in=tokens_in, tokens_out=tokens_out, latency_s=latency,
                                  finish_reason=finish, model=r.model_version or self.profile.model or "")

    def _api_error(self, e: Any) -> Exception:
        message = redact(str(getattr(e, "message", "") or getattr(e, "status", "") or ""), self._key)
        retry_after = None
        response = getattr(e, "response", None)
        headers = getattr(response, "headers", None)
        if headers is not None:
            retry_after = retry_after_seconds(headers.get("retry-after"))
        if retry_after is None:
            retry_after = _retry_info(getattr(e, "details", None))
        return status_error(int(e.code or 500), message, self.where, self.profile.api_key_env, retry_after)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aio.aclose()
            await self._http.aclose()    # ours, so google-genai leaves it open


def _http_client(timeout_s: float, concurrency: int) -> Any:
    import httpx

    try:
        from httpx_aiohttp import HttpxAiohttpClient
    except ImportError:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        return httpx.AsyncClient(timeout=timeout_s, limits=limits)
    return HttpxAiohttpClient(timeout=timeout_s)


def _name(value: Any) -> str:
    return str(getattr(value, "name", value) or "")


def _retry_info(details: Any) -> float | None:
    """Gemini's ``RetryInfo.retryDelay`` ("1.5s") from an error body."""
    try:
        for d in details["error"].get("details", []):
            if str(d.get("@type", "")).endswith("RetryInfo"):
                return float(str(d["retryDelay"]).rstrip("s"))
    except (TypeError, KeyError, ValueError, AttributeError):
        return None
    return None


providers.register("gemini", GeminiBackend)
