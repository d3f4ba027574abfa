"""The response cache: every answer an API gave, addressed by what was asked.

The key is a SHA-256 over the provider, the model, the sampling parameters, every message's
text, every attached image's SHA-256 and, for sample k > 0 of a rollout, k
(:func:`request_key`), so the same prompt about
the same images is never paid for twice: not by a rerun, a resumed build, another output
folder or another corpus. ``--refresh`` skips the lookups (answers are still stored).

Storage is one SQLite file in WAL mode, shared by the worker processes of a build. Each
answer is one committed transaction: a ``kill -9`` loses at most the answers in flight,
never the file (SQLite's journal makes every commit atomic; ``synchronous=NORMAL`` in WAL
mode is durable across a process crash, only a power cut may lose the last commits).
API keys are never part of a key or a value.

Location: ``$R1DATA_CACHE_DIR/annotations.sqlite``, else
``$XDG_CACHE_HOME/r1data/annotations.sqlite`` (``~/.cache/r1data/...``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from r1data.annotators.request import AnnotationRequest, AnnotationResponse
from r1data.sqlitedb import connect_shared

CACHE_FILE = "annotations.sqlite"


def default_cache_dir() -> Path:
    """Where the response cache lives (see the module docstring)."""
    if os.environ.get("R1DATA_CACHE_DIR"):
        return Path(os.environ["R1DATA_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "r1data"


def request_key(provider: str, model: str, request: AnnotationRequest) -> str:
    """The content address of a request: what determines the answer, nothing else."""
    messages = [{"role": m.role,
                 "parts": [p if isinstance(p, str) else {"media": p.mime_type, "sha256": p.sha256}
                           for p in m.parts]}
                for m in request.messages]
    identity = {"provider": provider, "model": model, "temperature": request.temperature,
                "max_output_tokens": request.max_output_tokens,
                "response_schema": request.response_schema, "messages": messages}
    if request.sample:      # only when set: the keys of every earlier answer stay valid
        identity["sample"] = request.sample
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """Answers by request key in one SQLite file; safe to share between processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db = connect_shared(self.path, "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, "
                                 "provider TEXT, model TEXT, response TEXT NOT NULL, created REAL)")

    @classmethod
    def default(cls) -> "ResponseCache":
        return cls(default_cache_dir() / CACHE_FILE)

    def get(self, key: str) -> AnnotationResponse | None:
        row = self.db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[0])
        return AnnotationResponse(text=data["text"], tokens_in=data.get("tokens_in", 0),
                                  tokens_out=data.get("tokens_out", 0), latency_s=data.get("latency_s", 0.0),
                                  finish_reason=data.get("finish_reason", ""), model=data.get("model", ""),
                                  cached=True)

    def put(self, key: str, provider: str, response: AnnotationResponse) -> None:
        data = {"text": response.text, "tokens_in": response.tokens_in, "tokens_out": response.tokens_out,
                "latency_s": round(response.latency_s, 4), "finish_reason": response.finish_reason,
                "model": response.model}
        self.db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                        (key, provider, response.model, json.dumps(data, ensure_ascii=False), time.time()))

    def __len__(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM responses").fetchone()[0])

    def check(self) -> str:
        """SQLite's integrity check: ``"ok"`` for a sound file."""
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        self.db.close()

