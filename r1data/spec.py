"""Pipeline specs: ``pipelines/NAME.yaml`` parsed once, at the edge, into typed objects.

A spec declares one corpus top to bottom: its schema, seed and default size, the sources it
can read (one is the default, others are picked with ``--source``), the ordered steps with
their parameters, and the output layout. Every step and source named is looked up in the
registries and its parameters are checked against its signature before anything runs, so
a typo fails at once with the file, line, key and what was expected.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from r1data.assets import Assets
from r1data.errors import SpecError, UnknownNameError, UsageError
from r1data.registry import sources as source_registry
from r1data.registry import steps as step_registry
from r1data.schema import RecordSchema, load_schema
from r1data.steps.base import SourceDef, StepDef, validate_params
from r1data.yamlio import LineMap, Problems, load_yaml, pydantic_problems


class StepSpec(BaseModel):
    """``- step: NAME`` followed by the step's parameters."""

    model_config = ConfigDict(extra="allow")
    step: str

    @property
    def params(self) -> dict:
        return dict(self.model_extra or {})


class SourceSpec(BaseModel):
    """``NAME: {reader: REGISTERED_SOURCE, ...params}``."""

    model_config = ConfigDict(extra="allow")
    reader: str

    @property
    def params(self) -> dict:
        return dict(self.model_extra or {})


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shard_size_mb: float = Field(256.0, gt=0, description="target size of one shard")
    batch_size: int = Field(32, gt=0, description="source items per engine batch")


class RewardSpec(BaseModel):
    """``- reward: NAME`` (a name from ``r1data.rewards.names()``), its weight in GRPO and its
    parameters (thresholds...; the paper's values are the reward's defaults)."""

    model_config = ConfigDict(extra="forbid")
    reward: str
    weight: float = 1.0
    params: dict[str, Any] = Field(default_factory=dict)


class PipelineSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str
    description: str = ""
    paper: str = ""
    license: str = "cc-by-4.0"
    schema_name: str = Field(alias="schema")
    seed: int = 0
    size: int | None = Field(1000, gt=0)
    source: str
    sources: dict[str, SourceSpec]
    steps: list[StepSpec]
    output: OutputSpec = OutputSpec()
    card: dict[str, Any] = Field(default_factory=dict)
    # The corpus's verifiable rewards, used by `r1data eval` and `r1data train` (GRPO).
    rewards: list[RewardSpec] = Field(default_factory=list)


@dataclass
class BoundStep:
    """A step of a resolved spec: its definition and validated parameters."""

    index: int
    name: str
    definition: StepDef
    params: dict

    @property
    def stateful(self) -> bool:
        return self.definition.stateful


@dataclass
class ResolvedSpec:
    """A spec whose names are resolved and whose parameters are checked."""

    spec: PipelineSpec
    file: Path
    schema: RecordSchema
    source_name: str
    source_def: SourceDef
    source_params: dict
    steps: list[BoundStep]
    assets: Assets
    lines: LineMap = field(default_factory=LineMap)

    @property
    def name(self) -> str:
        return self.spec.name

    def canonical(self, size: int | None, seed: int) -> dict:
        """What determines the rows: the hash of this is the build's identity."""
        return {
            "corpus": self.spec.name,
            "schema": self.schema.to_dict(),
            "seed": seed,
            "size": size,
            "source": {"name": self.source_name, "reader": self.source_def.name,
                       "params": _jsonable(self.source_params)},
            "steps": [{"step": s.name, "params": _jsonable(s.params)} for s in self.steps],
            "output": self.spec.output.model_dump(),
        }

    def hash(self, size: int | None, seed: int) -> str:
        text = json.dumps(self.canonical(size, seed), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def load_spec(name_or_path: str | Path, assets: Assets | None = None, *,
              source: str | None = None, source_dir: str | Path | None = None,
              source_params: dict | None = None) -> ResolvedSpec:
    """Load, resolve and check a spec given by name (``scene30k``) or path.

    ``source`` picks one of the spec's ``sources`` instead of its default; ``source_dir`` is
    given to that source as its ``dir`` parameter; ``source_params`` override the source's
    parameters (``--source-param split=val``).
    """
    overrides = dict(source_params or {})   # the name is reused below for the resolved values
    assets = assets or Assets.from_workspace()
    path = assets.resolve("pipelines", name_or_path)
    data, lines = load_yaml(path)
    file = str(path)
    if not isinstance(data, dict):
        raise SpecError(file, "", "a mapping (name, schema, source, sources, steps, ...)",
                        got=type(data).__name__)
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as e:
        problems = pydantic_problems(e, file, lines)
        from r1data.yamlio import raise_problems

        raise_problems(file, problems)
        raise AssertionError("unreachable")
    problems = Problems(file, lines)   # problems(loc, expected, got) records one

    # schema: a name in schemas/ or a path relative to the spec
    schema = None
    try:
        schema_path = assets.resolve("schemas", spec.schema_name, relative_to=path.parent)
        schema = load_schema(schema_path)
    except UnknownNameError as e:
        problems(("schema",), f"a schema in schemas/ ({e.message.split('(', 1)[-1].rstrip(')')})",
                spec.schema_name)
    except SpecError as e:
        problems.extend(e.problems)

    # source
    source_name = source or spec.source
    source_def = None
    source_params: dict = {}
    if source_name not in spec.sources:
        loc = ("source",) if source is None else ()
        known = ", ".join(spec.sources) or "none"
        if source is None:
            problems(loc, f"expected one of the names under 'sources' ({known})", source_name)
        else:
            raise UsageError(f"--source {source}: {file} declares no such source (known: {known})")
    else:
        sspec = spec.sources[source_name]
        loc = ("sources", source_name)
        try:
            source_def = source_registry.get(sspec.reader)
        except UnknownNameError as e:
            problems((*loc, "reader"), e.message)
        else:
            fields = source_def.params_model.model_fields
            unknown = sorted(set(overrides) - set(fields))
            if unknown:
                raise UsageError(f"--source-param {unknown[0]}: source {source_name!r} ({sspec.reader}) has no such "
                                 f"parameter (it has: {', '.join(k for k in fields if k != 'dir')})")
            params = {**sspec.params, **overrides}
            if source_dir is not None:
                if "dir" not in source_def.params_model.model_fields:
                    raise UsageError(f"--source-dir: source {source_name!r} ({sspec.reader}) "
                                     "does not read a directory")
                params["dir"] = str(source_dir)
            values, err = validate_params(source_def.params_model, params)
            if err is not None:
                for key, expected, got, line in pydantic_problems(err, file, lines, prefix=loc):
                    if key.endswith(".dir") and expected == "required key is missing":
                        expected = f"a directory: pass --source-dir DIR for source {source_name!r}"
                    problems(tuple(_split_key(key)), expected, got)
            else:
                source_params = values

    # steps
    bound: list[BoundStep] = []
    for i, sspec in enumerate(spec.steps):
        loc = ("steps", i)
        try:
            sdef = step_registry.get(sspec.step)
        except UnknownNameError as e:
            problems((*loc, "step"), e.message)
            continue
        values, err = validate_params(sdef.params_model, sspec.params)
        if err is not None:
            for key, expected, got, line in pydantic_problems(err, file, lines, prefix=loc):
                problems(tuple(_split_key(key)), expected, got)
            continue
        bound.append(BoundStep(i, sspec.step, sdef, values))
    seen = set()
    for b in bound:
        if b.name in seen and b.stateful:
            problems(("steps", b.index, "step"), f"stateful step {b.name!r} may appear once")
        seen.add(b.name)

    if problems:
        raise SpecError.from_problems(file, problems)
    assert schema is not None and source_def is not None
    return ResolvedSpec(spec=spec, file=path, schema=schema, source_name=source_name,
                        source_def=source_def, source_params=source_params, steps=bound,
                        assets=assets, lines=lines)


def _split_key(key: str) -> list:
    """Inverse of key_path for line lookups: ``steps[2].min`` -> ["steps", 2, "min"]."""
    out: list = []
    for part in key.replace("]", "").replace("[", ".").split("."):
        if part == "":
            continue
        out.append(int(part) if part.isdigit() else part)
    return out
