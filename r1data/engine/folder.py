"""The output folder of a build: what it holds, the writer's lock, and what ``--overwrite`` deletes.

r1data deletes only what it wrote. A folder is an r1data build when it holds an r1data
manifest (``manifest.json`` with a spec hash) or a checkpoint (``.r1data/checkpoint.json``);
``--overwrite`` of a build deletes the files that manifest and checkpoint record, the shards
r1data names (``data/SPLIT-00003.arrow`` and the like, written after the last checkpoint) and
its own state under ``.r1data/``, and nothing else. A folder holding anything else is refused,
naming what is in the way. A damaged or foreign ``manifest.json`` or checkpoint is one line.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1data.errors import UsageError

STATE_DIR = ".r1data"
# what r1data itself keeps under .r1data/ (the lock, the checkpoint, the stateful steps' state)
STATE_NAMES = ("lock", "checkpoint.json", "checkpoint.json.tmp", "state")
# the files r1data writes under data/ and rejects/ (open, closed, final shards)
SHARD_NAME = re.compile(r"\.?[A-Za-z0-9][A-Za-z0-9_-]*-\d{5}(-of-\d{5})?\.arrow(\.tmp)?")
OWN_FOLDERS = ("data", "rejects")


@dataclass
class FolderState:
    """What :func:`inspect_folder` found.

    ``kind``: ``empty`` (missing, empty, or only r1data's own state), ``finished`` (an
    r1data manifest and no checkpoint), ``unfinished`` (a checkpoint: a build to resume) or
    ``foreign`` (anything else)."""

    kind: str
    manifest: dict | None = None
    checkpoint: dict | None = None
    damaged_checkpoint: str | None = None       # why the checkpoint could not be read
    foreign: list[str] = field(default_factory=list)


def _read_json(path: Path) -> tuple[Any, str | None]:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as e:
        return None, f"unreadable: {e.strerror}"
    try:
        return json.loads(text), None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"not JSON: {e}"


def _entries(folder: Path, limit: int = 6) -> list[str]:
    """A few names in ``folder`` (relative, folders with a /), for messages."""
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() or p.is_symlink():
            out.append(str(p.relative_to(folder)))
            if len(out) >= limit:
                break
    return out


def inspect_folder(out: Path) -> FolderState:
    """Classify ``out`` without changing it; a damaged or foreign manifest is a UsageError."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder: choose another --output")
    if not out.exists():
        return FolderState("empty")
    manifest_path = out / "manifest.json"
    manifest, why = _read_json(manifest_path)
    if why is not None or (manifest_path.exists() and not is_manifest(manifest)):
        raise UsageError(f"{manifest_path} is not an r1data manifest ({why or 'no spec_hash or corpus'}); "
                         "r1data will not replace it: move it away or choose another --output")
    ckpt_path = out / STATE_DIR / "checkpoint.json"
    ckpt, ckpt_why = _read_json(ckpt_path)
    if ckpt_path.exists() and ckpt_why is None and not (isinstance(ckpt, dict) and "spec_hash" in ckpt):
        ckpt_why = "no spec_hash"
    if ckpt_path.exists():
        return FolderState("unfinished", manifest=manifest, checkpoint=None if ckpt_why else ckpt,
                           damaged_checkpoint=ckpt_why)
    if manifest is not None:
        return FolderState("finished", manifest=manifest)
    # no manifest, no checkpoint: empty, or what a build killed before its first checkpoint left
    # (r1data's state, its own folders holding only shards it named), or somebody else's files
    foreign = []
    for p in sorted(out.iterdir()):
        if p.name == STATE_DIR and p.is_dir() and not p.is_symlink():
            foreign += [f"{STATE_DIR}/{q.name}" for q in sorted(p.iterdir()) if q.name not in STATE_NAMES]
        elif p.name in OWN_FOLDERS and p.is_dir() and not p.is_symlink():
            foreign += [f"{p.name}/{q.name}" + ("/" if q.is_dir() else "") for q in sorted(p.iterdir())
                        if not (q.is_file() and not q.is_symlink() and SHARD_NAME.fullmatch(q.name))]
        else:
            foreign.append(p.name + ("/" if p.is_dir() else ""))
    return FolderState("foreign" if foreign else "empty", foreign=foreign)


def is_manifest(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("spec_hash"), str) and "corpus" in data


def recorded_files(out: Path, state: FolderState) -> set[Path]:
    """The files a build's manifest and checkpoint say r1data wrote (that exist)."""
    files: set[Path] = set()
    m = state.manifest or {}
    for split in (m.get("splits") or {}).values():
        for shard in (split or {}).get("shards") or []:
            files.add(out / str(shard.get("file")))
    for shard in (m.get("rejects") or {}).get("shards") or []:
        files.add(out / str(shard.get("file")))
    ck = state.checkpoint or {}
    series = [(f"data/{name}", s) for name, s in (ck.get("series") or {}).items()]
    series.append(("rejects/rejects", ck.get("rejects")))
    for prefix, s in series:
        s = s if isinstance(s, dict) else {}
        for shard in s.get("closed") or []:
            files.add(out / str(shard.get("file")))
        if s.get("open"):
            p = out / prefix
            files.add(p.parent / f".{p.name}-{int(s['open']['index']):05d}.arrow.tmp")
    # never outside the folder, whatever a damaged record says
    root = out.resolve()
    return {f for f in files if f.resolve().is_relative_to(root) and f.is_file()}


def clear_build(out: Path, state: FolderState) -> list[str]:
    """Delete what r1data wrote in a build folder; return what was left (not r1data's)."""
    for f in recorded_files(out, state):
        f.unlink(missing_ok=True)
    left: list[str] = []
    for name in OWN_FOLDERS:
        folder = out / name
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.is_file() and not p.is_symlink() and SHARD_NAME.fullmatch(p.name):
                p.unlink()          # a shard r1data named, written after the last checkpoint
            else:
                left.append(f"{name}/{p.name}" + ("/" if p.is_dir() else ""))
        if not any(folder.iterdir()):
            folder.rmdir()
    (out / "manifest.json").unlink(missing_ok=True)
    clear_state(out)
    state_dir = out / STATE_DIR
    if state_dir.is_dir():
        left += [f"{STATE_DIR}/{p.name}" for p in sorted(state_dir.iterdir()) if p.name not in STATE_NAMES]
    return left


def clear_state(out: Path, keep_lock: bool = True) -> None:
    """Remove r1data's own files under ``.r1data/`` (and the folder, once empty)."""
    state_dir = out / STATE_DIR
    if not state_dir.is_dir():
        return
    for name in STATE_NAMES:
        if name == "lock" and keep_lock:
            continue
        p = state_dir / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()
    if not keep_lock and not any(state_dir.iterdir()):
        state_dir.rmdir()


def remove_empty(out: Path, remove_root: bool = False) -> None:
    """Remove r1data's folders that hold nothing (and ``out`` itself when asked and empty)."""
    for name in OWN_FOLDERS:
        p = out / name
        if p.is_dir() and not p.is_symlink() and not any(p.iterdir()):
            p.rmdir()
    if remove_root and out.is_dir() and not any(out.iterdir()):
        out.rmdir()


def lock(out: Path) -> Any:
    """Hold the folder's writer lock (``.r1data/lock``) or say who holds it."""
    state_dir = out / STATE_DIR
    state_dir.mkdir(parents=True, exist_ok=True)
    fh = open(state_dir / "lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise UsageError(f"another r1data build is writing {out}") from None
    return fh


def foreign_message(out: Path, state: FolderState, overwrite: bool) -> str | None:
    """Why a folder that is not an r1data build is refused; None when a build may go in it
    (without --overwrite, a folder whose data/, rejects/ and manifest.json are free)."""
    if overwrite:
        shown = ", ".join(state.foreign[:6]) + (f" and {len(state.foreign) - 6} more" if len(state.foreign) > 6 else "")
        return (f"--overwrite: {out} is not an r1data build (it holds {shown}); r1data deletes only what it "
                "wrote: choose another --output, or empty the folder yourself")
    in_way = [name for name in ("data", "rejects", "manifest.json") if (out / name).exists()]
    if not in_way:
        return None
    shown = []
    for name in in_way:
        p = out / name
        shown += [f"{name}/{e}" for e in _entries(p, 3)] if p.is_dir() else [name]
    return (f"{out} is not an r1data build and holds {', '.join(shown[:6]) or ', '.join(in_way)}, in the way "
            "of a build's data/, rejects/ and manifest.json: choose another --output")
