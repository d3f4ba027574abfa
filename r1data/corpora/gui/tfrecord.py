"""AndroidControl's files without TensorFlow: GZIP TFRecords of ``tf.train.Example`` episodes whose
``accessibility_trees`` are serialized ``AndroidAccessibilityForest`` protos (android_env).

* a TFRecord is a sequence of ``uint64 length | uint32 masked CRC32C(length) | data | uint32
  masked CRC32C(data)`` (little-endian); the files are GZIP-compressed as a whole;
* ``tf.train.Example`` is ``features {feature: map<string, Feature>}``, a Feature one of
  ``bytes_list`` (1), ``float_list`` (2), ``int64_list`` (3), each ``repeated value = 1``;
* the forest's field numbers are android_env's ``proto/a11y/*.proto``: forest.windows = 1,
  window.bounds_in_screen = 1, window.window_type = 6, window.tree = 11, tree.nodes = 1, and the
  node fields in :data:`NODE_FIELDS`; ``ProtoRect`` is left, top, right, bottom = 1..4.

Protocol buffers are decoded from the wire format directly (a few dozen lines, no generated
code). The length CRC of every record is checked (a damaged header stops that file with a
clear error); the data CRC is not (pure-Python CRC32C over screenshots is slow), but damaged
data fails to parse or to decode as PNG and is rejected there. :func:`write_tfrecord`,
:func:`encode_example` and :func:`encode_forest` write the same formats (test fixtures).
"""

from __future__ import annotations

import gzip
import io
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class TFRecordError(ValueError):
    """A TFRecord file that cannot be read further (truncated, damaged header)."""


# -- CRC32C (Castagnoli), masked as TFRecord does --------------------------------------------------

def _table() -> list[int]:
    out = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        out.append(c)
    return out


_CRC = _table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# -- TFRecord framing -------------------------------------------------------------------------------

def read_tfrecords(path: Path) -> Iterator[bytes]:
    """The records of one file (GZIP or plain); :class:`TFRecordError` where it cannot go on."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    n = 0
    try:
        with opener(path, "rb") as f:        # type: ignore[operator]
            while True:
                head = f.read(12)
                if not head:
                    return
                if len(head) < 12:
                    raise TFRecordError(f"{path.name}: record {n} is cut off in its header")
                length, crc = struct.unpack("<QI", head)
                if masked_crc(head[:8]) != crc:
                    raise TFRecordError(f"{path.name}: record {n} has a damaged header (length CRC mismatch)")
                data = f.read(length)
                tail = f.read(4)
                if len(data) < length or len(tail) < 4:
                    raise TFRecordError(f"{path.name}: record {n} is cut off ({len(data)} of {length} bytes)")
                yield data
                n += 1
    except (OSError, EOFError, gzip.BadGzipFile) as e:     # a truncated or damaged GZIP stream
        raise TFRecordError(f"{path.name}: unreadable after record {n}: {e}") from None


def write_tfrecord(path: Path, records: list[bytes], compress: bool = True) -> None:
    buf = io.BytesIO()
    for r in records:
        head = struct.pack("<Q", len(r))
        buf.write(head + struct.pack("<I", masked_crc(head)) + r + struct.pack("<I", masked_crc(r)))
    Path(path).write_bytes(gzip.compress(buf.getvalue(), mtime=0) if compress else buf.getvalue())


# -- protobuf wire format ---------------------------------------------------------------------------

def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated varint")
        x = b[i]
        i += 1
        result |= (x & 0x7F) << shift
        if not x & 0x80:
            return result, i
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def fields(b: bytes) -> Iterator[tuple[int, int, Any]]:
    """``(field number, wire type, value)`` of a message: ints for varints and fixed, bytes for
    length-delimited (a sub-message, a string or a packed list)."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            if i + n > len(b):
                raise ValueError("truncated field")
            v, i = b[i:i + n], i + n
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        else:
            raise ValueError(f"unsupported wire type {wt}")
        yield num, wt, v


def _int32(v: int) -> int:
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


def _varints(v: bytes) -> list[int]:
    out, i = [], 0
    while i < len(v):
        x, i = _varint(v, i)
        out.append(_int32(x))
    return out


def parse_example(data: bytes) -> dict[str, list]:
    """A ``tf.train.Example`` as ``{name: [values]}`` (bytes, floats or ints)."""
    out: dict[str, list] = {}
    for num, _, features in fields(data):
        if num != 1:
            continue
        for fnum, _, entry in fields(features):
            if fnum != 1:
                continue
            key, value = "", b""
            for enum, _, ev in fields(entry):
                if enum == 1:
                    key = ev.decode("utf-8")
                elif enum == 2:
                    value = ev
            out[key] = _feature(value)
    return out


def _feature(b: bytes) -> list:
    for kind, _, lst in fields(b):
        vals: list = []
        for vnum, wt, v in fields(lst):
            if vnum != 1:
                continue
            if kind == 1:
                vals.append(v)
            elif kind == 2:
                vals.extend(struct.unpack(f"<{len(v) // 4}f", v) if wt == 2 else struct.unpack("<f", v))
            elif kind == 3:
                vals.extend(_varints(v) if wt == 2 else [_int32(v)])
        return vals
    return []


def encode_example(features: dict[str, list]) -> bytes:
    """``{name: [bytes | str | int | float]}`` as a serialized ``tf.train.Example``."""
    entries = b""
    for key, values in features.items():
        if values and isinstance(values[0], (bytes, str)):
            body = b"".join(_ld(1, v.encode() if isinstance(v, str) else v) for v in values)
            feature = _ld(1, body)
        elif values and isinstance(values[0], float):
            feature = _ld(2, _ld(1, struct.pack(f"<{len(values)}f", *values)))
        else:
            feature = _ld(3, _ld(1, b"".join(_enc_varint(int(v)) for v in values)))
        entries += _ld(1, _ld(1, key.encode()) + _ld(2, feature))
    return _ld(1, entries)


def _enc_varint(v: int) -> bytes:
    v &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _ld(num: int, payload: bytes) -> bytes:
    return _enc_varint(num << 3 | 2) + _enc_varint(len(payload)) + payload


def _vi(num: int, value: int) -> bytes:
    return _enc_varint(num << 3) + _enc_varint(value)


# -- android_env accessibility forests ---------------------------------------------------------------

NODE_FIELDS = {1: "unique_id", 3: "class_name", 4: "content_description", 5: "hint_text", 6: "package_name",
               7: "text", 10: "view_id_resource_name", 12: "is_checkable", 13: "is_checked", 14: "is_clickable",
               15: "is_editable", 16: "is_enabled", 17: "is_focusable", 18: "is_focused", 19: "is_long_clickable",
               21: "is_scrollable", 22: "is_selected", 23: "is_visible_to_user", 27: "depth"}
_STRINGS = {"class_name", "content_description", "hint_text", "package_name", "text", "view_id_resource_name"}


def _rect(b: bytes) -> list[int]:
    r = [0, 0, 0, 0]
    for num, _, v in fields(b):
        if 1 <= num <= 4:
            r[num - 1] = _int32(v)
    return r


def parse_forest(data: bytes) -> list[dict]:
    """Every node of every window: ``{bounds: [l, t, r, b], text, class_name, is_clickable, ...,
    window_type}`` (absent fields take proto3's defaults)."""
    nodes: list[dict] = []
    for num, _, window in fields(data):
        if num != 1:
            continue
        wtype, tree = 0, b""
        for wnum, _, v in fields(window):
            if wnum == 6:
                wtype = v
            elif wnum == 11:
                tree = v
        for tnum, _, node in fields(tree):
            if tnum != 1:
                continue
            d: dict[str, Any] = {k: ("" if k in _STRINGS else 0) for k in NODE_FIELDS.values()}
            d["bounds"], d["window_type"] = [0, 0, 0, 0], wtype
            for nnum, _, v in fields(node):
                if nnum == 2:
                    d["bounds"] = _rect(v)
                elif nnum in NODE_FIELDS:
                    name = NODE_FIELDS[nnum]
                    d[name] = v.decode("utf-8", "replace") if name in _STRINGS else _int32(v)
            nodes.append(d)
    return nodes


def encode_forest(windows: list[list[dict]]) -> bytes:
    """Windows of nodes (``bounds`` and any :data:`NODE_FIELDS` by name) as a forest proto."""
    names = {v: k for k, v in NODE_FIELDS.items()}
    out = b""
    for nodes in windows:
        tree = b""
        for n in nodes:
            body = _ld(2, b"".join(_vi(i + 1, int(x)) for i, x in enumerate(n.get("bounds", [0, 0, 0, 0]))))
            for name, value in n.items():
                if name in names:
                    body += _ld(names[name], value.encode()) if isinstance(value, str) else _vi(names[name], int(value))
            tree += _ld(1, body)
        out += _ld(1, _vi(6, 1) + _ld(11, tree))
    return out
