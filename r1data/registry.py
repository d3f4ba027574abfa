"""Registries: a name -> object map per kind, filled by decorators.

Built-in steps, sources, verifiers and annotator functions register the same way a plugin
does: a decorator and a name. Outside packages add theirs through the ``r1data.plugins``
entry-point group; a workspace adds them with ``plugins/*.py`` (see :func:`load_plugins`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, TypeVar

from r1data.errors import UnknownNameError, UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects of one kind by name. ``get`` of an unknown name lists the known ones."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def register(self, name: str, obj: T, **meta: Any) -> T:
        if name in self._items and self._items[name] is not obj:
            existing = self._items[name]
            # re-importing the same module (workspace plugins, tests) re-registers: allow it
            if getattr(existing, "__qualname__", None) != getattr(obj, "__qualname__", None):
                raise UsageError(f"{self.kind} {name!r} is registered twice "
                                 f"({_where(existing)} and {_where(obj)})")
        self._items[name] = obj
        self._meta[name] = meta
        return obj

    def __call__(self, name: str | None = None, **meta: Any) -> Callable[[T], T]:
        """Decorator form: ``@steps("dedup")`` or ``@steps()`` (the object's own name)."""

        def deco(obj: T) -> T:
            self.register(name or getattr(obj, "__name__"), obj, **meta)
            return obj

        return deco

    def get(self, name: str, where: str | None = None) -> T:
        load_builtins()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items, where=where) from None

    def meta(self, name: str) -> dict[str, Any]:
        return self._meta.get(name, {})

    def names(self) -> list[str]:
        load_builtins()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        load_builtins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _where(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"


steps: Registry[Any] = Registry("step")
sources: Registry[Any] = Registry("source")
verifiers: Registry[Any] = Registry("verifier")
filters: Registry[Any] = Registry("filter rule")
annotator_functions: Registry[Any] = Registry("programmatic annotator")
# how a corpus's rows are drawn in `r1data report` (r1data.report.drawer), keyed by corpus name
drawers: Registry[Any] = Registry("drawer")

# Modules whose import registers the built-ins. Corpus modules import their optional
# dependencies (pyffish, decord, ...) lazily, so importing them here stays cheap.
BUILTIN_MODULES = ("r1data.steps", "r1data.corpora")
_builtins_loaded = False
_loaded_workspaces: set[Path] = set()


def load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for mod in BUILTIN_MODULES:
        importlib.import_module(mod)
    for ep in entry_points(group="r1data.plugins"):
        try:
            ep.load()
        except Exception as e:  # a broken third-party plugin must not hide the built-ins
            print(f"warning: r1data plugin {ep.name!r} failed to load: {e}", file=sys.stderr)


def load_workspace_plugins(workspace: Path) -> None:
    """Import ``WORKSPACE/plugins/*.py`` once, so their decorators register."""
    load_builtins()
    plugin_dir = Path(workspace).resolve() / "plugins"
    if plugin_dir in _loaded_workspaces or not plugin_dir.is_dir():
        return
    _loaded_workspaces.add(plugin_dir)
    for path in sorted(plugin_dir.glob("*.py")):
        # a stable name, so objects from plugins pickle across worker processes
        mod_name = f"r1data_workspace_{hashlib.sha1(str(plugin_dir).encode()).hexdigest()[:10]}_{path.stem}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise UsageError(f"{path}: plugin failed to import: {type(e).__name__}: {e}") from e
