"""Getting a row's images and videos to Label Studio.

Two ways, chosen by ``--media-root``:

* none (the default): images travel inside the task as ``data:`` URIs. Nothing to set up;
  fine for review samples of a few hundred rows. Videos must then be URLs already.
* ``--media-root DIR``: files are written under ``DIR/r1data/<project>/`` and referenced as
  ``/data/local-files/?d=...``; ``DIR`` must be the server's
  ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`` (``scripts/label-studio.sh`` prints it) on the same
  machine. A local-files storage is attached to the project (Label Studio answers 404 for
  local files without one); it is never synced, so it imports no tasks of its own.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from pathlib import Path
from urllib.parse import quote

from r1data.errors import UsageError


def _sniff(data: bytes) -> tuple[str, str]:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png", ".png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg", ".jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return "application/octet-stream", ".bin"


class Media:
    """Turns image bytes and video paths into URLs Label Studio can show."""

    def __init__(self, project: str, corpus_dir: Path, media_root: str | Path | None = None):
        self.corpus_dir = Path(corpus_dir)
        self.root = Path(media_root).resolve() if media_root else None
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", project)
        self.folder = self.root / "r1data" / safe if self.root else None

    def image_url(self, data: bytes) -> str:
        mime, ext = _sniff(data)
        if self.folder is None:
            return f"data:{mime};base64," + base64.b64encode(data).decode()
        # content-addressed: pushing twice writes nothing new
        name = hashlib.sha256(data).hexdigest()[:24] + ext
        path = self.folder / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return self._local_url(path)

    def video_url(self, value: str) -> str:
        if re.match(r"^(https?|s3|gs)://", value):
            return value
        src = Path(value)
        if not src.is_absolute():
            src = self.corpus_dir / src
        if self.folder is None:
            raise UsageError(f"video {value} is a local file; pass --media-root (the server's "
                             "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT) so it can be served")
        if not src.exists():
            raise UsageError(f"video {src} not found")
        dest = self.folder / (hashlib.sha256(str(src.resolve()).encode()).hexdigest()[:24] + src.suffix)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        return self._local_url(dest)

    def _local_url(self, path: Path) -> str:
        assert self.root is not None
        return "/data/local-files/?d=" + quote(str(path.relative_to(self.root)))
