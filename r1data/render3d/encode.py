"""Image encoding shared by the corpora that store rendered views.

Rendered views are flat-shaded: long runs of one colour, which deflate finds as repeats
without any PNG row filter. Pillow's encoder tries the five filters on every row and keeps
the best, which costs more than the compression itself; writing the PNG here, unfiltered,
is about 2.5x faster and about 15 % smaller on scene30k's views (measured in
``scripts/bench_images.py``). The file is a plain PNG (IHDR, one IDAT, IEND) that every
reader decodes to the same pixels.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 3: 2, 4: 6}          # channels -> PNG colour type (grey, RGB, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(image: np.ndarray, compress_level: int = 3) -> bytes:
    """(H, W, 3) uint8 (or (H, W) grey, (H, W, 4) RGBA) -> PNG bytes, rows unfiltered,
    deflated at ``compress_level`` (deterministic for a given image, level and zlib)."""
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in _COLOR_TYPE):
        raise ValueError(f"png_bytes takes (H, W), (H, W, 3) or (H, W, 4) uint8, got {img.shape} {img.dtype}")
    h, w = img.shape[:2]
    channels = 1 if img.ndim == 2 else img.shape[2]
    raw = np.zeros((h, w * channels + 1), dtype=np.uint8)     # each row: filter type 0, then its bytes
    raw[:, 1:] = img.reshape(h, -1)
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPE[channels], 0, 0, 0)
    return (_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), compress_level))
            + _chunk(b"IEND", b""))
