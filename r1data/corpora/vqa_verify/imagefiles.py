"""Reading image files for the image corpora: fully decoded once, so bad files are caught.

A truncated JPEG opens fine and fails only when its pixels are read; :func:`read_image`
decodes the whole file and reports what is wrong in one line, so a reader can turn it into
a ``Reject`` with a reason instead of a crash in the writer or, worse, at training time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from r1data.steps.base import RecordError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class BadImage(RecordError):
    """An image that cannot be used; ``reason`` is a short word for the rejects table."""


@dataclass(frozen=True)
class ImageFile:
    data: bytes          # the file's bytes, stored as they are (no re-encoding)
    width: int
    height: int
    mode: str


def decode_image(data: bytes, name: str = "image") -> ImageFile:
    """Check that ``data`` is a complete image and read its size; raises :class:`BadImage`."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise BadImage("corrupt_image", f"{name}: empty file")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()                       # decode every pixel: truncation shows here
            width, height, mode = im.width, im.height, im.mode
    except UnidentifiedImageError:
        raise BadImage("corrupt_image", f"{name}: not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError) as e:   # truncated or damaged data
        raise BadImage("corrupt_image", f"{name}: {e}") from None
    if width <= 0 or height <= 0:
        raise BadImage("corrupt_image", f"{name}: empty image {width}x{height}")
    return ImageFile(data, width, height, mode)


def read_image(path: Path) -> ImageFile:
    """Read and check one image file; raises :class:`BadImage` (missing, corrupt, truncated)."""
    if not path.is_file():
        raise BadImage("missing_image", f"{path}: no such image file")
    return decode_image(path.read_bytes(), str(path))


def find_image(folder: Path, stem: str) -> Path | None:
    """The image called ``stem`` with any usual suffix in ``folder`` (case-insensitive)."""
    for suffix in IMAGE_SUFFIXES:
        for s in (suffix, suffix.upper()):
            p = folder / f"{stem}{s}"
            if p.is_file():
                return p
    return None
