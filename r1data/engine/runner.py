"""``build``: read a source, run the steps, write shards, checkpoint, resume, finish.

Crash safety. The build's position is a *checkpoint* (``OUT/.r1data/checkpoint.json``,
replaced atomically): how many source items are fully processed, the stats so far, the
durable byte length of every shard being written and the state of stateful steps. It is
written at the end of any batch that completed a shard and at least every few seconds.
After ``kill -9`` the same command cuts the open shards back to the checkpoint, drops
shards written after it, restores step state, and continues reading the source at the
checkpointed position: the output equals an uninterrupted build's, byte for byte.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import itertools
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

import r1data
from r1data.assets import Assets
from r1data.engine.executors import LocalExecutor, ProcessExecutor, StageArgs, Task
from r1data.engine.pipeline import StepRunner, record_json
from r1data.engine.shards import ShardSeries, fsync_dir
from r1data.errors import BudgetExhausted, R1DataError, UsageError
from r1data.spec import ResolvedSpec, load_spec
from r1data.steps.base import Reject, StepContext, Stats

STATE_DIR = ".r1data"
REJECTS_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("step", pa.string()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("source_index", pa.int64()),
    ("record", pa.string()),
])


@dataclass
class BuildResult:
    output: Path
    manifest: dict
    resumed: bool = False
    already_complete: bool = False
    warnings: list[str] = field(default_factory=list)


def default_output(corpus: str) -> Path:
    return Path("out") / corpus


def build(spec: str | Path | ResolvedSpec, output: str | Path | None = None, *, size: int | None = None,
          seed: int | None = None, source: str | None = None, source_dir: str | Path | None = None,
          workers: int = 1, overwrite: bool = False, progress: bool = True,
          workspace: str | Path | None = None, options: dict | None = None,
          checkpoint_seconds: float = 5.0, debug: bool = False) -> BuildResult:
    """Build a corpus from its spec into ``output`` and return the manifest.

    ``spec`` is a corpus name (``"scene30k"``), a spec path, or a :class:`ResolvedSpec`.
    ``size`` is the number of rows to keep (default: the spec's ``size``; ``None`` in the
    spec means every source item). Rerunning the same call resumes an interrupted build and
    returns at once for a finished one; ``overwrite`` starts over.
    """
    if isinstance(spec, ResolvedSpec):
        resolved = spec
    else:
        assets = Assets.from_workspace(workspace)
        resolved = load_spec(spec, assets, source=source, source_dir=source_dir)
    size = resolved.spec.size if size is None else size
    if size is not None and size <= 0:
        raise UsageError(f"--size must be positive, got {size}")
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    seed = resolved.spec.seed if seed is None else seed
    out = Path(output) if output is not None else default_output(resolved.name)
    options = {**(options or {}), "workers": workers}
    return _Build(resolved, out, size=size, seed=seed, source=source,
                  source_dir=str(source_dir) if source_dir else None, workers=workers,
                  overwrite=overwrite, progress=progress, options=options,
                  checkpoint_seconds=checkpoint_seconds, debug=debug).run()


class _Build:
    def __init__(self, resolved: ResolvedSpec, out: Path, *, size: int | None, seed: int,
                 source: str | None, source_dir: str | None, workers: int, overwrite: bool,
                 progress: bool, options: dict, checkpoint_seconds: float, debug: bool):
        self.r = resolved
        self.out = out
        self.size = size
        self.seed = seed
        self.source = source
        self.source_dir = source_dir
        self.workers = workers
        self.overwrite = overwrite
        self.progress = progress
        self.options = options
        self.checkpoint_seconds = checkpoint_seconds
        self.debug = debug
        self.spec_hash = resolved.hash(size, seed)
        if options.get("annotator"):
            # another annotator writes other rows: a build with it is another build
            self.spec_hash = hashlib.sha256(f"{self.spec_hash}|annotator={options['annotator']}".encode()).hexdigest()
        self.max_cost = options.get("max_cost")
        self.state_dir = out / STATE_DIR
        self.schema = resolved.schema.arrow_schema()
        self.target_bytes = int(resolved.spec.output.shard_size_mb * 1024 * 1024)
        self.warnings: list[str] = []

    # -- output folder -----------------------------------------------------------------------
    def _prepare(self) -> dict | None:
        """Lock the folder; return a checkpoint to resume from, or None for a fresh build."""
        manifest_path = self.out / "manifest.json"
        if self.overwrite:
            self._clear()
        if manifest_path.exists() and not (self.state_dir / "checkpoint.json").exists():
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("spec_hash") == self.spec_hash:
                return {"complete": manifest}
            raise UsageError(f"{self.out} holds a finished build of another spec, seed or size; "
                             "pass --overwrite to replace it or choose another --output")
        ckpt_path = self.state_dir / "checkpoint.json"
        if ckpt_path.exists():
            ckpt = json.loads(ckpt_path.read_text())
            if ckpt.get("spec_hash") != self.spec_hash:
                raise UsageError(f"{self.out} holds an unfinished build of another spec, seed or size; "
                                 "rerun that command to finish it, or pass --overwrite to start over")
            return ckpt
        if (self.out / "data").exists():
            raise UsageError(f"{self.out}/data exists but is not an r1data build in progress; "
                             "pass --overwrite to replace it or choose another --output")
        return None

    def _clear(self) -> None:
        for name in ("data", "rejects"):
            if (self.out / name).exists():
                shutil.rmtree(self.out / name)
        (self.out / "manifest.json").unlink(missing_ok=True)
        for path in self.state_dir.iterdir():   # keep the lock we hold
            if path.name != "lock":
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def _lock(self) -> Any:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fh = open(self.state_dir / "lock", "w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise UsageError(f"another r1data build is writing {self.out}") from None
        return fh

    # -- the build ---------------------------------------------------------------------------
    def run(self) -> BuildResult:
        self.out.mkdir(parents=True, exist_ok=True)
        lock = self._lock()
        # Objects alive before the build (modules, the spec) never die during it; without
        # this the collector rescans them over and over while batches churn (5-10 % of a
        # build's CPU time on light steps). They go back to the collector afterwards.
        gc.freeze()
        try:
            ckpt = self._prepare()
            if ckpt and "complete" in ckpt:
                return BuildResult(self.out, ckpt["complete"], already_complete=True)
            return self._run(ckpt)
        finally:
            gc.unfreeze()
            lock.close()
            if (self.out / "manifest.json").exists() and not (self.state_dir / "checkpoint.json").exists():
                shutil.rmtree(self.state_dir, ignore_errors=True)

    def _run(self, ckpt: dict | None) -> BuildResult:
        r = self.r
        resumed = ckpt is not None
        self.stats = Stats.from_dict(ckpt["stats"]) if ckpt else Stats()
        self.cursor = ckpt["cursor"] if ckpt else 0
        self.kept = ckpt["kept"] if ckpt else 0
        self.prior_wall = ckpt.get("wall_time", 0.0) if ckpt else 0.0
        self.t0 = time.monotonic()
        series_state = ckpt.get("series", {}) if ckpt else {}
        self.series: dict[str, ShardSeries] = {
            split: ShardSeries(self.out, f"data/{split}", self.schema, self.target_bytes, state)
            for split, state in series_state.items()}
        self.rejects = ShardSeries(self.out, "rejects/rejects", REJECTS_SCHEMA, self.target_bytes,
                                   ckpt.get("rejects") if ckpt else None)
        if not resumed:
            for d in ("data",):
                folder = self.out / d
                if folder.exists():
                    for p in folder.glob(".*.arrow.tmp"):
                        p.unlink()
        if ckpt and ckpt.get("finalizing"):
            return self._finish(resumed=True)

        # stateless prefix -> executor; the rest (stateful steps, split) -> here, in order
        n_prefix = next((i for i, b in enumerate(r.steps) if b.stateful), len(r.steps))
        args = StageArgs(spec_file=str(r.file), assets=r.assets, source=self.source,
                         source_dir=self.source_dir, seed=self.seed, output=str(self.out),
                         options=self.options, n_steps=n_prefix, debug=self.debug)
        main_runner = StepRunner(r, r.steps[n_prefix:], seed=self.seed, output=self.out,
                                 options=self.options, debug=self.debug)
        self.main_runner = main_runner
        for b, fn in main_runner.stateful_steps():
            if ckpt and str(b.index) in ckpt.get("step_state", {}) and hasattr(fn, "load_state"):
                fn.load_state(self._step_dir(b.index), ckpt["step_state"][str(b.index)])
        source_ctx = StepContext(seed=self.seed, corpus=r.name, step="source", assets=r.assets,
                                 output=self.out, options=self.options)
        src = r.source_def.make(source_ctx, r.source_params)
        if not resumed:   # what the source counted while opening (a resumed build has it already)
            self.stats.merge(source_ctx.stats)
        source_ctx.stats.__init__()
        try:
            total_items = len(src)  # type: ignore[arg-type]
        except TypeError:
            total_items = None

        use_pool = self.workers > 1 and n_prefix > 0
        if self.options.get("executor") == "ray" and n_prefix > 0:
            from r1data.engine.ray_executor import RayExecutor

            executor: Any = RayExecutor(args, self.workers, address=self.options.get("ray_address"))
        elif use_pool:
            executor = ProcessExecutor(args, self.workers)
        else:
            executor = LocalExecutor(args, StepRunner(r, r.steps[:n_prefix], seed=self.seed, output=self.out,
                                                      options=self.options, debug=self.debug))
        bar = self._progress_bar(total_items)
        from r1data.annotators.quota import StatusTicker

        ticker = StatusTicker(self.state_dir, bar, f"build {r.name}")   # why it waits (a 429 pause), on the bar
        if not resumed:
            self._checkpoint()   # from here on the folder is always a resumable build
        self.last_ckpt = time.monotonic()
        exhausted = True
        try:
            self._check_budget()   # a resumed build may have spent its budget already
            from r1data.annotators.batch.prefetch import prefetch_batches

            # batch-mode annotators: every request through the batch API first, answers to the cache
            prefetch_batches(r, self.out, size=self.size, seed=self.seed, cursor=self.cursor, kept=self.kept,
                             options=self.options, stats=self.stats, max_cost=self.max_cost, progress=self.progress)
            self._check_budget()
            for result in executor.map(self._tasks(src, source_ctx)):
                self.stats.merge(result.stats)
                self.stats.merge(source_ctx.stats)   # what the source counted while reading
                source_ctx.stats.__init__()
                rows, rejects = main_runner.run(result.rows)
                self.stats.merge(main_runner.take_stats())
                rejects = result.rejects + rejects
                before = self.kept
                self._write(rows, rejects)
                self.cursor = result.end
                if bar is not None:
                    bar.update(self.kept - before if self.size or total_items is None else result.end - result.start)
                    bar.set_postfix(self._postfix(), refresh=False)
                if self.size is not None and self.kept >= self.size:
                    exhausted = False
                    break
                self._check_budget()
                if self._stalled(total_items):
                    exhausted = False
                    break
                if any(s.rolled for s in self.series.values()) or self.rejects.rolled or \
                        time.monotonic() - self.last_ckpt >= self.checkpoint_seconds:
                    self._checkpoint()
        except BudgetExhausted as e:
            # what is written so far stays, checkpointed: the same command continues later
            self._checkpoint()
            raise BudgetExhausted(f"{e.message}; stopped after {self.kept} rows, shards so far are "
                                  f"intact in {self.out}; rerun the command (with a higher --max-cost) "
                                  "to continue") from None
        finally:
            ticker.stop()
            executor.close()
            if bar is not None:
                bar.close()
        if exhausted and self.size is not None and self.kept < self.size:
            self.warnings.append(f"the source ran out after {self.cursor} items: {self.kept} rows kept, "
                                 f"fewer than the {self.size} asked for")
        return self._finish(resumed)

    def _postfix(self) -> dict:
        post: dict = {"rejected": self.stats.rejected}
        c = self.stats.counters
        tokens = sum(v for k, v in c.items() if k.startswith("tokens_"))
        if tokens:
            post["tokens"] = f"{tokens:,.0f}"
        cost = sum(v for k, v in c.items() if k.startswith("cost_usd"))
        if cost:
            post["cost"] = f"${cost:.2f}"
        return post

    def _check_budget(self) -> None:
        """Stop (checkpointed, resumable) once the API calls cost ``--max-cost`` dollars."""
        if self.max_cost is None:
            return
        spent = sum(v for k, v in self.stats.counters.items() if k.startswith("cost_usd"))
        if spent >= self.max_cost:
            raise BudgetExhausted(f"--max-cost ${self.max_cost:.2f} reached (spent ${spent:.2f})")

    def _stalled(self, total_items: int | None) -> bool:
        """An endless source whose records are all rejected would spin forever: stop it."""
        if total_items is not None or self.size is None:
            return False
        limit = 20 * self.size + 2000
        if self.cursor >= limit and self.kept < self.size:
            self.warnings.append(f"stopped after {self.cursor} source items with only {self.kept} rows "
                                 f"kept; see the rejects")
            return True
        return False

    def _tasks(self, src: Any, ctx: StepContext) -> Iterator[Task]:
        batch_size = self.r.spec.output.batch_size
        pos = self.cursor
        reader = src.read(self.cursor)
        while True:
            try:
                items = list(itertools.islice(reader, batch_size))
            except OSError as e:
                raise R1DataError(f"source {self.r.source_name}: {e}") from e
            if not items:
                return
            # remember each record's source position, for the rejects table
            for k, item in enumerate(items, pos):
                if item.__class__ is Reject:
                    item.row.setdefault("_source_index", k)
                else:
                    item["_source_index"] = k
            yield (pos, pos + len(items), items)
            pos += len(items)

    def _write(self, rows: list[dict], rejects: list[tuple[str, Reject]]) -> None:
        if rows:
            batch, bad = self.r.schema.to_batch(rows)
            if bad:
                bad_idx = {i for i, _ in bad}
                for i, reason in bad:
                    rejects.append(("write", Reject(rows[i], "schema", reason)))
                    self.stats.reject("write", "schema")
                rows = [row for i, row in enumerate(rows) if i not in bad_idx]
            if self.size is not None and self.kept + len(rows) > self.size:
                keep = self.size - self.kept
                self.stats.count("rows_beyond_size", len(rows) - keep)
                rows = rows[:keep]
                batch = batch.slice(0, keep)
            splits = [row.get("split") or "train" for row in rows]
            names = set(splits)
            for name in sorted(names, key=splits.index) if len(names) > 1 else names:
                if name not in self.series:
                    self.series[name] = ShardSeries(self.out, f"data/{name}", self.schema, self.target_bytes)
                if len(names) == 1:
                    part = batch
                else:
                    part = batch.take(pa.array([i for i, s in enumerate(splits) if s == name], pa.int64()))
                self.series[name].write(part)
            self.kept += len(rows)
        if rejects:
            for step, rj in rejects:
                if step in ("source",):
                    self.stats.reject(step, rj.reason)
            self.rejects.write(pa.RecordBatch.from_pylist([
                {"id": str(rj.row.get("id")) if rj.row.get("id") is not None else None,
                 "step": step, "reason": rj.reason, "detail": rj.detail,
                 "source_index": rj.row.get("_source_index"), "record": record_json(rj.row)}
                for step, rj in rejects], schema=REJECTS_SCHEMA))

    # -- checkpoints ---------------------------------------------------------------------------
    def _step_dir(self, index: int) -> Path:
        d = self.state_dir / "state" / f"step-{index}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _checkpoint(self, finalizing: bool = False) -> None:
        state: dict[str, Any] = {
            "spec_hash": self.spec_hash,
            "r1data_version": r1data.__version__,
            "cursor": self.cursor,
            "kept": self.kept,
            "stats": self.stats.to_dict(),
            "series": {name: s.checkpoint() for name, s in self.series.items()},
            "rejects": self.rejects.checkpoint(),
            "step_state": {},
            "wall_time": self.prior_wall + time.monotonic() - self.t0,
            "finalizing": finalizing,
        }
        runner = getattr(self, "main_runner", None)
        if runner is not None:
            for b, fn in runner.stateful_steps():
                if hasattr(fn, "save_state"):
                    state["step_state"][str(b.index)] = fn.save_state(self._step_dir(b.index))
        write_json_atomic(self.state_dir / "checkpoint.json", state)
        self.last_ckpt = time.monotonic()

    def _progress_bar(self, total_items: int | None) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        if self.size is not None:
            total, initial, unit = self.size, self.kept, "rows"
        elif total_items is not None:
            total, initial, unit = total_items, self.cursor, "items"
        else:
            total, initial, unit = None, self.kept, "rows"
        return tqdm(total=total, initial=initial, unit=f" {unit}", desc=f"build {self.r.name}",
                    dynamic_ncols=True, file=sys.stderr, smoothing=0.1, mininterval=0.5)

    # -- the end ----------------------------------------------------------------------------
    def _finish(self, resumed: bool) -> BuildResult:
        for s in self.series.values():
            s.close_all()
        self.rejects.close_all(always_one=True)
        self._checkpoint(finalizing=True)
        splits = {}
        for name in sorted(self.series, key=_split_order):
            shards = self.series[name].final_names()
            if shards:
                splits[name] = {"rows": sum(s.rows for s in shards), "shards": [s.to_dict() for s in shards]}
        rejects = self.rejects.final_names()
        manifest = self._manifest(splits, rejects)
        write_json_atomic(self.out / "manifest.json", manifest)
        (self.state_dir / "checkpoint.json").unlink(missing_ok=True)
        fsync_dir(self.out)
        return BuildResult(self.out, manifest, resumed=resumed, warnings=self.warnings)

    def _manifest(self, splits: dict, rejects: list) -> dict:
        r = self.r
        verifiers = {name: {"passed": p, "total": t, "pass_rate": (p / t if t else None)}
                     for name, (p, t) in sorted(self.stats.verifiers.items())}
        steps = []
        for b in r.steps:
            s = self.stats.steps.get(b.name, {"in": 0, "out": 0, "rejected": 0})
            entry = {"step": b.name, **s, "reasons": self.stats.reasons.get(b.name, {})}
            suffix = f":{b.name}"   # what an API step counted: calls, tokens, cost (annotate.py)
            usage = {k[: -len(suffix)]: v for k, v in self.stats.counters.items() if k.endswith(suffix)}
            if usage:
                entry["usage"] = usage
            steps.append(entry)
        return {
            "corpus": r.name,
            "description": r.spec.description,
            "r1data_version": r1data.__version__,
            "spec_hash": self.spec_hash,
            "spec_file": r.file.name,
            **({"annotator": self.options["annotator"]} if self.options.get("annotator") else {}),
            "spec": r.canonical(self.size, self.seed),
            "seed": self.seed,
            "size": self.size,
            "source": {"name": r.source_name, "reader": r.source_def.name,
                       "items_read": self.cursor},
            "rows": sum(s["rows"] for s in splits.values()),
            "splits": splits,
            "rejects": {
                "rows": sum(s.rows for s in rejects),
                "shards": [s.to_dict() for s in rejects],
                "by_step": {k: dict(v) for k, v in self.stats.reasons.items()},
            },
            "steps": steps,
            "verifiers": verifiers,
            "counters": self.stats.counters,
            "features": r.schema.features().to_dict(),
            "schema": r.schema.to_dict(),
            "wall_time_s": round(self.prior_wall + time.monotonic() - self.t0, 3),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": {"python": platform.python_version(), "pyarrow": pa.__version__},
            "warnings": self.warnings,
        }


def _split_order(name: str) -> tuple[int, str]:
    order = {"train": 0, "validation": 1, "test": 2}
    return order.get(name, 3), name


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
