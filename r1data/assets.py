"""Where declared assets are found.

A search path of roots, each holding some of ``pipelines/ schemas/ annotators/
datasets_cards/ train/``: first the user's workspaces (``--workspace DIR`` or
``$R1DATA_WORKSPACE``), then the assets shipped with r1data. A workspace file with the same
name as a shipped one overrides it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from r1data.errors import UnknownNameError, UsageError

KINDS = ("pipelines", "schemas", "annotators", "datasets_cards", "train")


def builtin_root() -> Path:
    """The shipped assets: ``r1data/_assets`` in a wheel, the repository root in a checkout."""
    pkg = Path(__file__).resolve().parent
    installed = pkg / "_assets"
    if installed.is_dir():
        return installed
    return pkg.parent


@dataclass(frozen=True)
class Assets:
    """The search path for declared files. Immutable and picklable (sent to workers)."""

    workspaces: tuple[Path, ...] = field(default_factory=tuple)

    @classmethod
    def from_workspace(cls, workspace: str | Path | None = None, *, plugins: bool = True) -> "Assets":
        """The shipped files plus ``workspace`` (and ``$R1DATA_WORKSPACE``); ``plugins`` also
        imports the registered steps and sources (not needed to read files such as cards)."""
        roots: list[Path] = []
        for w in (workspace, os.environ.get("R1DATA_WORKSPACE")):
            if w:
                path = Path(w).expanduser().resolve()
                if not path.is_dir():
                    raise UsageError(f"workspace {w} is not a directory")
                if path not in roots:
                    roots.append(path)
        assets = cls(tuple(roots))
        if plugins:
            assets.load_plugins()
        return assets

    @property
    def roots(self) -> tuple[Path, ...]:
        return (*self.workspaces, builtin_root())

    def load_plugins(self) -> None:
        from r1data.registry import load_builtins, load_workspace_plugins

        load_builtins()
        for w in self.workspaces:
            load_workspace_plugins(w)

    def find(self, kind: str, name: str, suffixes: tuple[str, ...] = (".yaml", ".yml")) -> Path:
        """Resolve ``name`` (a bare name or a relative path inside ``kind``) to a file."""
        for root in self.roots:
            for suffix in ("", *suffixes):
                candidate = root / kind / f"{name}{suffix}"
                if candidate.is_file():
                    return candidate
        raise UnknownNameError(kind.rstrip("s") if kind != "datasets_cards" else "card",
                               name, self.list(kind, suffixes))

    def list(self, kind: str, suffixes: tuple[str, ...] = (".yaml", ".yml")) -> dict[str, Path]:
        """Names of the files of a kind, the workspace's shadowing the shipped ones."""
        found: dict[str, Path] = {}
        for root in reversed(self.roots):
            folder = root / kind
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.is_file() and path.suffix in suffixes and not path.name.startswith(("_", ".")):
                    found[path.stem] = path
        return dict(sorted(found.items()))

    def resolve(self, kind: str, name_or_path: str | Path, relative_to: Path | None = None,
                suffixes: tuple[str, ...] = (".yaml", ".yml")) -> Path:
        """A path if it looks like one (exists, or has a separator/suffix), else a name."""
        text = str(name_or_path)
        as_path = Path(text).expanduser()
        if relative_to is not None and not as_path.is_absolute():
            rel = relative_to / as_path
            if rel.is_file():
                return rel
        if as_path.is_file():
            return as_path
        if os.sep in text or as_path.suffix in suffixes:
            if not any(text.startswith(k + "/") for k in KINDS):
                raise UsageError(f"{kind[:-1]} file {text} does not exist")
            text = text.split("/", 1)[1]
        return self.find(kind, Path(text).with_suffix("").as_posix() if as_path.suffix in suffixes else text, suffixes)
