"""A stand-in for an OpenAI-compatible chat-completions server (OpenAI, vLLM, SGLang, Ollama).

``POST {root}/v1/chat/completions``; point ``AsyncOpenAI(base_url=server.url)`` at it. The
Batch API (``/v1/files``, ``/v1/batches``) is served too (tests/servers/batches.py).
"""

from __future__ import annotations

import base64
import time
import uuid

from tests.servers.base import ModelServer
from tests.servers.batches import OpenAIBatchAPI

STATUS_TYPES = {400: "invalid_request_error", 401: "invalid_api_key", 429: "rate_limit_exceeded",
                500: "server_error", 503: "server_error"}


class OpenAIChatServer(OpenAIBatchAPI, ModelServer):
    """Chat completions with text and ``data:`` URL images; usage in every answer."""

    @property
    def url(self) -> str:
        """The ``base_url`` of an OpenAI client (ends in ``/v1``)."""
        return f"{self.root}/v1"

    def route(self, path: str) -> str | None:
        return "chat" if path.rstrip("/").endswith("/chat/completions") else None

    def model_of(self, route: str, body: dict) -> str:
        return str(body["model"])

    def parse_request(self, body: dict) -> tuple[str, list[bytes]]:
        texts: list[str] = []
        images: list[bytes] = []
        for message in body["messages"]:
            content = message["content"]
            if isinstance(content, str):
                texts.append(content)
                continue
            for part in content:
                if part["type"] == "text":
                    texts.append(part["text"])
                elif part["type"] == "image_url":
                    url = part["image_url"]["url"]
                    if not url.startswith("data:") or ";base64," not in url:
                        raise ValueError("image_url must be a base64 data URL")
                    images.append(base64.b64decode(url.split(",", 1)[1], validate=True))
                else:
                    raise ValueError(f"unknown content part type {part['type']!r}")
        return "\n".join(texts), images

    def answer_body(self, model: str, text: str, tokens_in: int, tokens_out: int) -> dict:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                      "total_tokens": tokens_in + tokens_out},
        }

    def blocked_body(self, model: str) -> dict:
        body = self.answer_body(model, "", 10, 0)
        body["choices"][0]["finish_reason"] = "content_filter"
        body["choices"][0]["message"]["content"] = None
        return body

    def error_body(self, status: int, auth: str, code: str | None = None) -> dict:
        # like the real service, a 401 echoes the key it was given: the client must not repeat it
        message = {401: f"Incorrect API key provided: {auth.removeprefix('Bearer ')}",
                   429: "Rate limit reached for requests", 400: "Invalid request"}.get(status, "Server error")
        if code == "insufficient_quota":
            message = "You exceeded your current quota, please check your plan and billing details."
        return {"error": {"message": message, "type": code or STATUS_TYPES.get(status, "server_error"),
                          "param": None, "code": code or STATUS_TYPES.get(status)}}
