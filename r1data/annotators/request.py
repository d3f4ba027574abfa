"""The one request and response every API backend speaks, and the errors they raise.

A request is a list of messages, each a list of parts: text or media (image or video-frame
bytes with their MIME type). A backend (Gemini, OpenAI-compatible, programmatic) turns it
into its wire format, or into a function call, and returns an :class:`AnnotationResponse`:
the text, the parsed output, token counts and latency.
Backends classify what went wrong with three errors:

* :class:`TransientError`: worth retrying (429, 5xx, timeouts, dropped connections,
  malformed bodies), optionally with the server's ``retry_after``;
* :class:`PermanentError`: this record cannot be annotated (400, a safety block); the row
  is rejected with ``reason``;
* :class:`AnnotatorUnusable`: no record can be (a refused key, an unknown model); the build
  stops with a one-line message.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any, Literal

from r1data.errors import R1DataError

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Media:
    """Image (or video frame) bytes as sent to the model."""

    data: bytes
    mime_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


Part = str | Media


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "\n".join(p for p in self.parts if isinstance(p, str))


@dataclass(frozen=True)
class AnnotationRequest:
    """What to ask: messages plus the sampling parameters that change the answer."""

    messages: tuple[Message, ...]
    temperature: float = 0.0
    max_output_tokens: int = 1024
    response_schema: dict[str, Any] | None = None
    # the record itself, for the programmatic backend, which derives the answer from ground
    # truth; not part of what is sent to an API, nor of the cache key
    row: Any = field(default=None, compare=False, hash=False, repr=False)
    # which of several samples of the same prompt this is (rollouts: sample k of N). Not sent to
    # the API; part of the cache key when non-zero, so each sample is its own cached answer
    # (a rerun pays nothing, and samples are not copies of one another)
    sample: int = 0

    @classmethod
    def user(cls, text: str, media: list[Media] | tuple[Media, ...] = (), **params: Any) -> "AnnotationRequest":
        """A single user message: the text, then the media in order."""
        return cls((Message("user", (text, *media)),), **params)

    def followed_by(self, *messages: Message) -> "AnnotationRequest":
        return AnnotationRequest((*self.messages, *messages), self.temperature, self.max_output_tokens,
                                 self.response_schema, self.row, self.sample)

    @property
    def media(self) -> list[Media]:
        return [p for m in self.messages for p in m.parts if isinstance(p, Media)]

    @property
    def text(self) -> str:
        return "\n".join(m.text for m in self.messages)

    def estimated_tokens(self) -> int:
        """A rough input size for the tokens-per-minute limiter (4 characters a token,
        258 tokens an image, Gemini's figure for small images)."""
        return len(self.text) // 4 + 258 * len(self.media) + 1


@dataclass
class AnnotationResponse:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0             # includes reasoning ("thinking") tokens, billed as output
    latency_s: float = 0.0
    finish_reason: str = ""
    model: str = ""
    parsed: Any = None              # filled by the output check (JSON object, ThinkAnswer, ...)
    cached: bool = False
    extra: dict = field(default_factory=dict)


class AnnotatorCallError(Exception):
    """A failed call; ``reason`` is a short snake_case word, ``detail`` a sentence (no key)."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class TransientError(AnnotatorCallError):
    def __init__(self, reason: str, detail: str = "", retry_after: float | None = None):
        super().__init__(reason, detail)
        self.retry_after = retry_after


class PermanentError(AnnotatorCallError):
    pass


class AnnotatorUnusable(R1DataError):
    """The profile cannot work at all (refused key, unknown model, bad base URL)."""


class RateLimited(AnnotatorUnusable):
    """Nothing is getting through: every call is refused with 429 past the profile's
    ``max_wait_s``, or the server asks to wait longer than that (the build stops, resumable)."""


# -- media from row values -----------------------------------------------------------------------

_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"),
          (b"RIFF", "image/webp"))


def sniff_mime(data: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            if mime == "image/webp" and data[8:12] != b"WEBP":
                continue
            return mime
    return None


def to_media(value: Any) -> Media:
    """A row's image value as :class:`Media`: PNG/JPEG/GIF/WebP bytes, a ``{"bytes": ...}`` dict
    (the Arrow image struct), a PIL image or an HxW(x3|4) uint8 array (both sent as PNG)."""
    if isinstance(value, Media):
        return value
    if isinstance(value, dict) and "bytes" in value:
        value = value["bytes"]
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        mime = sniff_mime(data)
        if mime is None:
            raise ValueError("image bytes are not PNG, JPEG, GIF or WebP")
        return Media(data, mime)
    if hasattr(value, "save") and hasattr(value, "mode"):       # PIL image
        return Media(_png(value), "image/png")
    if hasattr(value, "shape") and hasattr(value, "dtype"):     # numpy array
        from PIL import Image

        return Media(_png(Image.fromarray(value)), "image/png")
    raise ValueError(f"cannot send a {type(value).__name__} as an image")


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


# -- what went wrong, in words without the key ----------------------------------------------------

def redact(text: str, secret: str | None, limit: int = 300) -> str:
    """``text`` with ``secret`` (an API key) masked and cut to ``limit`` characters.

    Servers echo a refused key in their error messages; nothing we print or store may."""
    if secret:
        text = text.replace(secret, "[redacted]")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) in seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def status_error(status: int, message: str, where: str, key_env: str | None,
                 retry_after: float | None = None, code: str | None = None) -> Exception:
    """The error of an HTTP status: transient (429, 408, 409, 5xx), the profile unusable
    (401, 403, 404, and OpenAI's 429 ``insufficient_quota``: no credit left, which no wait
    cures) or a permanent failure of this record (any other 4xx).

    ``message`` must already be redacted; it is left out for a refused key."""
    if status == 429 and code == "insufficient_quota":
        return RateLimited(f"{where}: rate limited: quota exhausted (insufficient_quota): {message}")
    if status in (408, 409, 429) or status >= 500:
        reason = "rate_limited" if status == 429 else "timeout" if status == 408 else f"http_{status}"
        return TransientError(reason, f"HTTP {status}: {message}", retry_after)
    if status in (401, 403):
        env = f" in ${key_env}" if key_env else ""
        return AnnotatorUnusable(f"{where}: the server refused the API key{env} (HTTP {status})")
    if status == 404:
        return AnnotatorUnusable(f"{where}: not found (HTTP 404): {message}")
    return PermanentError("bad_request", f"HTTP {status}: {message}")
