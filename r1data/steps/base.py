"""The contracts of pipeline steps and sources.

A **step** is a function or a class registered by name; a spec names it and gives its
parameters, which are checked against its signature before anything runs.

* function step: ``fn(rows, ctx, *, param=default, ...) -> Iterable[dict | Reject]``
* class step: ``Cls(ctx, *, param=default, ...)`` then ``obj(rows) -> Iterable[dict | Reject]``

Rows are plain dicts keyed by schema field names; a step may add working keys (a scene
graph, say) that later steps use and the writer ignores. A step drops a row by yielding a
:class:`Reject` with a short reason; the engine writes it to the rejects table with the
step's name. Steps are pure: no step knows which executor runs it or writes files.

A step declared ``stateful=True`` (dedup, balancing) runs in the main process, in order, and
saves its state at each checkpoint with ``save_state(dir) -> dict`` / ``load_state(dir, info)``
so that a resumed build continues exactly.

A **source** is a class ``Cls(ctx, *, param=...)`` with ``read(start) -> Iterator[dict |
Reject]`` yielding items from position ``start`` (the same items in the same order every time)
and optionally ``__len__`` (the number of items, when known). A record it cannot use is a
``Reject`` naming the file and line, never an exception (:mod:`r1data.sourcefiles`).

Provenance: a source (in ``__init__`` or ``read``) or a step calls ``ctx.record_file(path)``
for every file of the dataset it reads; a source reading a folder sets ``root`` to it. The
manifest's ``source_files`` lists them relative to ``root`` with sizes and SHA-256, and the
Hub card shows them.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import ConfigDict, Field, ValidationError, create_model

from r1data.registry import sources as source_registry
from r1data.registry import steps as step_registry


# Parameter types with ranges, for step and source signatures (checked before anything runs)
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


@dataclass
class Reject:
    """A record dropped by a step: it lands in the rejects table with ``reason``."""

    row: dict
    reason: str
    detail: str = ""


class Stats:
    """Counters a build accumulates; merged from workers, saved in checkpoints and manifest."""

    def __init__(self) -> None:
        self.steps: dict[str, dict[str, int]] = {}
        self.reasons: dict[str, dict[str, int]] = {}
        self.verifiers: dict[str, list[int]] = {}
        self.counters: dict[str, float] = {}
        # source files read: absolute path -> [bytes, sha256, kind]; the manifest lists them
        self.files: dict[str, list] = {}

    def step(self, name: str, n_in: int, n_out: int, n_rejected: int, *, expands: bool = False,
             merges: bool = False) -> None:
        """Count one batch through a step. Every record in must come out as a row or a reject:
        a step declared ``expands`` may make more rows than it got (counted as ``expanded``), one
        declared ``merges`` fewer (``merged``); any other difference is ``extra`` or ``missing``,
        which fails the build (see :mod:`r1data.engine.accounting`)."""
        s = self.steps.setdefault(name, {"in": 0, "out": 0, "rejected": 0})
        s["in"] += n_in
        s["out"] += n_out
        s["rejected"] += n_rejected
        delta = n_out + n_rejected - n_in
        if delta > 0 and expands:
            s["expanded"] = s.get("expanded", 0) + delta
        elif delta < 0 and merges:
            s["merged"] = s.get("merged", 0) - delta
        elif delta > 0:
            s["extra"] = s.get("extra", 0) + delta
        elif delta < 0:
            s["missing"] = s.get("missing", 0) - delta

    def _merge_step(self, name: str, other: dict[str, int]) -> None:
        s = self.steps.setdefault(name, {"in": 0, "out": 0, "rejected": 0})
        for key, n in other.items():
            s[key] = s.get(key, 0) + n

    def reject(self, step: str, reason: str, n: int = 1) -> None:
        r = self.reasons.setdefault(step, {})
        r[reason] = r.get(reason, 0) + n

    def verifier(self, name: str, passed: bool) -> None:
        v = self.verifiers.setdefault(name, [0, 0])
        v[0] += int(passed)
        v[1] += 1

    def count(self, key: str, n: float = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def file(self, path: str, size: int, sha256: str, kind: str = "annotation") -> None:
        self.files[path] = [size, sha256, kind]

    def merge(self, other: "Stats") -> None:
        for name, s in other.steps.items():
            self._merge_step(name, s)
        for step, reasons in other.reasons.items():
            for reason, n in reasons.items():
                self.reject(step, reason, n)
        for name, (p, t) in other.verifiers.items():
            v = self.verifiers.setdefault(name, [0, 0])
            v[0] += p
            v[1] += t
        for key, n in other.counters.items():
            self.count(key, n)
        self.files.update(other.files)

    @property
    def rejected(self) -> int:
        return sum(n for r in self.reasons.values() for n in r.values())

    def to_dict(self) -> dict:
        return {"steps": self.steps, "reasons": self.reasons, "verifiers": self.verifiers,
                "counters": self.counters, "files": self.files}

    @classmethod
    def from_dict(cls, d: dict) -> "Stats":
        s = cls()
        s.steps = {k: dict(v) for k, v in d.get("steps", {}).items()}
        s.reasons = {k: dict(v) for k, v in d.get("reasons", {}).items()}
        s.verifiers = {k: list(v) for k, v in d.get("verifiers", {}).items()}
        s.counters = dict(d.get("counters", {}))
        s.files = {k: list(v) for k, v in d.get("files", {}).items()}
        return s


@dataclass
class StepContext:
    """What a step may know about the build: the seed, the corpus, declared assets, stats."""

    seed: int
    corpus: str
    step: str
    assets: Any = None                      # r1data.assets.Assets
    stats: Stats = field(default_factory=Stats)
    output: Path | None = None              # the build's output folder (for caches)
    options: dict = field(default_factory=dict)   # build-wide options (annotator overrides, ...)
    schema: Any = None                      # r1data.schema.RecordSchema of the rows written

    def rng(self, *keys: object) -> np.random.Generator:
        """A generator seeded from the spec seed, this step's name and ``keys`` (a record id).

        The same record gets the same numbers whatever the batch, worker or resume point.
        """
        return record_rng(self.seed, self.step, *keys)

    def record_file(self, path: str | Path, data: bytes | None = None, kind: str = "annotation") -> None:
        """Note that the build read ``path`` (its size and SHA-256; from ``data`` when the
        caller holds the bytes already): the manifest lists every file a corpus was built from.

        ``kind`` is ``annotation`` (question, label and list files) or ``media`` (images,
        scans, videos: many files, summarised on the Hub card). A file that cannot be read
        is not recorded (the record that needed it is rejected anyway).
        """
        from r1data.sourcefiles import file_digest

        key = os.path.abspath(os.fsdecode(path))
        if key in self.stats.files and data is None:
            return
        try:
            size, digest = file_digest(Path(key), data)
        except OSError:
            return
        self.stats.file(key, size, digest, kind)


def record_rng(seed: int, *keys: object) -> np.random.Generator:
    digest = hashlib.blake2b(repr((seed, *keys)).encode(), digest_size=16).digest()
    return np.random.default_rng(np.random.SeedSequence(int.from_bytes(digest, "little")))


# -- definitions ----------------------------------------------------------------------------

@dataclass
class StepDef:
    name: str
    target: Any                     # the function or class
    params_model: Any               # pydantic model of the parameters
    stateful: bool = False
    doc: str = ""
    expands: bool = False           # may make several rows from one record
    merges: bool = False            # may fold several records into one row
    # fields the step adds to every row it keeps: {name: type or {type, description}}; a spec
    # using the step gets them appended to its schema (see r1data.spec.load_spec)
    adds_fields: dict = field(default_factory=dict)

    @property
    def is_class(self) -> bool:
        return inspect.isclass(self.target)

    def make(self, ctx: StepContext, params: dict) -> Callable[[list[dict]], Iterable[Any]]:
        """Instantiate with validated params: returns ``rows -> Iterable[dict | Reject]``."""
        if self.is_class:
            return self.target(ctx, **params)
        fn = self.target
        return lambda rows: fn(rows, ctx, **params)


def params_model(target: Any, name: str, skip: int) -> Any:
    """A pydantic model of a callable's parameters after the first ``skip`` positional ones."""
    func = target.__init__ if inspect.isclass(target) else target
    sig = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func, include_extras=True)   # keep Annotated[..., Field(ge=1)]
    except Exception:
        hints = {}
    fields: dict[str, Any] = {}
    params = list(sig.parameters.values())
    if inspect.isclass(target):
        params = params[1:]  # self
    for p in params[skip:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = hints.get(p.name, Any)
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (ann, default)
    return create_model(f"{name}_params", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
                        **fields)


def step(name: str | None = None, *, stateful: bool = False, expands: bool = False,
         merges: bool = False, adds_fields: dict | None = None) -> Callable[[Any], Any]:
    """Register a step. The name defaults to the function's name (snake_case by convention).

    The engine checks that every record a step receives comes out as a row or a
    :class:`Reject`. A step that makes several rows from one record (questions from a scene,
    positions from a game, rollouts from a prompt) declares ``expands=True``; one that folds
    several records into one row declares ``merges=True``. Give parameters their ranges in the
    signature (``per_scene: PositiveInt = 8``): ``r1data validate`` then reports a bad value.

    ``adds_fields`` declares the fields the step writes into every row it keeps (``{name: type}``
    or ``{name: {type, description}}``, in the schema language); a spec using the step has them
    appended to its schema, so the step can end any pipeline without a schema of its own."""

    def deco(target: Any) -> Any:
        sname = name or target.__name__
        model = params_model(target, sname, skip=1 if inspect.isclass(target) else 2)
        step_registry.register(sname, StepDef(sname, target, model, stateful,
                                              inspect.getdoc(target) or "", expands, merges,
                                              dict(adds_fields or {})))
        return target

    return deco


@dataclass
class SourceDef:
    name: str
    target: Any
    params_model: Any
    doc: str = ""

    def make(self, ctx: StepContext, params: dict) -> "Source":
        return self.target(ctx, **params)


class Source:
    """Base class of sources (see the module docstring)."""

    takes_dir: ClassVar[bool] = False   # True when the source reads ``dir`` (--source-dir)
    # the folder the source reads (set by sources that read one): the manifest lists the files
    # read relative to it
    root: Path | None = None

    def read(self, start: int = 0) -> Iterator[dict | Reject]:  # pragma: no cover - abstract
        raise NotImplementedError


def source(name: str | None = None) -> Callable[[Any], Any]:
    """Register a source class under ``name``."""

    def deco(target: Any) -> Any:
        sname = name or target.__name__
        model = params_model(target, sname, skip=1)
        source_registry.register(sname, SourceDef(sname, target, model, inspect.getdoc(target) or ""))
        return target

    return deco


def validate_params(model: Any, params: dict) -> tuple[dict | None, ValidationError | None]:
    """Check params against a step's signature; returns the values with defaults filled."""
    try:
        inst = model(**params)
    except ValidationError as e:
        return None, e
    return {k: getattr(inst, k) for k in type(inst).model_fields}, None


class RecordError(ValueError):
    """A record that cannot be used: ``reason`` is its short rejects-table key, ``detail`` says
    why. Readers and steps raise a subclass deep in their helpers and turn it into
    ``Reject(row, e.reason, e.detail)`` where the row is known."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
