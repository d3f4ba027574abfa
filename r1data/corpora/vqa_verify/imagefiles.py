"""Reading image files for the image corpora: fully decoded once, so bad files are caught.

A truncated JPEG opens fine and fails only when its pixels are read; :func:`read_image`
decodes the whole file and reports what is wrong in one line, so a reader can turn it into
a ``Reject`` with a reason instead of a crash in the writer or, worse, at training time.

Size is checked from the header before any pixel is decoded: an image of more than
``max_pixels`` pixels is ``image_too_large`` (a 12000 x 12000 PNG is 144 M pixels, 432 MB
decoded, far more than any VLM input), and one PIL itself refuses as a decompression bomb
(twice ``PIL.Image.MAX_IMAGE_PIXELS``) is ``decompression_bomb``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from r1data.sourcefiles import is_regular_file
from r1data.steps.base import RecordError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# 50 M pixels (about 7070 x 7070): above any aerial tile or photo these corpora use, far below
# what makes a worker swap; Qwen2.5-VL's default input is at most 12.8 M pixels anyway
MAX_PIXELS = 50_000_000


class BadImage(RecordError):
    """An image that cannot be used; ``reason`` is a short word for the rejects table."""


@dataclass(frozen=True)
class ImageFile:
    data: bytes          # the file's bytes, stored as they are (no re-encoding)
    width: int
    height: int
    mode: str
    format: str = ""     # PIL's name of the format (PNG, JPEG, ...)


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS) -> ImageFile:
    """Check that ``data`` is a complete image of at most ``max_pixels`` pixels and read its
    size; raises :class:`BadImage` (``corrupt_image``, ``image_too_large``, ``decompression_bomb``)."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise BadImage("corrupt_image", f"{name}: empty file")
    try:
        with warnings.catch_warnings():
            # PIL warns between MAX_IMAGE_PIXELS and twice that; max_pixels decides here
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height, mode, fmt = im.width, im.height, im.mode, im.format or ""
                if width * height > max_pixels:
                    raise BadImage("image_too_large", f"{name}: {width}x{height} is {width * height:,} pixels, "
                                                      f"more than max_pixels {max_pixels:,}")
                im.load()                       # decode every pixel: truncation shows here
    except BadImage:
        raise
    except Image.DecompressionBombError as e:
        raise BadImage("decompression_bomb", f"{name}: {e}") from None
    except UnidentifiedImageError:
        raise BadImage("corrupt_image", f"{name}: not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:   # truncated or damaged data
        raise BadImage("corrupt_image", f"{name}: {e}") from None
    except MemoryError:
        raise BadImage("image_too_large", f"{name}: its pixels do not fit in memory") from None
    if width <= 0 or height <= 0:
        raise BadImage("corrupt_image", f"{name}: empty image {width}x{height}")
    return ImageFile(data, width, height, mode, fmt)


def read_image(path: Path, max_pixels: int = MAX_PIXELS) -> ImageFile:
    """Read and check one image file; raises :class:`BadImage` (missing, not a regular file,
    corrupt, truncated, too large)."""
    if not is_regular_file(path):
        what = "no such image file" if not path.exists() else "not a regular file"
        raise BadImage("missing_image", f"{path}: {what}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadImage("missing_image", f"{path}: cannot read ({e.strerror or e})") from None
    return decode_image(data, str(path), max_pixels)


def find_image(folder: Path, stem: str) -> Path | None:
    """The image called ``stem`` with any usual suffix in ``folder`` (case-insensitive)."""
    for suffix in IMAGE_SUFFIXES:
        for s in (suffix, suffix.upper()):
            p = folder / f"{stem}{s}"
            if is_regular_file(p):
                return p
    return None
