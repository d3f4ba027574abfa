"""The batch journal: what a build has submitted to a provider's batch API, durably.

``OUT/.r1data/batches/journal.jsonl`` holds one JSON event per line, appended and fsync'd
before the next step is taken, so a build killed at any moment knows on its next run what it
has already paid for:

* ``submitting`` (written BEFORE the provider is asked): the batch's tag (also sent to the
  provider, as OpenAI metadata or Gemini display name), its step, provider and request keys,
  and its estimated cost;
* ``submitted`` (AFTER the provider answered): the provider's batch id;
* ``abandoned``: a ``submitting`` batch that never reached the provider (looked up by its
  tag after a kill and not found), so its requests may go again;
* ``collected``: the batch's outcome once it ended: the keys answered (their answers are in
  the response cache), the keys to send again (expired, cancelled, 429/5xx) with the reason,
  the keys failed for good with reason and detail, and the tokens and dollars it cost.

A kill in the middle of an append leaves a torn last line, which is ignored. Request keys
are content hashes (:func:`r1data.annotators.cache.request_key`): no prompt, image or API key
is ever written here.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNAL = "journal.jsonl"


@dataclass
class JournalBatch:
    tag: str
    step: str
    provider: str
    keys: list[str]
    estimate_usd: float = 0.0
    t: float = 0.0
    id: str | None = None
    abandoned: bool = False
    collected: dict | None = None

    @property
    def in_flight(self) -> bool:
        """Submitted (or perhaps submitted) and not yet collected."""
        return not self.abandoned and self.collected is None


@dataclass
class Journal:
    """The events of one build's batches, replayed into their current state."""

    folder: Path
    batches: dict[str, JournalBatch] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)              # key -> times sent back
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (reason, detail)
    answered: set[str] = field(default_factory=set)                    # keys this build got answers for

    @classmethod
    def open(cls, folder: Path) -> "Journal":
        journal = cls(Path(folder))
        path = journal.path
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:       # a torn last line: the append never finished
                    continue
                journal._replay(event)
        return journal

    @property
    def path(self) -> Path:
        return self.folder / JOURNAL

    def _replay(self, e: dict[str, Any]) -> None:
        kind = e.get("event")
        if kind == "submitting":
            self.batches[e["tag"]] = JournalBatch(e["tag"], e["step"], e["provider"], list(e["keys"]),
                                                  float(e.get("estimate_usd", 0.0)), float(e.get("t", 0.0)))
            return
        batch = self.batches.get(e.get("tag", ""))
        if batch is None:
            return
        if kind == "submitted":
            batch.id = e["id"]
        elif kind == "abandoned":
            batch.abandoned = True
        elif kind == "collected":
            batch.collected = e
            self.answered.update(e.get("ok", []))
            for key in e.get("retry", {}):
                self.attempts[key] = self.attempts.get(key, 0) + 1
            for key, (reason, detail) in e.get("failed", {}).items():
                self.failures[key] = (reason, detail)

    def append(self, event: dict[str, Any]) -> None:
        """Write one event durably (fsync'd), then apply it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        line = json.dumps(event, separators=(",", ":"), ensure_ascii=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self._replay(event)

    # -- the events ---------------------------------------------------------------------------
    def submitting(self, tag: str, step: str, provider: str, keys: list[str], estimate_usd: float) -> None:
        self.append({"event": "submitting", "tag": tag, "step": step, "provider": provider, "keys": keys,
                     "estimate_usd": round(estimate_usd, 6), "t": time.time()})

    def submitted(self, tag: str, batch_id: str) -> None:
        self.append({"event": "submitted", "tag": tag, "id": batch_id})

    def abandoned(self, tag: str) -> None:
        self.append({"event": "abandoned", "tag": tag})

    def collected(self, tag: str, status: str, ok: list[str], retry: dict[str, str],
                  failed: dict[str, tuple[str, str]], tokens_in: int, tokens_out: int, cost_usd: float) -> None:
        self.append({"event": "collected", "tag": tag, "status": status, "ok": ok, "retry": retry,
                     "failed": {k: list(v) for k, v in failed.items()}, "tokens_in": tokens_in,
                     "tokens_out": tokens_out, "cost_usd": round(cost_usd, 8)})

    # -- what it says ---------------------------------------------------------------------------
    def in_flight(self) -> list[JournalBatch]:
        return [b for b in self.batches.values() if b.in_flight]

    def in_flight_keys(self) -> set[str]:
        return {k for b in self.in_flight() for k in b.keys}

    def totals(self) -> dict[str, dict[str, float]]:
        """Per step: batches, requests, tokens and dollars of the collected batches."""
        out: dict[str, dict[str, float]] = {}
        for b in self.batches.values():
            if b.abandoned:
                continue
            t = out.setdefault(b.step, {"batches": 0, "batch_requests": 0, "tokens_in_batch": 0,
                                        "tokens_out_batch": 0, "cost_usd_batch": 0.0})
            t["batches"] += 1
            t["batch_requests"] += len(b.keys)
            if b.collected is not None:
                t["tokens_in_batch"] += b.collected.get("tokens_in", 0)
                t["tokens_out_batch"] += b.collected.get("tokens_out", 0)
                t["cost_usd_batch"] += b.collected.get("cost_usd", 0.0)
        return out


def read_failures(output: Path | None) -> dict[str, tuple[str, str]]:
    """The requests a build's batches failed for good (key -> reason, detail), for its steps."""
    if output is None:
        return {}
    folder = Path(output) / ".r1data" / "batches"
    return Journal.open(folder).failures if (folder / JOURNAL).exists() else {}
