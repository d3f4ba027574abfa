""":class:`RowView`: one row as a drawer sees it, with the schema's frames at hand."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from r1data.frames import image_bytes, image_size
from r1data.report.panel import Panel


class RowView(Mapping):
    """A row (a mapping of field to value, as ``Table.to_pylist()`` gives it) plus its schema.

    Images are ``{"bytes": ..., "path": ...}`` cells. For a rejected record (:attr:`reject` is
    set) images are gone (the rejects table keeps their size and checksum only) and any field
    may be missing: drawers use :meth:`get` and the panels come out grey where an image was.
    """

    def __init__(self, row: dict, schema: Any, corpus_dir: str | Path | None = None,
                 reject: dict | None = None):
        self.row = row
        self.schema = schema
        self.corpus_dir = Path(corpus_dir) if corpus_dir is not None else None
        self.reject = reject          # {"step", "reason", "detail"} for a rejected record

    # -- mapping -------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self.row[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.row)

    def __len__(self) -> int:
        return len(self.row)

    # -- helpers -------------------------------------------------------------------------------
    def json(self, name: str) -> Any:
        """A ``json`` field's value parsed (a rejected record may hold it parsed already)."""
        value = self.row.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return None
        return value

    def path(self, name: str) -> Path | None:
        """A file path field (a video), relative ones under the corpus folder."""
        value = self.row.get(name)
        if not value or not isinstance(value, str):
            return None
        p = Path(value)
        if not p.is_absolute() and self.corpus_dir is not None:
            p = self.corpus_dir / p
        return p

    def image_size(self, name: str, index: int | None = None) -> tuple[int, int] | None:
        """(width, height) of image ``name`` (the ``index``-th of a list): as the row declares
        it (the schema's ``size``), else read from the image."""
        return image_size(self.row, self.schema, name, index) if name in self.schema.names else None

    def image_panel(self, name: str | None = None, index: int | None = None, title: str = "",
                    default_size: tuple[int, int] = (320, 240)) -> Panel:
        """A panel showing image ``name`` (the ``index``-th of a list; default: the schema's
        ``role: image`` field, its first image), in pixels of the stored image."""
        name = name or self.image_field()
        if name is None:
            raise KeyError("the schema has no image field")
        value = self.row.get(name)
        if isinstance(value, list):
            index = 0 if index is None else index
            value = value[index] if index < len(value) else None
        data = image_bytes(value)
        size = self.image_size(name, index) or default_size
        label = title or (f"{name}[{index}]" if index is not None else name)
        return Panel(size[0], size[1], image=data, title=label, placeholder=data is None)

    def image_field(self) -> str | None:
        """The schema's ``role: image`` field, else its first image field."""
        from r1data.frames import is_image_type

        images = [f for f in self.schema.fields if is_image_type(f.type)]
        images.sort(key=lambda f: 0 if f.role == "image" else 1)
        return images[0].name if images else None

    def to_pixels(self, name: str, coords: Any, index: int | None = None) -> np.ndarray | None:
        """``coords`` (a box ``[x1, y1, x2, y2]``, a point, or an (N, 2) array) given in the frame
        field ``name`` declares, in pixels of its image (the ``index``-th of a list<image>).
        Coordinates of a field with no declared frame are returned as they are; None when the
        frame's size is unknown for this row."""
        arr = np.asarray(coords, dtype=np.float64)
        try:
            frame = self.schema.field(name).frame
        except KeyError:
            frame = None
        if frame is None:
            return arr
        size = self.image_size(frame.image, index if isinstance(self.row.get(frame.image), list) else None)
        if size is None and isinstance(self.row.get(frame.image), list) and index is None:
            size = self.image_size(frame.image, 0)
        scale = frame.scale(self.row, size)
        if scale is None:
            return None
        shape = arr.shape
        flat = arr.reshape(-1, 2) * np.asarray(scale)
        return flat.reshape(shape)
