"""The ``openai`` provider: openai's ``AsyncOpenAI`` chat completions, for OpenAI itself and for
any OpenAI-compatible server (vLLM, SGLang, Ollama, LM Studio) named by ``base_url``.

Images go as base64 ``data:`` URLs in ``image_url`` parts. The client's own retries are off
(``max_retries=0``): retrying, pacing and caching are :mod:`r1data.annotators.client`'s.
A profile without ``api_key_env`` (a local server) sends the placeholder key ``EMPTY``.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from r1data.annotators.gemini import is_transport_error
from r1data.annotators.profile import AnnotatorProfile, providers
from r1data.annotators.request import (AnnotationRequest, AnnotationResponse, PermanentError,
                                       TransientError, redact, retry_after_seconds, status_error)


class OpenAIChatBackend:
    """One profile's ``AsyncOpenAI`` client; ``generate`` is a coroutine (one call, no retry)."""

    provider = "openai"

    def __init__(self, profile: AnnotatorProfile):
        self.profile = profile
        self._key = profile.api_key()
        self._client: Any = None
        self.where = f"annotator {profile.name or 'openai'} ({profile.model} at {profile.base_url or 'api.openai.com'})"

    def _chat(self) -> Any:
        if self._client is None:   # created on the loop that uses it
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(api_key=self._key or "EMPTY", base_url=self.profile.base_url,
                                       max_retries=0, timeout=self.profile.timeout_s,
                                       http_client=_aiohttp_client(self.profile.timeout_s))
        return self._client

    @staticmethod
    def messages(request: AnnotationRequest) -> list[dict]:
        """The request in the chat-completions wire format."""
        out: list[dict] = []
        for m in request.messages:
            if m.role != "user" or all(isinstance(p, str) for p in m.parts):
                out.append({"role": m.role, "content": m.text})
                continue
            content: list[dict] = []
            for p in m.parts:
                if isinstance(p, str):
                    content.append({"type": "text", "text": p})
                else:
                    url = f"data:{p.mime_type};base64,{base64.b64encode(p.data).decode('ascii')}"
                    content.append({"type": "image_url", "image_url": {"url": url}})
            out.append({"role": "user", "content": content})
        return out

    def body(self, request: AnnotationRequest) -> dict[str, Any]:
        """The chat-completions request body (also one line of a Batch API input file)."""
        kwargs: dict[str, Any] = {"model": self.profile.model, "messages": self.messages(request),
                                  "temperature": request.temperature}
        # OpenAI's own API wants max_completion_tokens (reasoning models refuse max_tokens);
        # compatible servers (vLLM, Ollama, older SGLang) know max_tokens
        limit_key = "max_completion_tokens" if self.profile.base_url is None else "max_tokens"
        kwargs[limit_key] = request.max_output_tokens
        if request.response_schema is not None:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "annotation", "schema": request.response_schema,
                "strict": strict_compatible(request.response_schema)}}
        return kwargs

    async def generate(self, request: AnnotationRequest) -> AnnotationResponse:
        import openai
        from openai.types.chat import ChatCompletion

        kwargs = self.body(request)
        t0 = time.monotonic()
        try:
            # the SDK's documented raw verb: same client, auth, errors and response type as
            # chat.completions.create, without re-walking the body we built ourselves (that walk
            # cost a quarter of the CPU of a call with images at 64 calls in flight)
            r = await self._chat().post("/chat/completions", body=kwargs, cast_to=ChatCompletion)
        except openai.APIStatusError as e:
            headers = e.response.headers
            retry_after = retry_after_seconds(headers.get("retry-after"))
            if retry_after is None and headers.get("retry-after-ms"):
                retry_after = retry_after_seconds(headers.get("retry-after-ms"))
                retry_after = retry_after / 1000 if retry_after is not None else None
            message = redact(_error_message(e), self._key)
            raise status_error(e.status_code, message, self.where, self.profile.api_key_env,
                               retry_after, _error_code(e)) from None
        except (openai.APITimeoutError, openai.APIConnectionError) as e:
            reason = "timeout" if isinstance(e, openai.APITimeoutError) else "connection_error"
            raise TransientError(reason, redact(f"{type(e).__name__}: {e}", self._key)) from None
        except (ValueError, openai.APIResponseValidationError) as e:   # a 200 whose body is not JSON
            raise TransientError("malformed_response", redact(f"{type(e).__name__}: {e}", self._key)) from None
        except Exception as e:
            if is_transport_error(e):
                raise TransientError("connection_error", redact(f"{type(e).__name__}: {e}", self._key)) from None
            raise
        return self.parse(r, time.monotonic() - t0)

    def parse(self, r: Any, latency: float = 0.0) -> AnnotationResponse:
        """A ``ChatCompletion`` (from a call, or a line of a batch output file) as our response."""
        if not getattr(r, "choices", None):
            raise TransientError("malformed_response", "the response holds no choice")
        choice = r.choices[0]
        if choice.finish_reason == "content_filter":
            raise PermanentError("safety_block", "answer blocked by the content filter")
        message = choice.message
        text = (message.content or "") if message is not None else ""
        usage = r.usage
        return AnnotationResponse(text=text, tokens_in=(usage.prompt_tokens or 0) if usage else 0,
                                  tokens_out=(usage.completion_tokens or 0) if usage else 0, latency_s=latency,
                                  finish_reason=str(choice.finish_reason or ""),
                                  model=str(r.model or self.profile.model or ""))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()


def strict_compatible(schema: Any) -> bool:
    """Whether OpenAI's strict structured outputs accept ``schema``: every object closed
    (``additionalProperties: false``) with all its properties required. Otherwise the schema is
    sent non-strict (OpenAI would refuse it with a 400) and the answer is still checked here."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            props = schema.get("properties", {})
            if schema.get("additionalProperties", True) is not False or set(schema.get("required", [])) != set(props):
                return False
        return all(strict_compatible(v) for k, v in schema.items() if k not in ("required", "enum", "const"))
    if isinstance(schema, list):
        return all(strict_compatible(v) for v in schema)
    return True


def _aiohttp_client(timeout_s: float) -> Any:
    """openai's aiohttp transport when ``aiohttp`` is installed (the ``api`` extra), else
    None (the SDK's default httpx pool). At 64 calls in flight the httpx pool re-checks every
    connection on each request; aiohttp's pool costs about 30 % less CPU per call here."""
    try:
        import aiohttp  # noqa: F401
        from openai import DefaultAioHttpClient
    except ImportError:
        return None
    return DefaultAioHttpClient(timeout=timeout_s)


def _error_code(e: Any) -> str | None:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("code"):
            return str(inner["code"])
    return getattr(e, "code", None)


def _error_message(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(e, "message", "") or e)


providers.register("openai", OpenAIChatBackend)
