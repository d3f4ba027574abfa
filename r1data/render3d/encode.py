"""Image encoding shared by the corpora that store rendered views."""

from __future__ import annotations

import io

import numpy as np


def png_bytes(image: np.ndarray, compress_level: int = 3) -> bytes:
    """(H, W, 3) uint8 -> PNG bytes (deterministic for a given image and level)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()
