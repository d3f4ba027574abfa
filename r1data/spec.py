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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from r1data.assets import Assets
from r1data.errors import SpecError, UnknownNameError, UsageError
from r1data.registry import sources as source_registry
from r1data.registry import steps as step_registry
from r1data.schema import Field as SchemaField
from r1data.schema import RecordSchema, load_schema, parse_type
from r1data.steps.base import SourceDef, StepDef, validate_params
from r1data.yamlio import LineMap, Problems, load_yaml, pydantic_problems


# A corpus, source or split name becomes part of a path (out/NAME, data/SPLIT-00000.arrow): plain
# names only, so that no spec can send a build outside its folder.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
NAME_EXPECTED = "a plain name: letters, digits, '_' and '-' (no '/', '.' or spaces)"


def plain_name(value: str) -> str:
    """``value`` if it is a plain name (see :data:`NAME_RE`), else a ValueError saying so."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise ValueError(NAME_EXPECTED)
    return value


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
    parameters (thresholds...; the paper's values are the reward's defaults). ``accuracy: true``
    marks the reward that says whether an answer is right (a rollout's pass rate counts it)."""

    model_config = ConfigDict(extra="forbid")
    reward: str
    weight: float = 1.0
    params: dict[str, Any] = Field(default_factory=dict)
    accuracy: bool = False


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
    # Stop a build whose yield so far says the size needs more than this many times `size`
    # source records (docs/reliability.md); --max-read-multiple overrides it.
    max_read_multiple: float = Field(20.0, gt=0)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        return plain_name(v)

    @field_validator("sources")
    @classmethod
    def _plain_source_names(cls, v: dict) -> dict:
        for key in v:
            plain_name(key)
        return v


@dataclass
class BoundStep:
    """A step of a resolved spec: its definition and validated parameters."""

    index: int
    name: str
    definition: StepDef
    params: dict
    label: str = ""     # the name, or ``name[index]`` when the spec uses the step twice

    def __post_init__(self) -> None:
        self.label = self.label or self.name

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
    problems = Problems(file, lines)   # problems(loc, expected, got) records one
    # every problem at once: the top level, then each part that can be read on its own
    spec: PipelineSpec | None = None
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as e:
        for key, expected, got, line in pydantic_problems(e, file, lines):
            problems(tuple(_split_key(key)), expected, got)

    # schema: a name in schemas/ or a path relative to the spec
    schema = None
    schema_name = data.get("schema")
    if isinstance(schema_name, str):
        try:
            schema_path = assets.resolve("schemas", schema_name, relative_to=path.parent)
            schema = load_schema(schema_path)
        except UnknownNameError as e:
            problems(("schema",), f"a schema in schemas/ ({e.message.split('(', 1)[-1].rstrip(')')})",
                     schema_name)
        except SpecError as e:
            problems.extend(e.problems)

    # source
    raw_sources = data.get("sources") if isinstance(data.get("sources"), dict) else {}
    source_name = source or data.get("source")
    source_def = None
    source_params: dict = {}
    if not isinstance(source_name, str) or source_name not in raw_sources:
        known = ", ".join(map(str, raw_sources)) or "none"
        if source is not None:
            raise UsageError(f"--source {source}: {file} declares no such source (known: {known})")
        if isinstance(source_name, str):
            problems(("source",), f"expected one of the names under 'sources' ({known})", source_name)
    elif isinstance(raw_sources[source_name], dict) and isinstance(raw_sources[source_name].get("reader"), str):
        raw = dict(raw_sources[source_name])
        reader = raw.pop("reader")
        loc = ("sources", source_name)
        try:
            source_def = source_registry.get(reader)
        except UnknownNameError as e:
            problems((*loc, "reader"), e.message)
        else:
            fields = source_def.params_model.model_fields
            unknown = sorted(set(overrides) - set(fields))
            if unknown:
                raise UsageError(f"--source-param {unknown[0]}: source {source_name!r} ({reader}) has no such "
                                 f"parameter (it has: {', '.join(k for k in fields if k != 'dir')})")
            params = {**raw, **overrides}
            if source_dir is not None:
                if "dir" not in source_def.params_model.model_fields:
                    raise UsageError(f"--source-dir: source {source_name!r} ({reader}) "
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
    raw_steps = data.get("steps") if isinstance(data.get("steps"), list) else []
    for i, raw in enumerate(raw_steps):
        loc = ("steps", i)
        if not isinstance(raw, dict) or not isinstance(raw.get("step"), str):
            continue     # reported by the top-level check
        params = {k: v for k, v in raw.items() if k != "step"}
        try:
            sdef = step_registry.get(raw["step"])
        except UnknownNameError as e:
            problems((*loc, "step"), e.message)
            continue
        values, err = validate_params(sdef.params_model, params)
        if err is not None:
            for key, expected, got, line in pydantic_problems(err, file, lines, prefix=loc):
                problems(tuple(_split_key(key)), expected, got)
            continue
        bound.append(BoundStep(i, raw["step"], sdef, values))
    seen: dict[str, int] = {}
    for b in bound:
        if b.name in seen and b.stateful:
            problems(("steps", b.index, "step"), f"stateful step {b.name!r} may appear once")
        seen[b.name] = seen.get(b.name, 0) + 1
    for b in bound:   # a step used twice is counted apart: annotate[6], annotate[10]
        if seen[b.name] > 1:
            b.label = f"{b.name}[{b.index}]"

    # fields the steps add (e.g. rollout's pass_rate) join the schema
    added = [SchemaField(fname, parse_type(d["type"]), str(d.get("description", "")), bool(d.get("required", False)),
                         d.get("role"))
             for b in bound for fname, d in ((n, a if isinstance(a, dict) else {"type": a})
                                             for n, a in b.definition.adds_fields.items())]
    if schema is not None and added:
        schema = schema.extended(added)

    if problems:
        raise SpecError.from_problems(file, _unique(problems))
    assert spec is not None and schema is not None and source_def is not None
    return ResolvedSpec(spec=spec, file=path, schema=schema, source_name=source_name,
                        source_def=source_def, source_params=source_params, steps=bound,
                        assets=assets, lines=lines)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _split_key(key: str) -> list:
    """Inverse of key_path for line lookups: ``steps[2].min`` -> ["steps", 2, "min"]."""
    out: list = []
    for part in key.replace("]", "").replace("[", ".").split("."):
        if part == "":
            continue
        out.append(int(part) if part.isdigit() else part)
    return out
