"""Record schemas: ``schemas/NAME.yaml`` is the only place a corpus's fields are typed.

From it are derived the ``datasets`` Features, the Arrow schema of the shards (with the
Features stored in the schema metadata, so ``load_dataset("arrow", ...)`` decodes images),
and later the Label Studio config, the Hub card's ``dataset_info`` and the TRL column mapping.

Type language (a string, or a mapping with ``type:`` plus ``description``, ``required``,
``role``, and for images and coordinates ``size`` and ``frame``: :mod:`r1data.frames`)::

    string bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64 binary
    image                      PNG/JPEG bytes; decodes to PIL.Image in `datasets`
    json                       a JSON document stored as a string
    list<T>   list<T>[N]       variable / fixed length
    struct<a: T, b: T>
    box2d    = list<float32>[4]  x1, y1, x2, y2 in pixels of the record's image
    box3d    = list<float32>[6]  x1, y1, z1, x2, y2, z2 (axis-aligned corners, metres)
    point2d  = list<float32>[2]  x, y in pixels;   point3d = list<float32>[3]
    points2d = list<point2d>     an ordered list of points (a trace keeps its order)
    mask     = image             a single-channel PNG (0 background, >0 foreground)
    video    = string            path or URL of a video file
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from r1data.errors import SpecError
from r1data.frames import Frame, declaration_problems, parse_frame, parse_size
from r1data.ndarrays import ndarray_columns
from r1data.yamlio import LineMap, Problems, load_yaml

PRIMITIVES = {"string", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
              "uint64", "float16", "float32", "float64", "binary"}
# semantic name -> definition in the base language
ALIASES = {
    "box2d": "list<float32>[4]",
    "box3d": "list<float32>[6]",
    "point2d": "list<float32>[2]",
    "point3d": "list<float32>[3]",
    "points2d": "list<list<float32>[2]>",
    "mask": "image",
    "video": "string",
}


@dataclass(frozen=True)
class FieldType:
    kind: str                                   # primitive name | image | json | list | struct
    item: "FieldType | None" = None             # list item
    length: int | None = None                   # fixed list length
    fields: tuple[tuple[str, "FieldType"], ...] = ()   # struct fields
    semantic: str | None = None                 # alias name (box2d, mask, video, ...)

    def feature(self) -> Any:
        import datasets

        if self.kind == "image":
            return datasets.Image()
        if self.kind == "json":
            return datasets.Value("string")
        if self.kind == "binary":
            return datasets.Value("binary")
        if self.kind in PRIMITIVES:
            return datasets.Value(self.kind)
        if self.kind == "list":
            assert self.item is not None
            return datasets.List(self.item.feature(), length=self.length if self.length else -1)
        if self.kind == "struct":
            return {name: t.feature() for name, t in self.fields}
        raise AssertionError(self.kind)

    def __str__(self) -> str:
        if self.semantic:
            return self.semantic
        if self.kind == "list":
            return f"list<{self.item}>" + (f"[{self.length}]" if self.length else "")
        if self.kind == "struct":
            return "struct<" + ", ".join(f"{n}: {t}" for n, t in self.fields) + ">"
        return self.kind

    @property
    def has_image(self) -> bool:
        if self.kind == "image":
            return True
        if self.kind == "list":
            return bool(self.item and self.item.has_image)
        return any(t.has_image for _, t in self.fields)


class _TypeParser:
    _token = re.compile(r"\s*(<|>|\[|\]|,|:|[A-Za-z_][A-Za-z0-9_]*|\d+)")

    def __init__(self, text: str):
        self.text = text
        self.tokens = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = self._token.match(text, pos)
            if not m:
                raise ValueError(f"unexpected {text[pos:]!r}")
            self.tokens.append(m.group(1))
            pos = m.end()
        self.i = 0

    def parse(self) -> FieldType:
        t = self._type()
        if self.i != len(self.tokens):
            raise ValueError(f"unexpected {' '.join(self.tokens[self.i:])!r} after the type")
        return t

    def _peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        tok = self._peek()
        if tok is None or (expected is not None and tok != expected):
            raise ValueError(f"expected {expected or 'a type'} at {' '.join(self.tokens[self.i:]) or 'the end'}")
        self.i += 1
        return tok

    def _type(self) -> FieldType:
        name = self._take()
        if name in ALIASES:
            base = _TypeParser(ALIASES[name]).parse()
            return FieldType(base.kind, base.item, base.length, base.fields, semantic=name)
        if name in PRIMITIVES or name in ("image", "json"):
            return FieldType(name)
        if name == "list":
            self._take("<")
            item = self._type()
            self._take(">")
            length = None
            if self._peek() == "[":
                self._take("[")
                length = int(self._take())
                self._take("]")
            return FieldType("list", item=item, length=length)
        if name == "struct":
            self._take("<")
            fields = []
            while True:
                fname = self._take()
                self._take(":")
                fields.append((fname, self._type()))
                if self._peek() == ",":
                    self._take(",")
                    continue
                break
            self._take(">")
            return FieldType("struct", fields=tuple(fields))
        known = sorted(PRIMITIVES | set(ALIASES) | {"image", "json", "list<T>", "struct<...>"})
        raise ValueError(f"unknown type {name!r} (known: {', '.join(known)})")


def parse_type(value: Any) -> FieldType:
    """Parse a type from its string form or a ``{type: ..., item/fields: ...}`` mapping."""
    if isinstance(value, str):
        return _TypeParser(value).parse()
    if isinstance(value, dict):
        t = value.get("type")
        if t == "list" and "item" in value:
            return FieldType("list", item=parse_type(value["item"]), length=value.get("length"))
        if t == "struct" and "fields" in value:
            fields = value["fields"]
            if not isinstance(fields, dict):
                raise ValueError("struct fields must be a mapping of name to type")
            return FieldType("struct", fields=tuple((k, parse_type(v)) for k, v in fields.items()))
        if isinstance(t, str):
            return _TypeParser(t).parse()
    raise ValueError(f"a type string or a mapping with 'type', got {value!r}")


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    description: str = ""
    required: bool = True
    role: str | None = None     # question | reasoning | answer | image | ... (review, cards, training)
    size: tuple[str, str] | None = None   # an image's width and height fields (r1data.frames)
    frame: Frame | None = None            # the frame of the field's coordinates (r1data.frames)


@dataclass(frozen=True)
class RecordSchema:
    name: str
    fields: tuple[Field, ...]
    description: str = ""
    version: int = 1
    file: str = ""
    _cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    # -- derived forms -------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def extended(self, fields: list[Field]) -> "RecordSchema":
        """This schema with ``fields`` appended (a step's added fields); names it has already
        keep their declaration."""
        new = [f for f in fields if f.name not in self.names]
        if not new:
            return self
        return RecordSchema(self.name, (*self.fields, *new), self.description, self.version, self.file, {})

    def by_role(self, role: str) -> list[Field]:
        return [f for f in self.fields if f.role == role]

    def features(self) -> Any:
        """The ``datasets.Features`` of a record."""
        import datasets

        if "features" not in self._cache:
            self._cache["features"] = datasets.Features({f.name: f.type.feature() for f in self.fields})
        return self._cache["features"]

    def arrow_schema(self) -> pa.Schema:
        """The shards' Arrow schema, with the Features in the ``huggingface`` metadata."""
        if "arrow" not in self._cache:
            features = self.features()
            meta = {
                "huggingface": json.dumps({"info": {"features": features.to_dict()}}),
                "r1data": json.dumps({"schema": self.name, "version": self.version}),
            }
            self._cache["arrow"] = features.arrow_schema.with_metadata(meta)
        return self._cache["arrow"]

    def to_dict(self) -> dict:
        return {
            "name": self.name, "version": self.version, "description": self.description,
            "fields": {f.name: {"type": str(f.type), "description": f.description,
                                "required": f.required, **({"role": f.role} if f.role else {}),
                                **({"size": list(f.size)} if f.size else {}),
                                **({"frame": f.frame.to_dict()} if f.frame else {})}
                       for f in self.fields},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "RecordSchema":
        """The schema :meth:`to_dict` wrote (a build's manifest keeps the schema it was made with)."""
        fields = tuple(Field(name, parse_type(spec["type"]), spec.get("description", ""),
                             spec.get("required", True), spec.get("role"),
                             parse_size(spec["size"]) if spec.get("size") else None,
                             parse_frame(spec["frame"]) if spec.get("frame") else None)
                       for name, spec in data["fields"].items())
        return cls(name=data["name"], fields=fields, description=data.get("description", ""),
                   version=data.get("version", 1))

    # -- rows -> Arrow -------------------------------------------------------------------
    def encoders(self) -> dict[str, Callable[[Any], Any]]:
        if "encoders" not in self._cache:
            self._cache["encoders"] = {f.name: _encoder(f.type) for f in self.fields if _encoder(f.type)}
        return self._cache["encoders"]

    def to_batch(self, rows: list[dict]) -> tuple[pa.RecordBatch, list[tuple[int, str]]]:
        """Convert rows to a RecordBatch of this schema.

        Returns the batch of the good rows and ``(index, reason)`` for each row that could
        not be converted (a wrong type, a required field missing). Fields not in the schema
        are ignored: steps may carry working state (a scene graph, an engine handle) in them.
        """
        bad: dict[int, str] = {}
        encoders = self.encoders()
        if encoders:
            encoded = []
            for i, row in enumerate(rows):
                try:
                    row = dict(row)
                    for name, enc in encoders.items():
                        value = row.get(name)
                        if value is not None:
                            row[name] = enc(value)
                except Exception as e:  # a corrupt image, an unserialisable value
                    bad[i] = f"{name}: {type(e).__name__}: {e}"
                encoded.append(row)
            rows = encoded
        schema = self.arrow_schema()
        good_idx = [i for i in range(len(rows)) if i not in bad] if bad else range(len(rows))
        # numeric arrays given as numpy arrays (a point cloud) become columns without a Python
        # object per number: converting 6,144 floats a row through lists costs a millisecond
        columns, as_lists = ndarray_columns([rows[i] for i in good_idx] if bad else rows, schema)
        if columns or as_lists:
            rows = [{k: (v.tolist() if k in as_lists and hasattr(v, "tolist") else v)
                     for k, v in row.items() if k not in columns} for row in rows]
        position = {i: k for k, i in enumerate(good_idx)}
        try:
            batch = pa.RecordBatch.from_pylist([rows[i] for i in good_idx] if bad else rows, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            # find the culprits one by one; the rest of the batch is fine
            ok_rows, ok_idx = [], []
            for i in good_idx:
                try:
                    pa.RecordBatch.from_pylist([rows[i]], schema=schema)
                except Exception as e:
                    bad[i] = f"{type(e).__name__}: {e}"
                else:
                    ok_rows.append(rows[i])
                    ok_idx.append(i)
            if columns:
                keep = pa.array([position[i] for i in ok_idx], pa.int64())
                columns = {name: col.take(keep) for name, col in columns.items()}
            good_idx = ok_idx  # type: ignore[assignment]
            batch = pa.RecordBatch.from_pylist(ok_rows, schema=schema)
        if columns:
            batch = pa.RecordBatch.from_arrays([columns.get(f.name, batch.column(j)) for j, f in enumerate(schema)],
                                               schema=schema)
        required = [j for j, f in enumerate(self.fields) if f.required]
        if required and batch.num_rows:
            missing_mask = None
            for j in required:
                col = batch.column(j)
                if col.null_count:
                    m = pc.is_null(col)
                    missing_mask = m if missing_mask is None else pc.or_(missing_mask, m)
            if missing_mask is not None:
                flags = missing_mask.to_pylist()
                for k, is_bad in enumerate(flags):
                    if is_bad:
                        names = [self.fields[j].name for j in required if batch.column(j)[k].as_py() is None]
                        bad[good_idx[k]] = f"required field missing: {', '.join(names)}"
                batch = batch.filter(pc.invert(missing_mask))
        return batch, sorted(bad.items())


def _encode_image(value: Any) -> dict:
    """bytes | PIL.Image | numpy array | {bytes, path} | path -> the `datasets` Image struct."""
    if isinstance(value, dict):
        return {"bytes": value.get("bytes"), "path": value.get("path")}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": bytes(value), "path": None}
    if isinstance(value, (str, Path)):
        return {"bytes": Path(value).read_bytes(), "path": Path(value).name}
    from PIL import Image

    if not isinstance(value, Image.Image):
        import numpy as np

        if isinstance(value, np.ndarray):
            value = Image.fromarray(value)
        else:
            raise TypeError(f"cannot store {type(value).__name__} as an image")
    buf = io.BytesIO()
    value.save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def _encode_json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _encoder(t: FieldType) -> Callable[[Any], Any] | None:
    if t.kind == "image":
        return _encode_image
    if t.kind == "json":
        return _encode_json
    if t.kind == "list" and t.item is not None:
        inner = _encoder(t.item)
        if inner is not None:
            return lambda values: [None if v is None else inner(v) for v in values]
    if t.kind == "struct":
        inner_map = {n: _encoder(ft) for n, ft in t.fields}
        inner_map = {k: v for k, v in inner_map.items() if v}
        if inner_map:
            return lambda d: {k: (inner_map[k](v) if k in inner_map and v is not None else v)
                              for k, v in d.items()}
    return None


_FIELD_KEYS = {"type", "description", "required", "role", "item", "fields", "length", "size", "frame"}


def load_schema(path: str | Path) -> RecordSchema:
    """Parse ``schemas/NAME.yaml``; every problem names the file, key and what was expected."""
    path = Path(path)
    data, lines = load_yaml(path)
    file = str(path)
    problems = Problems(file, lines)   # problems(loc, expected, got) records one

    if not isinstance(data, dict):
        raise SpecError(file, "", "a mapping with 'name' and 'fields'", got=type(data).__name__)
    for key in data:
        if key not in ("name", "version", "description", "fields"):
            problems((key,), "unknown key (expected name, version, description, fields)")
    name = data.get("name")
    if not isinstance(name, str):
        problems(("name",), "expected a string", name)
    fields_raw = data.get("fields")
    fields: list[Field] = []
    if not isinstance(fields_raw, dict) or not fields_raw:
        problems(("fields",), "expected a mapping of field name to type", fields_raw)
    else:
        for fname, spec in fields_raw.items():
            loc = ("fields", fname)
            if not isinstance(fname, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", fname):
                problems(loc, "expected a field name made of letters, digits and _", fname)
                continue
            attrs = spec if isinstance(spec, dict) else {"type": spec}
            for k in attrs:
                if k not in _FIELD_KEYS:
                    problems((*loc, k), f"unknown key (expected one of {', '.join(sorted(_FIELD_KEYS))})")
            try:
                ftype = parse_type(attrs if isinstance(spec, dict) else spec)
            except (ValueError, TypeError) as e:
                problems((*loc, "type") if isinstance(spec, dict) else loc, f"expected a type: {e}")
                continue
            required = attrs.get("required", True)
            if not isinstance(required, bool):
                problems((*loc, "required"), "expected true or false", required)
                required = True
            size = frame = None
            try:
                size = parse_size(attrs["size"]) if "size" in attrs else None
            except ValueError as e:
                problems((*loc, "size"), str(e), attrs["size"])
            try:
                frame = parse_frame(attrs["frame"]) if "frame" in attrs else None
            except ValueError as e:
                problems((*loc, "frame"), str(e))
            fields.append(Field(fname, ftype, str(attrs.get("description", "") or ""), required,
                                attrs.get("role"), size, frame))
    for loc, expected in declaration_problems(fields):
        problems(loc, expected)
    version = data.get("version", 1)
    if not isinstance(version, int):
        problems(("version",), "expected an integer", version)
    if problems:
        raise SpecError.from_problems(file, problems) from None
    return RecordSchema(name=name, fields=tuple(fields), description=str(data.get("description", "")),
                        version=version, file=file)
