"""Reading a built corpus: the manifest, the shards as Arrow or ``datasets``, SQL over them."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa

from r1data.errors import UsageError


class Corpus:
    """A finished build in ``path`` (the folder holding ``manifest.json``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        manifest = self.path / "manifest.json"
        if not manifest.exists():
            if (self.path / ".r1data" / "checkpoint.json").exists():
                raise UsageError(f"{self.path} is an unfinished build; rerun the same `r1data build` "
                                 "command to resume and finish it")
            raise UsageError(f"{self.path} is not an r1data build (no manifest.json)")
        try:
            data = json.loads(manifest.read_bytes())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise UsageError(f"{manifest} is not an r1data manifest ({type(e).__name__}: {e})") from None
        if not isinstance(data, dict) or "splits" not in data or "spec_hash" not in data:
            raise UsageError(f"{manifest} is not an r1data manifest (no spec_hash or splits)")
        self.manifest: dict = data

    @property
    def name(self) -> str:
        return self.manifest["corpus"]

    @property
    def splits(self) -> list[str]:
        return list(self.manifest["splits"])

    def files(self, split: str) -> list[Path]:
        try:
            shards = self.manifest["splits"][split]["shards"]
        except KeyError:
            raise UsageError(f"{self.path} has no split {split!r} (splits: {', '.join(self.splits)})") from None
        return [self.path / s["file"] for s in shards]

    def reject_files(self) -> list[Path]:
        return [self.path / s["file"] for s in self.manifest["rejects"]["shards"]]

    def table(self, split: str | None = None, columns: list[str] | None = None) -> pa.Table:
        """A split (or all rows, with a ``split`` column) as a memory-mapped Arrow table."""
        if split is None:
            parts = []
            for name in self.splits:
                t = self.table(name, columns)
                parts.append(t.append_column("split", pa.array([name] * t.num_rows, pa.string())))
            return pa.concat_tables(parts) if parts else self.schema.empty_table()
        return _read_streams(self.files(split), columns)

    def rejects(self) -> pa.Table:
        return _read_streams(self.reject_files(), None)

    @cached_property
    def schema(self) -> pa.Schema:
        files = [f for s in self.splits for f in self.files(s)]
        if not files:
            from r1data.schema import load_schema  # noqa: F401 - a build always has a schema
            import datasets

            return datasets.Features.from_dict(self.manifest["features"]).arrow_schema
        with pa.memory_map(str(files[0])) as src:
            return pa.ipc.open_file(src).schema

    def features(self) -> Any:
        import datasets

        return datasets.Features.from_dict(self.manifest["features"])

    def to_datasets(self, split: str | None = None, **kwargs: Any) -> Any:
        """Load with ``datasets.load_dataset("arrow", ...)``: images decode as images."""
        import datasets

        data_files = {s: [str(f) for f in self.files(s)] for s in ([split] if split else self.splits)}
        ds = datasets.load_dataset("arrow", data_files=data_files, features=self.features(), **kwargs)
        return ds[split] if split else ds

    def duckdb(self) -> Any:
        """A DuckDB connection with views ``data`` (all splits, plus ``split``) and ``rejects``."""
        import duckdb
        import pyarrow.dataset as pads

        con = duckdb.connect()
        selects = []
        for i, name in enumerate(self.splits):
            ds = pads.dataset([str(f) for f in self.files(name)], format="ipc")
            con.register(f"_split_{i}", ds)
            selects.append(f"SELECT *, '{name}' AS split FROM _split_{i}")
        if selects:
            con.execute("CREATE VIEW data AS " + " UNION ALL ".join(selects))
        else:
            con.register("_empty", self.schema.empty_table())
            con.execute("CREATE VIEW data AS SELECT *, NULL::VARCHAR AS split FROM _empty")
        con.register("_rejects", pads.dataset([str(f) for f in self.reject_files()], format="ipc"))
        con.execute("CREATE VIEW rejects AS SELECT * FROM _rejects")
        return con

    def verify_checksums(self) -> list[str]:
        """Shards whose bytes differ from the manifest (empty when all is well)."""
        problems = []
        entries = [s for sp in self.manifest["splits"].values() for s in sp["shards"]]
        entries += self.manifest["rejects"]["shards"]
        for s in entries:
            path = self.path / s["file"]
            if not path.exists():
                problems.append(f"{s['file']}: missing")
                continue
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 22), b""):
                    h.update(chunk)
            if h.hexdigest() != s["sha256"]:
                problems.append(f"{s['file']}: checksum differs from the manifest")
        return problems


def _read_streams(files: list[Path], columns: list[str] | None) -> pa.Table:
    tables = []
    for f in files:
        with pa.memory_map(str(f)) as src:
            t = pa.ipc.open_file(src).read_all()
        tables.append(t.select(columns) if columns else t)
    if not tables:
        raise UsageError("no shards")
    return pa.concat_tables(tables)
