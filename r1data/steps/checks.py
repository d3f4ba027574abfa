"""``verify`` and ``filter``: run named checks on each row, reject the rows that fail.

A check is a function ``check(row, **params) -> bool | tuple[bool, str]`` registered with
``@verifier("name")`` (correctness: format, answer against ground truth, ids, geometry) or
``@filter_rule("name")`` (quality: length, number of reasoning steps). Every check runs on
every row, so each one's pass rate is measured on its own and lands in the manifest; a row
failing several is rejected with the first failure as its reason and all in the detail.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from r1data.deadline import CallTimeout, call_with_limit
from r1data.errors import UsageError
from r1data.parsing import parse_think_answer, words
from r1data.registry import Registry
from r1data.registry import filters as filter_registry
from r1data.registry import verifiers as verifier_registry
from r1data.steps.base import PositiveFloat, Reject, StepContext, step

Check = Callable[..., "bool | tuple[bool, str]"]


def verifier(name: str | None = None) -> Callable[[Check], Check]:
    """Register a verifier: ``fn(row, **params) -> bool | tuple[bool, str]``."""
    return verifier_registry(name)


def filter_rule(name: str | None = None) -> Callable[[Check], Check]:
    """Register a filter rule: ``fn(row, **params) -> bool | tuple[bool, str]``."""
    return filter_registry(name)


class CheckSpec(BaseModel):
    """``name`` or ``{verifier|rule: name, ...params}`` in a spec."""

    model_config = ConfigDict(extra="allow")


def _bind(entries: list[Any], registry: Registry, key: str, schema: Any = None) -> list[tuple[str, Check]]:
    """The named checks with their parameters; a check taking ``schema`` gets the build's
    record schema (``in_frame`` reads the sizes and frames it declares)."""
    import inspect

    bound = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            name, params = entry, {}
        elif isinstance(entry, dict) and key in entry:
            params = {k: v for k, v in entry.items() if k != key}
            name = entry[key]
        else:
            raise UsageError(f"{key}s[{i}]: expected a name or a mapping with {key!r}, got {entry!r}")
        fn = registry.get(name, where=f"{key}s[{i}]")
        if "schema" in inspect.signature(fn).parameters and "schema" not in params:
            params = {**params, "schema": schema}
        if params:
            sig = inspect.signature(fn)
            try:
                sig.bind(None, **params)
            except TypeError as e:
                raise UsageError(f"{key}s[{i}] ({name}): {e}") from None
            fn = functools.partial(fn, **params)
        bound.append((str(name), fn))
    return bound


def _run_checks(rows: list[dict], checks: list[tuple[str, Check]], ctx: StepContext,
                prefix: str, timeout_s: float | None) -> Iterator[dict | Reject]:
    for row in rows:
        failures: list[tuple[str, str]] = []
        faults: list[tuple[str, str, str]] = []       # (reason, check, detail): never a silent pass or fail
        for name, fn in checks:
            try:
                result = call_with_limit(fn, timeout_s, row)
            except CallTimeout:
                ctx.stats.count(f"verifier_timeouts:{prefix}{name}")
                faults.append(("timeout", name, f"no result within {timeout_s:g} s"))
                continue
            except Exception as e:
                ctx.stats.count(f"verifier_errors:{prefix}{name}")
                faults.append(("verifier_error", name, f"{type(e).__name__}: {e}"))
                continue
            ok, detail = _outcome(result)
            if ok is None:
                ctx.stats.count(f"verifier_errors:{prefix}{name}")
                faults.append(("verifier_error", name, detail))
                continue
            ctx.stats.verifier(prefix + name, ok)
            if not ok:
                failures.append((name, detail))
        if faults:
            detail = "; ".join(f"{n}: {d}" for _, n, d in faults + [("", n, d or "failed") for n, d in failures])
            yield Reject(row, faults[0][0], detail)
        elif failures:
            detail = "; ".join(f"{n}: {d}" if d else n for n, d in failures)
            yield Reject(row, failures[0][0], detail)
        else:
            yield row


def _outcome(result: Any) -> tuple[bool | None, str]:
    """``(passed, detail)`` from what a check returned; ``(None, why)`` for anything that is not
    a bool or ``(bool, str)`` (a check that forgot to return is a fault, not a failure)."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], (bool, np.bool_)):
        return bool(result[0]), str(result[1] or "")
    if isinstance(result, (bool, np.bool_)):
        return bool(result), ""
    return None, f"returned {type(result).__name__} {result!r:.60}, expected true/false or (bool, detail)"


@step("verify")
class Verify:
    """Check each row with the named verifiers; reject the rows that fail any.

    A verifier that raises rejects the row with reason ``verifier_error``, one that runs past
    ``timeout_s`` seconds with reason ``timeout`` (the detail names it and says why); such a
    row never counts as passed or failed in the verifier's pass rate."""

    def __init__(self, ctx: StepContext, *, verifiers: list[Any], timeout_s: PositiveFloat = 30.0):
        self.ctx = ctx
        self.checks = _bind(verifiers, verifier_registry, "verifier", ctx.schema)
        self.timeout_s = timeout_s

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        return _run_checks(rows, self.checks, self.ctx, "", self.timeout_s)


@step("filter")
class Filter:
    """Keep the rows that pass every named quality rule (a rule that raises or runs past
    ``timeout_s``: ``verifier_error`` / ``timeout``, as for ``verify``)."""

    def __init__(self, ctx: StepContext, *, rules: list[Any], timeout_s: PositiveFloat = 30.0):
        self.ctx = ctx
        self.checks = _bind(rules, filter_registry, "rule", ctx.schema)
        self.timeout_s = timeout_s

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        return _run_checks(rows, self.checks, self.ctx, "filter.", self.timeout_s)


# -- generic checks ---------------------------------------------------------------------------

def _text(row: dict, field: str, part: str | None) -> str:
    text = row.get(field) or ""
    if part in ("think", "answer"):
        parsed = parse_think_answer(text)
        text = (parsed.think if part == "think" else parsed.answer) or ""
    return text


@verifier("think_answer_format")
def think_answer_format(row: dict, field: str = "cot") -> bool | tuple[bool, str]:
    """The text is exactly ``<think>...</think><answer>...</answer>`` with both parts non-empty."""
    parsed = parse_think_answer(row.get(field))
    if not parsed.strict:
        return False, f"{field} is not <think>...</think><answer>...</answer>"
    if not parsed.think or not parsed.answer:
        return False, f"{field} has an empty {'think' if not parsed.think else 'answer'}"
    return True


@verifier("in_frame")
def in_frame(row: dict, schema: Any = None) -> bool | tuple[bool, str]:
    """Every image has the size the row declares for it, and every box, point and mask lies in
    the frame its field declares (``size`` and ``frame`` in the schema: :mod:`r1data.frames`)."""
    from r1data.frames import check_row

    if schema is None:
        return False, "no record schema to read the frames from"
    return check_row(row, schema)


@filter_rule("min_words")
def min_words(row: dict, field: str = "cot", part: str | None = None, min: int = 1) -> bool | tuple[bool, str]:
    """At least ``min`` words in ``field`` (or its ``think``/``answer`` part)."""
    n = len(words(_text(row, field, part)))
    return (True, "") if n >= min else (False, f"{n} words < {min}")


_CUES = ("step", "first", "firstly", "second", "third", "next", "then", "afterward",
         "afterwards", "finally", "last", "conclusion")


@filter_rule("step_cues")
def step_cues(row: dict, field: str = "cot", min: int = 3, question_field: str | None = "question",
              final_step_refers_to_question: bool = True) -> bool | tuple[bool, str]:
    """3D-R1's multi-step check: at least ``min`` step cues (First, Next, Then, Finally, Step N...)
    in the reasoning, and the text after the last cue mentions a word of the question."""
    import re

    think = _text(row, field, "think")
    pattern = re.compile(r"\b((?:Step\s*\d+)|" + "|".join(c for c in _CUES if c != "step") + r")\b", re.I)
    matches = list(pattern.finditer(think))
    if len(matches) < min:
        return False, f"{len(matches)} step cues < {min}"
    if final_step_refers_to_question and question_field:
        tail = think[matches[-1].end():].lower()
        qwords = {w.lower() for w in words(row.get(question_field)) if len(w) >= 3}
        if qwords and not any(re.search(rf"\b{re.escape(w)}\b", tail) for w in qwords):
            return False, "the final step mentions no word of the question"
    return True
