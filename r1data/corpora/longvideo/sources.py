"""The longvideo sources: procedural long videos (the embedded default) and any folder of videos.

``procedural_videos`` yields event logs only (no I/O, cheap and ordered); the
``render_procedural_video`` step turns each into an mp4 inside the build folder, in the
workers. ``video_folder`` lists the videos of ``--source-dir`` in a fixed order; a video
with a ``NAME.events.json`` event log beside it (what
:func:`r1data.corpora.longvideo.render.write_procedural_folder` writes) carries its ground
truth along.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from r1data.corpora.longvideo.script import Script, make_script
from r1data.corpora.longvideo.video import VIDEO_SUFFIXES
from r1data.errors import UsageError
from r1data.sourcefiles import BadRecord, decode_line, is_regular_file, printable
from r1data.steps.base import Reject, Source, StepContext, source


@source("procedural_videos")
class ProceduralVideos(Source):
    """Endless procedural videos; video ``i`` is a pure function of the seed and ``i``.

    ``duration`` is the target length in seconds (a video runs until its last event ends,
    so short targets come out a little longer); ``objects`` is an inclusive range.
    """

    def __init__(self, ctx: StepContext, *, duration: float = 180.0, objects: tuple[int, int] = (3, 5)):
        if not 10 <= duration <= 6 * 3600:
            raise UsageError(f"duration: expected 10 to 21600 seconds, got {duration}")
        if not 3 <= objects[0] <= objects[1] <= 12:
            raise UsageError(f"objects: expected [min, max] with 3 <= min <= max <= 12, got {list(objects)}")
        self.ctx = ctx
        self.duration = duration
        self.objects = objects

    def read(self, start: int = 0) -> Iterator[dict]:
        i = start
        while True:
            rng = self.ctx.rng("video", i)
            video_id = f"lv{i:07d}"
            n = int(rng.integers(self.objects[0], self.objects[1] + 1))
            script = make_script(rng, video_id, self.duration, n)
            yield {"id": video_id, "video_id": video_id, "script": script, "source": "procedural"}
            i += 1


def _video_id(path: Path, root: Path) -> str:
    """A stable id from the path under the folder: ``cooking/day 1.mp4`` -> ``cooking_day_1``
    (a listed video outside the list's folder: from its whole path)."""
    try:
        parts = list(path.relative_to(root).parts)
    except ValueError:
        parts = list(path.parts[1:] if path.is_absolute() else path.parts)
    if parts:
        parts[-1] = Path(parts[-1]).stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(parts)).strip("_.") or "video"   # never "." or ".."


@source("video_folder")
class VideoFolder(Source):
    """Every video (``.mp4 .mkv .webm .mov .avi``) under ``dir``, sorted by path; or, when
    ``dir`` is a text file, the videos it lists (one path per line, relative to the list's
    folder or absolute; blank lines and ``#`` comments ignored), in its order.

    Unreadable files are not skipped here: the ``probe_video`` step rejects them with the
    reason, so they show in the rejects table. A file name that is not UTF-8 (in the folder,
    or a line of the list) is rejected here (``bad_file_name``, ``bad_encoding``): its name
    could not be stored.
    """

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, recursive: bool = True):
        self.ctx = ctx
        given = Path(dir).expanduser()
        self.entries: list[Path | tuple[str, BadRecord]] = []
        if given.is_file():
            if not is_regular_file(given):
                raise UsageError(f"--source-dir {dir}: not a regular file or folder")
            self.root = given.resolve().parent
            try:
                lines = given.read_bytes().splitlines()
            except OSError as e:
                raise UsageError(f"--source-dir {dir}: cannot read ({e.strerror or e})") from None
            for n, raw in enumerate(lines, 1):
                where = f"{printable(given.name)}:{n}"
                try:
                    line = decode_line(raw, where).split("#", 1)[0].strip()
                except BadRecord as e:
                    self.entries.append((where, BadRecord(e.reason, f"{e.detail}: {printable(raw.strip())} cannot "
                                                                    "be stored; rename the file and the line")))
                    continue
                if "\0" in line:
                    self.entries.append((where, BadRecord("bad_path", f"{where}: the path holds a NUL byte")))
                elif line:
                    try:
                        path = Path(line).expanduser()
                    except RuntimeError:   # ~name of no such user: a plain path
                        path = Path(line)
                    self.entries.append(path if path.is_absolute() else self.root / path)
            if not self.entries:
                raise UsageError(f"--source-dir {dir}: the list names no video")
            ctx.record_file(given)
            return
        if not given.is_dir():
            raise UsageError(f"--source-dir {dir}: no such folder or list file (source video_folder reads a "
                             f"folder of {', '.join(VIDEO_SUFFIXES)} files, or a text file listing videos)")
        pattern = "**/*" if recursive else "*"
        self.root = given.resolve()
        self.entries = sorted(p for p in self.root.glob(pattern)
                              if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))
        if not self.entries:
            raise UsageError(f"--source-dir {dir}: no {', '.join(VIDEO_SUFFIXES)} files in it")

    @property
    def paths(self) -> list[Path]:
        return [p for p in self.entries if isinstance(p, Path)]

    def __len__(self) -> int:
        return len(self.entries)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for entry in self.entries[start:]:
            if isinstance(entry, tuple):
                where, e = entry
                yield Reject({"id": where, "video_id": "", "source": "folder"}, e.reason, e.detail)
                continue
            path = entry
            vid = _video_id(path, self.root)
            shown = printable(str(path))
            row: dict = {"id": vid, "video_id": vid, "video_path": shown, "videos": shown,
                         "source": "folder", "script": None}
            if shown != str(path):
                yield Reject(row, "bad_file_name", f"{shown}: the file name is not UTF-8; rename it")
                continue
            log = path.parent / (path.stem + ".events.json")
            if path.name and log.is_file():
                try:
                    row["script"] = Script.from_json(log.read_text(encoding="utf-8"))
                except (ValueError, OSError, TypeError, KeyError) as e:
                    yield Reject(row, "bad_event_log", f"{log.name}: {type(e).__name__}: {e}")
                    continue
                self.ctx.record_file(log)
            yield row
