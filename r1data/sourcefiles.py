"""Reading the files of released datasets: bad records become errors that name file and line.

Readers of real data share these helpers so that every one of them treats damaged input the
same way: a record that cannot be used raises :class:`BadRecord` (a ``RecordError``: a short
``reason`` for the rejects table and a ``detail`` naming the file and the line or entry), which
the reader turns into a ``Reject``; only a file that cannot be used at all (missing, not JSON,
the wrong shape throughout) is a one-line :class:`~r1data.errors.UsageError`.

Reasons used here: ``bad_encoding`` (bytes that are not UTF-8), ``bad_json`` (not JSON, or
not a JSON object where one is expected), ``bad_text`` (a string holding a lone surrogate
such as ``"\\ud800"``, which JSON allows and UTF-8 cannot store), ``missing_field`` and
``bad_field`` (a field absent, or of the wrong type).

Also here: :func:`file_digest` (size and SHA-256 of a file, for the manifest's list of the
files a build read) and :func:`regular_files` (what a reader may open without hanging: a FIFO
named ``x.jsonl`` blocks ``open`` forever).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from r1data.errors import UsageError
from r1data.steps.base import RecordError

_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


class BadRecord(RecordError):
    """One record of an annotation file that cannot be used (see the module docstring)."""


def json_type(value: Any) -> str:
    """``an object``, ``a list``, ``a string``, ``a number``, ``a boolean`` or ``null``."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def printable(text: str | bytes) -> str:
    """Text safe to store and print: undecodable bytes and lone surrogates as escapes.

    A file name that is not UTF-8 reaches Python with surrogate escapes (``os.fsdecode``);
    writing it to Arrow or a terminal would fail, so details and ids use this instead.
    """
    if isinstance(text, bytes):
        return text.decode("utf-8", "backslashreplace")
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:   # a file name's undecodable bytes (os.fsdecode's surrogate escapes) back as bytes
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:   # other lone surrogates (from JSON's \ud800): as escapes
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def has_lone_surrogate(value: Any) -> bool:
    """True when a string anywhere in ``value`` (dicts, lists) cannot be encoded as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return False
        except UnicodeEncodeError:
            return True
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(v) for v in value)
    return False


def decode_line(raw: bytes, where: str) -> str:
    """A line of a text file as str; :class:`BadRecord` ``bad_encoding`` when not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRecord("bad_encoding", f"{where}: not UTF-8 (byte {raw[e.start]:#04x} at column "
                                        f"{e.start + 1})") from None


def parse_object(text: str, where: str) -> dict:
    """One JSON object (a JSONL line, a small JSON file): :class:`BadRecord` when it is not
    JSON (``bad_json``), not an object (``bad_json``) or holds a lone surrogate (``bad_text``)."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise BadRecord("bad_json", f"{where}: not JSON ({e})") from None
    except RecursionError:
        raise BadRecord("bad_json", f"{where}: nested too deeply to read") from None
    return check_object(value, where)


def check_object(value: Any, where: str) -> dict:
    """``value`` when it is a JSON object without lone surrogates, else :class:`BadRecord`."""
    if not isinstance(value, dict):
        raise BadRecord("bad_json", f"{where}: expected a JSON object, got {json_type(value)}")
    if has_lone_surrogate(value):
        raise BadRecord("bad_text", f"{where}: a string holds a lone surrogate (such as \\ud800), "
                                    "which UTF-8 cannot store")
    return value


def jsonl_records(path: Path) -> Iterator[tuple[int, dict | BadRecord]]:
    """``(line number, object or BadRecord)`` for each non-blank line of a JSONL file.

    Lines are read as bytes and decoded one by one, so a line that is not UTF-8 spoils only
    itself. A file that cannot be opened is a :class:`UsageError`.
    """
    try:
        f = open(path, "rb")
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror or e})") from None
    with f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            where = f"{path.name}:{n}"
            try:
                yield n, parse_object(decode_line(raw, where), where)
            except BadRecord as e:
                yield n, e


def load_json_file(path: Path, what: str) -> Any:
    """A whole JSON file (an annotation release); :class:`UsageError` naming it when unreadable."""
    if not is_regular_file(path):
        raise UsageError(f"{path}: not a regular file ({what})")
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 JSON ({what}): {e}") from None
    except (OSError, ValueError, RecursionError) as e:
        raise UsageError(f"{path}: not readable JSON ({what}): {e}") from None


# -- fields ----------------------------------------------------------------------------------

def text_field(rec: dict, key: str, where: str, *, required: bool = True) -> str:
    """``rec[key]`` as a non-empty string (numbers are accepted and written out)."""
    value = rec.get(key)
    if value is None or value == "":
        if required:
            raise BadRecord("missing_field", f"{where}: no {key!r}")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRecord("bad_field", f"{where}: {key!r} should be a string, got {json_type(value)}")
    text = str(value)
    if has_lone_surrogate(text):
        raise BadRecord("bad_text", f"{where}: {key!r} holds a lone surrogate")
    return text


def list_field(rec: dict, key: str, where: str, *, required: bool = True) -> list:
    """``rec[key]`` as a list (absent: ``[]`` unless required)."""
    value = rec.get(key)
    if value is None:
        if required:
            raise BadRecord("missing_field", f"{where}: no {key!r}")
        return []
    if not isinstance(value, list):
        raise BadRecord("bad_field", f"{where}: {key!r} should be a list, got {json_type(value)}")
    return value


def int_field(rec: dict, key: str, where: str) -> int:
    """``rec[key]`` as an integer (an integral number or a string of digits)."""
    value = rec.get(key)
    if value is None:
        raise BadRecord("missing_field", f"{where}: no {key!r}")
    if isinstance(value, bool):
        raise BadRecord("bad_field", f"{where}: {key!r} should be an integer, got a boolean")
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise BadRecord("bad_field", f"{where}: {key!r} should be an integer, got {value!r:.40}")
    return number


# -- which released file: splits named as the release names them -----------------------------

def find_release_files(root: Path, pattern: re.Pattern, depth: int = 2) -> dict[str, list[Path]]:
    """Regular files in ``root`` and its sub-folders (down to ``depth`` levels, hidden ones
    skipped) whose name matches ``pattern``, grouped by its ``name`` group, paths sorted."""
    found: dict[str, list[Path]] = {}
    level = [root]
    for _ in range(depth + 1):
        nxt = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                if e.name.startswith("."):
                    continue
                m = pattern.match(e.name)
                if m and is_regular_file(Path(e.path)):
                    found.setdefault(m.group("name"), []).append(Path(e.path))
                elif not m and e.is_dir(follow_symlinks=True):
                    nxt.append(Path(e.path))
        level = nxt
    return {k: sorted(v) for k, v in sorted(found.items())}


def choose_release(found: dict[str, list[Path]], wanted: str | None, *, what: str, key: str, root: Path,
                   several_files: bool = False, example: str | None = None) -> tuple[str, list[Path]]:
    """The files of the split (or variant) ``wanted``, named as the release names it.

    ``wanted`` None is allowed when the folder holds one candidate only; otherwise, and when
    ``wanted`` is not among them, a one-line :class:`UsageError` lists the candidates. Two
    files for one candidate (the same file in two folders, two versions) are an error too,
    unless ``several_files`` (a split released in chunks). ``example`` is the candidate the
    message suggests (the training split, say) when it is there.
    """
    names = ", ".join(found) or "none"
    if wanted is None:
        if not found:
            raise UsageError(f"{root}: no {what} in it or its sub-folders")
        if len(found) > 1:
            example = example if example in found else next(iter(found))
            raise UsageError(f"{root}: {len(found)} {what} ({names}); say which with {key} "
                             f"(--source-param {key}={example} or in the spec)")
        wanted = next(iter(found))
    elif wanted not in found:
        raise UsageError(f"{root}: no {what} for {key} {wanted!r} (found: {names})")
    paths = found[wanted]
    if len(paths) > 1 and not several_files:
        listed = ", ".join(str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in paths)
        raise UsageError(f"{root}: {len(paths)} {what} for {key} {wanted!r} ({listed}); keep one, or name "
                         "the file in the spec")
    return wanted, paths


# -- files -----------------------------------------------------------------------------------

def is_regular_file(path: Path) -> bool:
    """A regular file (or a link to one): not a FIFO, socket, device or folder."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def regular_files(paths: Iterable[Path]) -> list[Path]:
    """The regular files among ``paths``, in order (opening a FIFO would block forever)."""
    return [p for p in paths if is_regular_file(p)]


def file_digest(path: Path, data: bytes | None = None) -> tuple[int, str]:
    """``(size in bytes, SHA-256 hex)`` of a file, from ``data`` when the caller holds its bytes."""
    if data is not None:
        return len(data), hashlib.sha256(data).hexdigest()
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def manifest_entry(files: dict[str, list], root: str | Path | None) -> dict:
    """The manifest's ``source_files``: every file the build read, relative to the source folder.

    ``files`` maps absolute paths to ``[bytes, sha256, kind]`` (what
    :meth:`~r1data.steps.base.StepContext.record_file` collected); paths outside ``root`` stay
    absolute. Sorted by kind (annotation files first), then path.
    """
    base = Path(os.path.abspath(os.path.expanduser(root))) if root else None
    if base is not None and base.is_file():
        base = base.parent          # a list file: paths are relative to its folder
    listed = []
    for path, (size, digest, kind) in files.items():
        rel = path
        if base is not None:
            try:
                rel = Path(path).relative_to(base).as_posix()
            except ValueError:
                pass
        listed.append({"path": printable(rel), "bytes": int(size), "sha256": digest, "kind": kind})
    listed.sort(key=lambda f: (f["kind"] != "annotation", f["kind"], f["path"]))
    return {"root": printable(str(base)) if base is not None else None,
            "count": len(listed), "bytes": sum(f["bytes"] for f in listed), "files": listed}
