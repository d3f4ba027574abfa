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


# The most nodes a declared file may expand to once its aliases are followed. Shipped specs have
# a few hundred; a 1 KB "billion laughs" alias bomb has 10^9 and would take gigabytes to walk.
MAX_NODES = 100_000


def load_yaml(path: str | Path) -> tuple[Any, LineMap]:
    """Parse a declared YAML file (spec, schema, profile, recipe) and where each key is.

    Problems are a one-line :class:`SpecError` naming the file and line: unreadable or not
    UTF-8, invalid YAML, a key given twice in one mapping, aliases expanding past
    :data:`MAX_NODES` nodes (an alias bomb), an alias that contains itself.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(str(path), "", f"a readable file ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        column = e.start - raw.rfind(b"\n", 0, e.start)
        raise SpecError(str(path), "", f"UTF-8 text (byte 0x{raw[e.start]:02x} at line {line}, column "
                                       f"{column}, is not UTF-8)", line=line) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        lines = LineMap()
        if node is not None:
            _check_size(node, path)
            _walk(node, (), lines, str(path))
        # the composed graph is checked: constructing it now costs what the file holds
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise _yaml_error(path, e) from None
    except RecursionError:
        raise SpecError(str(path), "", "YAML nested less deeply (over Python's recursion limit)") from None
    return data, lines


def _yaml_error(path: Path, e: yaml.YAMLError) -> SpecError:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    return SpecError(str(path), "", f"valid YAML ({problem})", line=mark.line + 1 if mark else None)


def _check_size(root: yaml.Node, path: Path) -> None:
    """Count the nodes the document expands to (aliases followed), without expanding it."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise SpecError(str(path), "", "YAML without recursive aliases (an anchor used inside itself)",
                            line=node.start_mark.line + 1)
        active.add(key)
        n = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                n += size(k) + size(v)
                if n > MAX_NODES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                n += size(item)
                if n > MAX_NODES:
                    break
        active.discard(key)
        sizes[key] = n
        if n > MAX_NODES:
            raise SpecError(str(path), "", f"YAML of at most {MAX_NODES:,} nodes once its aliases are expanded "
                                           "(is it an alias bomb?)", line=node.start_mark.line + 1)
        return n

    size(root)


def _walk(node: yaml.Node, loc: tuple, lines: LineMap, file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<":
                if key in seen:
                    raise SpecError(file, key_path((*loc, key)), f"duplicate key (also on line {seen[key]}; a key may appear once in a mapping)",
                                    line=line)
                seen[key] = line
            sub = (*loc, key_node.value)
            lines[sub] = line
            _walk(value_node, sub, lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*loc, i)
            lines[sub] = item.start_mark.line + 1
            _walk(item, sub, lines, file)


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
