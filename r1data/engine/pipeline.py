"""Run a contiguous range of a spec's steps over batches of rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1data.errors import MissingExtraError, R1DataError, SpecError, UsageError
from r1data.spec import BoundStep, ResolvedSpec
from r1data.steps.base import Reject, StepContext, Stats

# a step that raises on this many rows in a row, and has never succeeded, is broken
# (a bug or a misconfiguration), not fed bad records: stop the build and say so
FAIL_FAST_AFTER = 32


@dataclass
class BatchResult:
    start: int                       # source position of the batch's first item
    end: int                         # source position after its last item
    rows: list[dict]
    rejects: list[tuple[str, Reject]] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)


class StepRunner:
    """Instantiates steps with their parameters and applies them in order to a batch."""

    def __init__(self, resolved: ResolvedSpec, steps: list[BoundStep], *, seed: int,
                 output: Path | None = None, options: dict | None = None, debug: bool = False,
                 problems: list[str] | None = None):
        """Make each step; a step that refuses its parameters is a :class:`SpecError` naming it,
        or, when ``problems`` is a list, one more entry there (``r1data validate`` shows all)."""
        self.stats = Stats()
        self.debug = debug
        self.bound: list[tuple[BoundStep, Any]] = []
        self._errors: dict[str, int] = {}
        self._successes: dict[str, int] = {}
        for b in steps:
            ctx = StepContext(seed=seed, corpus=resolved.name, step=b.name, assets=resolved.assets,
                              stats=self.stats, output=output, options=dict(options or {}),
                              schema=resolved.schema)
            try:
                fn = b.definition.make(ctx, b.params)
            except UsageError as e:
                loc = ("steps", b.index)
                err = SpecError(str(resolved.file), f"steps[{b.index}] ({b.name})", e.message,
                                line=resolved.lines.line(loc))
                if problems is None:
                    raise err from None
                problems.extend(err.problems)
                continue
            self.bound.append((b, fn))

    def run(self, rows: list[dict]) -> tuple[list[dict], list[tuple[str, Reject]]]:
        rejects: list[tuple[str, Reject]] = []
        for b, fn in self.bound:
            if not rows:
                break
            out = self._apply(b, fn, rows)
            kept, dropped = partition(out)
            d = b.definition
            self.stats.step(b.label, len(rows), len(kept), len(dropped), expands=d.expands, merges=d.merges)
            for rj in dropped:
                self.stats.reject(b.name, rj.reason)
                rejects.append((b.name, rj))
            rows = kept
        return rows, rejects

    def _apply(self, b: BoundStep, fn: Any, rows: list[dict]) -> list:
        try:
            out = list(fn(rows))
            self._successes[b.name] = self._successes.get(b.name, 0) + 1
            return out
        except R1DataError:
            raise
        except ModuleNotFoundError as e:    # an extra not installed: no record is to blame
            if self.debug:
                raise
            raise MissingExtraError.of(e) from e
        except Exception:
            if b.stateful or self.debug:
                raise
        # one bad record must not sink the batch: find it, reject it with the error
        out: list = []
        for row in rows:
            try:
                out.extend(fn([row]))
                self._successes[b.name] = self._successes.get(b.name, 0) + 1
            except R1DataError:
                raise
            except Exception as e:
                n = self._errors[b.name] = self._errors.get(b.name, 0) + 1
                if n >= FAIL_FAST_AFTER and not self._successes.get(b.name):
                    raise R1DataError(f"step {b.name!r} failed on the first {n} records "
                                      f"({type(e).__name__}: {e}); rerun with --debug for the traceback") from e
                out.append(Reject(row, "error", f"{type(e).__name__}: {e}"))
        return out

    def take_stats(self) -> Stats:
        stats = Stats()
        stats.merge(self.stats)
        # reset in place: the steps' contexts hold this object
        self.stats.__init__()
        return stats

    def stateful_steps(self) -> list[tuple[BoundStep, Any]]:
        return [(b, fn) for b, fn in self.bound if b.stateful]


def partition(items: list) -> tuple[list, list]:
    """Split a step's output into rows and Rejects (one pass; no copy when nothing is rejected)."""
    dropped = [r for r in items if r.__class__ is Reject]
    if not dropped:
        return items, dropped
    return [r for r in items if r.__class__ is not Reject], dropped


# -- rejects -------------------------------------------------------------------------------

def record_json(row: dict, limit: int = 65536) -> str:
    """A JSON view of a rejected record: binary payloads summarised, big values cut.

    Always valid UTF-8: a lone surrogate (a non-UTF-8 file name decoded by Python, a bad
    ``\\ud800`` escape in the input) is written as its JSON escape."""
    text = json.dumps({str(k): _summarise(v) for k, v in row.items()}, ensure_ascii=False, default=str)
    text = utf8_safe(text)
    return text if len(text) <= limit else text[: limit - 20] + "...(truncated)"


def utf8_safe(text: str | None) -> str | None:
    """``text`` with each lone surrogate replaced by its ``\\uXXXX`` escape (Arrow strings are
    UTF-8, which cannot hold one); unchanged, and fast, for ordinary text."""
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _summarise(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value if not isinstance(value, str) or len(value) < 4000 else value[:4000] + "..."
    if isinstance(value, (bytes, bytearray, memoryview)):
        import hashlib

        return {"bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()[:16]}
    if depth > 4:
        return repr(value)[:200]
    if isinstance(value, dict):
        if "bytes" in value and isinstance(value.get("bytes"), (bytes, bytearray)):
            return {"image": _summarise(value["bytes"], depth + 1), "path": value.get("path")}
        return {str(k): _summarise(v, depth + 1) for k, v in list(value.items())[:100]}
    if isinstance(value, (list, tuple)):
        items = [_summarise(v, depth + 1) for v in value[:50]]
        if len(value) > 50:
            items.append(f"... {len(value) - 50} more")
        return items
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        try:
            return _summarise(to_dict(), depth + 1)
        except Exception:
            pass
    shape = getattr(value, "shape", None)
    if shape is not None:
        return {"array": list(shape), "dtype": str(getattr(value, "dtype", getattr(value, "mode", "")))}
    size = getattr(value, "size", None)
    if size is not None and hasattr(value, "mode"):
        return {"image": list(size), "mode": value.mode}
    return repr(value)[:500]
