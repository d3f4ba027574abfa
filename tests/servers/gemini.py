"""A stand-in for the Gemini API's ``generateContent`` (the Developer API, ``v1beta``).

``POST {root}/v1beta/models/{model}:generateContent``; point google-genai at it with
``Client(api_key=..., http_options=HttpOptions(base_url=server.root))``. Batch mode
(``models/{model}:batchGenerateContent``, ``batches/{id}``) is served too (tests/servers/batches.py).
"""

from __future__ import annotations

import base64
import re

from tests.servers.base import ModelServer
from tests.servers.batches import GeminiBatchAPI

_PATH = re.compile(r"^/v1(?:beta|alpha)?/models/([^/:]+):generateContent$")
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED",
                500: "INTERNAL", 503: "UNAVAILABLE"}


class GeminiServer(GeminiBatchAPI, ModelServer):
    """generateContent with text and ``inlineData`` parts; ``usageMetadata`` in every answer."""

    @property
    def url(self) -> str:
        """The ``base_url`` of ``HttpOptions`` (the client adds ``/v1beta/models/...``)."""
        return self.root

    def route(self, path: str) -> str | None:
        m = _PATH.match(path.split("?", 1)[0])
        return m.group(1) if m else None

    def parse_request(self, body: dict) -> tuple[str, list[bytes]]:
        texts: list[str] = []
        images: list[bytes] = []
        contents = list(body["contents"])
        system = body.get("systemInstruction") or body.get("system_instruction")
        if system:
            contents.insert(0, system)
        for content in contents:
            for part in content["parts"]:
                if "text" in part:
                    texts.append(part["text"])
                    continue
                inline = part.get("inlineData") or part.get("inline_data")
                if inline is None:
                    raise ValueError(f"unknown part {sorted(part)}")
                mime = inline.get("mimeType") or inline.get("mime_type") or ""
                if not mime.startswith(("image/", "video/")):
                    raise ValueError(f"inline data of type {mime!r}")
                # google-genai sends bytes URL-safe base64-encoded; the API takes both alphabets
                images.append(base64.b64decode(inline["data"].replace("-", "+").replace("_", "/"), validate=True))
        return "\n".join(texts), images

    def answer_body(self, model: str, text: str, tokens_in: int, tokens_out: int) -> dict:
        return {
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": tokens_in, "candidatesTokenCount": tokens_out,
                              "totalTokenCount": tokens_in + tokens_out},
            "modelVersion": model,
        }

    def blocked_body(self, model: str) -> dict:
        return {"promptFeedback": {"blockReason": "SAFETY"},
                "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10}, "modelVersion": model}

    def error_body(self, status: int, auth: str, code: str | None = None) -> dict:
        message = {401: f"API key not valid: {auth}", 429: "Resource has been exhausted (e.g. check quota).",
                   400: "Request contains an invalid argument."}.get(status, "Internal error encountered.")
        error: dict = {"code": status, "message": message, "status": STATUS_NAMES.get(status, "INTERNAL")}
        if status == 429 and self.retry_after is not None and code is None:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                 "retryDelay": f"{self.retry_after:g}s"}]
        return {"error": error}
