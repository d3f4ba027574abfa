"""Masks as COCO run-length encodings (pycocotools), the form ReVOS/MeVIS release theirs in.

``encode`` gives ``{"size": [h, w], "counts": "..."}`` with the compressed counts string that
``mask_dict.json`` holds; ``decode`` reads one back (also the uncompressed ``counts`` list form).
pycocotools is the ``omni`` extra; it is imported inside the functions.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def encode(mask: np.ndarray) -> dict:
    """A boolean H x W mask as COCO compressed RLE ``{"size": [h, w], "counts": str}``."""
    from pycocotools import mask as coco

    with warnings.catch_warnings():    # pycocotools 2.0 calls np.array(copy=False) on its own object
        warnings.simplefilter("ignore", DeprecationWarning)
        rle = coco.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode(rle: Any) -> np.ndarray:
    """A COCO RLE (compressed string or uncompressed list ``counts``) as a boolean H x W mask;
    ``ValueError`` when it is not one."""
    from pycocotools import mask as coco

    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise ValueError("not a COCO RLE (expected {size: [h, w], counts: ...})")
    size = rle["size"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise ValueError(f"RLE size {size!r} is not [height, width]")
    counts = rle["counts"]
    try:
        if isinstance(counts, list):
            if sum(counts) != size[0] * size[1]:
                raise ValueError(f"RLE counts add up to {sum(counts)}, not {size[0]} x {size[1]}")
            compressed = coco.frPyObjects({"size": size, "counts": counts}, size[0], size[1])
        elif isinstance(counts, str):
            compressed = {"size": size, "counts": counts.encode("ascii")}
        else:
            raise ValueError("RLE counts must be a string or a list of integers")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return coco.decode(compressed).astype(bool)
    except (TypeError, UnicodeEncodeError) as e:
        raise ValueError(f"unreadable RLE ({e})") from None


def box(mask: np.ndarray) -> list[float] | None:
    """``[x1, y1, x2, y2]`` around a mask's pixels (x2, y2 one past the last), None when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def png(mask: np.ndarray) -> bytes:
    """A mask as a single-channel PNG (0 / 255), the schema's ``mask`` type."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(buf, format="PNG")
    return buf.getvalue()
