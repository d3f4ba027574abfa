"""Coordinate frames a schema declares: where each image's size is, and which frame each field's
coordinates are in. The report draws in these frames; the ``in_frame`` verifier checks them.

In ``schemas/NAME.yaml``::

    image:    {type: image, size: [width, height]}       # fields holding its width and height
    images:   {type: list<image>, size: [width, height]}  # int fields (every image) or list<int> (each)
    bboxs:    {type: list<box2d>, frame: image}          # pixels of `image`
    view_objects: {type: ..., frame: {image: images, per_image: true}}   # outer list = image index
    solution: {type: string, frame: {image: image, units: smart_resize, min_pixels: 200704, max_pixels: 401408}}

A frame's ``units``:

=================  ==========================================================================
``pixels``         pixels of the stored image: x right, y down, ``0..width`` x ``0..height``
``resized``        pixels of a resized frame whose size the row holds (``size: [W, H]`` fields)
``smart_resize``   pixels of Qwen2-VL / Qwen2.5-VL's input frame, ``smart_resize(height, width,
                   28, min_pixels, max_pixels)`` of the stored image
``0-1``            fractions of the width and height
``0-1000``         thousandths of the width and height
=================  ==========================================================================

A ``frame`` on a ``box2d`` / ``point2d`` / ``points2d`` / ``mask`` field (or a list or struct
holding them) is checked by ``in_frame``: every coordinate inside the frame (``inside: all``, the
default), boxes reaching into it (``inside: overlap``: elements cut by a screen's edge; points
are not checked) or nothing (``inside: none``: a resting point below the view); on a text field (a completion that writes boxes) it
says which frame the text's numbers are in, for readers, rewards and drawers.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

UNITS = ("pixels", "resized", "smart_resize", "0-1", "0-1000")
QWEN_FACTOR = 28         # Qwen2-VL / Qwen2.5-VL: 14-pixel patches merged 2 x 2
GEOMETRY = ("box2d", "point2d", "points2d", "mask")
_FRAME_KEYS = {"image", "units", "size", "min_pixels", "max_pixels", "per_image", "inside"}
INSIDE = ("all", "overlap", "none")


@dataclass(frozen=True)
class Frame:
    """The frame of a field's coordinates: ``units`` about the image field ``image``."""

    image: str
    units: str = "pixels"
    size: tuple[str, str] | None = None      # resized: the fields holding the frame's width, height
    min_pixels: int | None = None            # smart_resize: the processor's bounds
    max_pixels: int | None = None
    per_image: bool = False                  # the field's outer list runs over a list<image>'s images
    inside: str = "all"                      # what in_frame checks: all coordinates inside, boxes overlapping, none

    def to_dict(self) -> dict | str:
        if self.units == "pixels" and not self.per_image and self.inside == "all":
            return self.image
        out: dict[str, Any] = {"image": self.image, "units": self.units}
        if self.size:
            out["size"] = list(self.size)
        if self.min_pixels is not None:
            out["min_pixels"] = self.min_pixels
        if self.max_pixels is not None:
            out["max_pixels"] = self.max_pixels
        if self.per_image:
            out["per_image"] = True
        if self.inside != "all":
            out["inside"] = self.inside
        return out

    def describe(self) -> str:
        """``pixels of image``, ``0-1000 of image``, ``resized_width x resized_height frame of image``."""
        if self.units == "resized" and self.size:
            return f"{self.size[0]} x {self.size[1]} frame of {self.image}"
        if self.units == "smart_resize":
            return f"smart_resize({self.min_pixels}..{self.max_pixels}) frame of {self.image}"
        return f"{self.units} of {self.image}"

    def extent(self, row: dict, image_size: tuple[float, float] | None) -> tuple[float, float] | None:
        """The frame's width and height for ``row`` (an image of ``image_size``), None if unknown."""
        if self.units == "0-1":
            return 1.0, 1.0
        if self.units == "0-1000":
            return 1000.0, 1000.0
        if self.units == "resized":
            assert self.size is not None
            w, h = row.get(self.size[0]), row.get(self.size[1])
            return (float(w), float(h)) if _positive(w) and _positive(h) else None
        if image_size is None:
            return None
        if self.units == "smart_resize":
            from r1data.geometry import smart_resize

            h_bar, w_bar = smart_resize(int(image_size[1]), int(image_size[0]), QWEN_FACTOR,
                                        self.min_pixels or 56 * 56, self.max_pixels or 28 * 28 * 1280)
            return float(w_bar), float(h_bar)
        return float(image_size[0]), float(image_size[1])

    def scale(self, row: dict, image_size: tuple[float, float] | None) -> tuple[float, float] | None:
        """Factors from this frame to pixels of the stored image (x, y), None if unknown."""
        extent = self.extent(row, image_size)
        if extent is None or image_size is None:
            return None
        return image_size[0] / extent[0], image_size[1] / extent[1]


def _positive(v: Any) -> bool:
    return isinstance(v, (int, float)) and v > 0


def parse_size(value: Any) -> tuple[str, str]:
    """``[WIDTH_FIELD, HEIGHT_FIELD]``; raises ValueError saying what was expected."""
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, str) and v for v in value)):
        return str(value[0]), str(value[1])
    raise ValueError("expected [WIDTH_FIELD, HEIGHT_FIELD], the fields holding the image's size in pixels")


def parse_frame(value: Any) -> Frame:
    """``IMAGE_FIELD`` or ``{image, units, size, min_pixels, max_pixels, per_image}``."""
    if isinstance(value, str) and value:
        return Frame(value)
    if not isinstance(value, dict):
        raise ValueError("expected an image field's name or a mapping {image, units, ...}")
    unknown = sorted(set(value) - _FRAME_KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (expected {', '.join(sorted(_FRAME_KEYS))})")
    image = value.get("image")
    if not isinstance(image, str) or not image:
        raise ValueError("expected `image:`, the image field the coordinates are about")
    units = value.get("units", "pixels")
    if units not in UNITS:
        raise ValueError(f"units {units!r}, expected one of {', '.join(UNITS)}")
    size = parse_size(value["size"]) if "size" in value else None
    if units == "resized" and size is None:
        raise ValueError("units resized needs `size: [WIDTH_FIELD, HEIGHT_FIELD]` (the resized frame's size)")
    if units != "resized" and size is not None:
        raise ValueError("`size:` goes with units resized only")
    bounds = {}
    for key in ("min_pixels", "max_pixels"):
        v = value.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
            raise ValueError(f"{key} must be a positive integer")
        bounds[key] = v
    if units == "smart_resize" and (bounds["min_pixels"] is None or bounds["max_pixels"] is None):
        raise ValueError("units smart_resize needs min_pixels and max_pixels (the processor's bounds)")
    if units != "smart_resize" and (bounds["min_pixels"] is not None or bounds["max_pixels"] is not None):
        raise ValueError("min_pixels and max_pixels go with units smart_resize only")
    per_image = value.get("per_image", False)
    if not isinstance(per_image, bool):
        raise ValueError("per_image must be true or false")
    inside = value.get("inside", "all")
    if inside not in INSIDE:
        raise ValueError(f"inside {inside!r}, expected all (every coordinate in the frame), overlap (boxes "
                         "reach into it: elements cut by the screen's edge) or none")
    return Frame(image, units, size, bounds["min_pixels"], bounds["max_pixels"], per_image, inside)


# -- what a schema declares ------------------------------------------------------------------

def is_image_type(t: Any) -> bool:
    """An image (not a mask) or a list of images."""
    if t.kind == "image":
        return t.semantic != "mask"
    return t.kind == "list" and t.item is not None and t.item.kind == "image" and t.item.semantic != "mask"


def has_geometry(t: Any) -> bool:
    """Whether a value of type ``t`` holds boxes, points or masks (at any depth)."""
    if t.semantic in GEOMETRY:
        return True
    if t.kind == "list" and t.item is not None:
        return has_geometry(t.item)
    return any(has_geometry(ft) for _, ft in t.fields)


def declaration_problems(fields: list[Any]) -> list[tuple[tuple, str]]:
    """``(location, expected)`` for every ``size``/``frame`` that does not fit the schema's fields."""
    by_name = {f.name: f for f in fields}
    ints = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
    problems: list[tuple[tuple, str]] = []

    def int_field(name: str, allow_list: bool) -> bool:
        f = by_name.get(name)
        if f is None:
            return False
        t = f.type
        return t.kind in ints or (allow_list and t.kind == "list" and t.item is not None and t.item.kind in ints)

    for f in fields:
        loc = ("fields", f.name)
        if f.size is not None:
            if not (is_image_type(f.type) or f.type.semantic == "video"):
                problems.append(((*loc, "size"), "size goes on an image, list<image> or video field"))
            for name in f.size:
                if not int_field(name, allow_list=f.type.kind == "list"):
                    problems.append(((*loc, "size"), f"{name!r} is not an integer field of this schema"))
        if f.frame is not None:
            fr = f.frame
            img = by_name.get(fr.image)
            if img is None or not is_image_type(img.type):
                problems.append(((*loc, "frame"), f"{fr.image!r} is not an image field of this schema"))
            elif img.size is None and fr.units in ("pixels", "smart_resize"):
                problems.append(((*loc, "frame"), f"image {fr.image!r} declares no size: [WIDTH, HEIGHT]"))
            if fr.per_image and (img is None or img.type.kind != "list" or f.type.kind != "list"):
                problems.append(((*loc, "frame"), "per_image needs a list field about a list<image> field"))
            for name in fr.size or ():
                if not int_field(name, allow_list=False):
                    problems.append(((*loc, "frame"), f"{name!r} is not an integer field of this schema"))
    return problems


# -- rows ------------------------------------------------------------------------------------

_PNG = b"\x89PNG\r\n\x1a\n"

def image_bytes(value: Any) -> bytes | None:
    if isinstance(value, dict):
        value = value.get("bytes")
    return bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) and value else None


def stored_size(value: Any) -> tuple[int, int] | None:
    """(width, height) read from an encoded image's header; None when absent or unreadable."""
    from PIL import Image

    data = image_bytes(value)
    if data is None:
        return None
    if data[:8] == _PNG and data[12:16] == b"IHDR" and len(data) >= 24:   # a PNG: its IHDR, without Pillow
        w, h = struct.unpack(">II", data[16:24])
        return (w, h) if w and h else None
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.width, im.height
    except Exception:      # PIL raises several types for bytes that are not an image
        return None


def declared_sizes(row: dict, field: Any, count: int) -> list[tuple[int, int] | None]:
    """The width and height the row declares for each of ``count`` images of ``field``."""
    if field.size is None:
        return [None] * count
    w, h = row.get(field.size[0]), row.get(field.size[1])
    out: list[tuple[int, int] | None] = []
    for i in range(count):
        wi = w[i] if isinstance(w, list) and i < len(w) else w
        hi = h[i] if isinstance(h, list) and i < len(h) else h
        out.append((int(wi), int(hi)) if _positive(wi) and _positive(hi) else None)
    return out


def image_size(row: dict, schema: Any, name: str, index: int | None = None) -> tuple[int, int] | None:
    """Size of image ``name`` (its ``index``-th for a list): as declared, else from its header."""
    f = schema.field(name)
    value = row.get(name)
    if isinstance(value, list):
        if index is None or index >= len(value):
            return None
        value, count, i = value[index], len(row[name]), index
    else:
        count, i = 1, 0
    declared = declared_sizes(row, f, count)[i]
    return declared or stored_size(value)


def walk(value: Any, t: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """``(path, kind, value)`` for every box, point and mask in ``value`` of type ``t``."""
    if value is None:
        return
    if t.semantic in ("box2d", "point2d", "mask"):
        yield path, t.semantic, value
    elif t.semantic == "points2d":
        for i, p in enumerate(value):
            if p is not None:
                yield f"{path}[{i}]", "point2d", p
    elif t.kind == "list" and t.item is not None:
        for i, v in enumerate(value):
            yield from walk(v, t.item, f"{path}[{i}]")
    elif t.kind == "struct" and isinstance(value, dict):
        for name, ft in t.fields:
            yield from walk(value.get(name), ft, f"{path}.{name}")


def per_image_items(row: dict, field: Any) -> Iterator[tuple[int | None, str, Any, Any]]:
    """``(image index, path, value, type)`` of a field: one item, or one per image (per_image)."""
    value = row.get(field.name)
    if field.frame is not None and field.frame.per_image and isinstance(value, list):
        for i, v in enumerate(value):
            yield i, f"{field.name}[{i}]", v, field.type.item
    else:
        yield None, field.name, value, field.type


def check_row(row: dict, schema: Any, tolerance: float = 0.5) -> tuple[bool, str]:
    """Whether the row's images have the sizes it declares and its boxes, points and masks lie in
    their declared frames. ``tolerance`` is in pixels (0.0005 of a 0-1 frame)."""
    problems: list[str] = []
    sizes: dict[tuple[str, int | None], tuple[int, int] | None] = {}
    for f in schema.fields:
        if f.size is None or row.get(f.name) is None:
            continue
        values = row[f.name] if isinstance(row[f.name], list) else [row[f.name]]
        declared = declared_sizes(row, f, len(values))
        for i, (v, d) in enumerate(zip(values, declared)):
            key = (f.name, i if isinstance(row[f.name], list) else None)
            stored = stored_size(v)
            if d is None:
                problems.append(f"{f.name}: no size declared in {f.size[0]}/{f.size[1]}")
            elif stored is not None and stored != d:
                problems.append(f"{key[0]}{'' if key[1] is None else f'[{i}]'}: stored {stored[0]}x{stored[1]}, "
                                f"the row says {d[0]}x{d[1]}")
            sizes[key] = d or stored
    for f in schema.fields:
        if f.frame is None or not has_geometry(f.type):
            continue
        fr = f.frame
        for index, path, value, t in per_image_items(row, f):
            size = sizes.get((fr.image, index if index is not None else (0 if _is_list(row, fr.image) else None)))
            extent = fr.extent(row, size)
            for where, kind, item in walk(value, t, path):
                why = _outside(kind, item, extent, size, fr, tolerance)
                if why:
                    problems.append(f"{where} {why}")
                if len(problems) >= 5:
                    break
    return (not problems), "; ".join(problems[:5])


def _is_list(row: dict, name: str) -> bool:
    return isinstance(row.get(name), list)


def _outside(kind: str, item: Any, extent: tuple[float, float] | None, size: tuple[int, int] | None,
             frame: Frame, tolerance: float) -> str | None:
    if frame.inside == "none" or (frame.inside == "overlap" and kind == "point2d"):
        return None
    if kind == "mask":
        got = stored_size(item)
        if got is not None and size is not None and got != tuple(size):
            return f"mask {got[0]}x{got[1]} is not the image's {size[0]}x{size[1]}"
        return None
    if extent is None:
        return f"has no frame size ({frame.describe()})"
    w, h = extent
    tol = tolerance * (w / 1000.0 if frame.units == "0-1" else 1.0)
    coords = [float(v) for v in item]
    xs, ys = coords[0::2], coords[1::2]
    if frame.inside == "all" and xs and ys and min(xs) >= -tol and max(xs) <= w + tol \
            and min(ys) >= -tol and max(ys) <= h + tol:
        return None                       # the common case, settled without the messages below
    if frame.inside == "overlap":
        if max(xs) > -tol and min(xs) < w + tol and max(ys) > -tol and min(ys) < h + tol:
            return None
        shown = "[" + ", ".join(f"{v:g}" for v in coords) + "]"
        return f"{shown} does not reach into {w:g}x{h:g} ({frame.describe()})"
    if any(x < -tol or x > w + tol for x in xs) or any(y < -tol or y > h + tol for y in ys):
        shown = "[" + ", ".join(f"{v:g}" for v in coords) + "]"
        return f"{shown} outside {w:g}x{h:g} ({frame.describe()})"
    return None
