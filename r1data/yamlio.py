"""YAML loading that remembers where each key is, so errors can name the line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from r1data.errors import SpecError


class LineMap(dict):
    """Maps a key path like ``("steps", 2, "min_words")`` to its 1-based line."""

    def line(self, loc: Sequence[Any]) -> int | None:
        loc = tuple(loc)
        while loc:
            if loc in self:
                return self[loc]
            loc = loc[:-1]
        return None


def key_path(loc: Sequence[Any]) -> str:
    """``("steps", 2, "min_words")`` -> ``steps[2].min_words``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class Problems(list):
    """Problems found in one file, each as ``FILE:LINE: key.path: expected, got VALUE``."""

    def __init__(self, file: str, lines: LineMap):
        super().__init__()
        self.file = file
        self.lines = lines

    def __call__(self, loc: tuple, expected: str, got: object = None) -> None:
        line = self.lines.line(loc)
        where = f"{self.file}:{line}" if line else self.file
        msg = f"{where}: {key_path(loc)}: {expected}"
        if got is not None:
            msg += f", got {got!r}"
        self.append(msg)


def load_yaml(path: str | Path) -> tuple[Any, LineMap]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(str(path), "", f"a readable file ({e.strerror})") from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        raise SpecError(str(path), "", f"valid YAML ({problem})",
                        line=mark.line + 1 if mark else None) from None
    lines = LineMap()
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def _walk(node: yaml.Node, loc: tuple, lines: LineMap) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            sub = (*loc, key_node.value)
            lines[sub] = key_node.start_mark.line + 1
            _walk(value_node, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*loc, i)
            lines[sub] = item.start_mark.line + 1
            _walk(item, sub, lines)


def pydantic_problems(err: Any, file: str, lines: LineMap, prefix: tuple = ()) -> list[tuple[str, str, object, int | None]]:
    """Turn a pydantic ValidationError into (key, expected, got, line) tuples."""
    out = []
    for e in err.errors():
        loc = (*prefix, *[p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-"))])
        msg = e["msg"]
        expected = _expected(e)
        got = e.get("input") if e["type"] not in ("missing",) else None
        if isinstance(got, dict) and e["type"] != "missing":
            got = None if len(repr(got)) > 80 else got
        out.append((key_path(loc), expected or msg, got, lines.line(loc)))
    return out


def _expected(e: dict) -> str:
    t = e["type"]
    ctx = e.get("ctx") or {}
    if t == "missing":
        return "required key is missing"
    if t == "extra_forbidden":
        return "unknown key"
    if t in ("int_type", "int_parsing", "int_from_float"):
        return "expected an integer"
    if t in ("float_type", "float_parsing"):
        return "expected a number"
    if t in ("string_type",):
        return "expected a string"
    if t in ("bool_type", "bool_parsing"):
        return "expected true or false"
    if t in ("list_type",):
        return "expected a list"
    if t in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a mapping"
    if t == "literal_error":
        return f"expected one of {ctx.get('expected')}"
    if t in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return "expected a value " + e["msg"].replace("Input should be ", "")
    if t == "value_error":
        return "expected " + str(ctx.get("error", e["msg"])).removeprefix("Value error, ")
    return "expected " + e["msg"][0].lower() + e["msg"][1:]


def raise_problems(file: str, problems: list[tuple[str, str, object, int | None]]) -> None:
    """Raise one SpecError carrying every problem (the first in the headline)."""
    if not problems:
        return
    texts = []
    for key, expected, got, line in problems:
        where = f"{file}:{line}" if line else file
        t = f"{where}: {key}: {expected}" if key else f"{where}: {expected}"
        if got is not None:
            t += f", got {got!r}"[:200]
        texts.append(t)
    raise SpecError.from_problems(file, texts)
