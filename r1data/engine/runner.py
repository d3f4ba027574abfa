"""``build``: read a source, run the steps, write shards, checkpoint, resume, finish.

Crash safety. The build's position is a *checkpoint* (``OUT/.r1data/checkpoint.json``,
replaced atomically): how many source items are fully processed, the stats so far, the
durable byte length of every shard being written and the state of stateful steps. It is
written at the end of any batch that completed a shard and at least every few seconds.
After ``kill -9`` (of a build, or of a resume at any moment) the same command continues the
open shards after their checkpointed bytes (never rewriting them), drops shards written after
the checkpoint, restores step state, and continues reading the source at the checkpointed
position: the output equals an uninterrupted build's, byte for byte.

Spending safety. After every batch the build stops, checkpointed, when ``--max-cost`` is
spent (:class:`~r1data.errors.BudgetExhausted`) or when the yield so far says the size cannot
be reached (:mod:`r1data.engine.yieldguard`). At the end every record is accounted for
(:mod:`r1data.engine.accounting`).
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import r1data
from r1data.assets import Assets
from r1data.engine import folder
from r1data.engine.accounting import account
from r1data.engine.executors import LocalExecutor, ProcessExecutor, StageArgs, Task
from r1data.engine.faults import disk_full, source_fault
from r1data.engine.folder import STATE_DIR
from r1data.engine.manifest import make_manifest, write_json_atomic
from r1data.engine.pipeline import StepRunner
from r1data.engine.shards import fsync_dir
from r1data.engine.writer import REJECTS_SCHEMA, Writer
from r1data.engine.yieldguard import Spend, YieldGuard, projected_total_cost
from r1data.errors import AccountingError, BudgetExhausted, R1DataError, UsageError, YieldTooLow
from r1data.spec import ResolvedSpec, load_spec
from r1data.steps.base import Reject, StepContext, Stats

__all__ = ["BuildResult", "build", "default_output", "write_json_atomic", "REJECTS_SCHEMA", "STATE_DIR"]

ACCOUNTING_VERSION = 1      # checkpoints that count every stage (older ones are not checked)


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
          checkpoint_seconds: float = 5.0, debug: bool = False,
          source_params: dict | None = None) -> BuildResult:
    """Build a corpus from its spec into ``output`` and return the manifest.

    ``spec`` is a corpus name (``"scene30k"``), a spec path, or a :class:`ResolvedSpec`.
    ``size`` is the number of rows to keep (default: the spec's ``size``; ``None`` in the
    spec means every source item). Rerunning the same call resumes an interrupted build and
    returns at once for a finished one; ``overwrite`` starts over, deleting only what r1data
    wrote. ``options``: ``annotator``, ``refresh``, ``max_cost`` (USD), ``max_read_multiple``,
    ``executor``/``ray_address``.

    Raises :class:`~r1data.errors.BudgetExhausted` or :class:`~r1data.errors.YieldTooLow`
    (the folder stays resumable), :class:`~r1data.errors.AccountingError` when the counts do
    not add up, :class:`~r1data.errors.DiskFull` when the disk fills up. ``source_params``
    override the chosen source's parameters (``--source-param split=val2014``).
    """
    if isinstance(spec, ResolvedSpec):
        resolved = spec
    else:
        assets = Assets.from_workspace(workspace)
        resolved = load_spec(spec, assets, source=source, source_dir=source_dir, source_params=source_params)
    size = resolved.spec.size if size is None else size
    if size is not None and size <= 0:
        raise UsageError(f"--size must be positive, got {size}")
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    multiple = (options or {}).get("max_read_multiple")
    if multiple is not None and not multiple > 0:
        raise UsageError(f"--max-read-multiple must be a positive number, got {multiple}")
    seed = resolved.spec.seed if seed is None else seed
    out = Path(output) if output is not None else default_output(resolved.name)
    options = {**(options or {}), "workers": workers}
    return _Build(resolved, out, size=size, seed=seed, source=source,
                  source_dir=str(source_dir) if source_dir else None, workers=workers,
                  overwrite=overwrite, progress=progress, options=options,
                  checkpoint_seconds=checkpoint_seconds, debug=debug,
                  source_params=source_params).run()


class _Build:
    def __init__(self, resolved: ResolvedSpec, out: Path, *, size: int | None, seed: int,
                 source: str | None, source_dir: str | None, workers: int, overwrite: bool,
                 progress: bool, options: dict, checkpoint_seconds: float, debug: bool,
                 source_params: dict | None = None):
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
        self.source_params = source_params
        self.spec_hash = resolved.hash(size, seed)
        if options.get("annotator"):
            # another annotator writes other rows: a build with it is another build
            self.spec_hash = hashlib.sha256(f"{self.spec_hash}|annotator={options['annotator']}".encode()).hexdigest()
        self.max_cost = options.get("max_cost")
        # the size the bar and the yield stop project for (an estimate builds fewer rows than that)
        self.project_size = options.get("project_size") or size
        self.guard = YieldGuard(size, float(options.get("max_read_multiple") or resolved.spec.max_read_multiple),
                                report_size=self.project_size)
        self.state_dir = out / STATE_DIR
        self.target_bytes = int(resolved.spec.output.shard_size_mb * 1024 * 1024)
        self.warnings: list[str] = []

    # -- output folder -----------------------------------------------------------------------
    def _prepare(self, state: folder.FolderState) -> dict | None:
        """Return a checkpoint to resume from, ``{"complete": manifest}``, or None to start."""
        if state.kind == "empty":
            folder.clear_build(self.out, state)   # shards of a build killed before its first checkpoint
            return None
        if self.overwrite:
            if state.kind in ("finished", "unfinished"):
                left = folder.clear_build(self.out, state)
                if left:
                    self.warnings.append("--overwrite left what r1data did not write: " + ", ".join(left[:10]))
            return None
        if state.kind == "unfinished":
            if state.damaged_checkpoint:
                raise UsageError(f"{self.state_dir / 'checkpoint.json'} is damaged ({state.damaged_checkpoint}); "
                                 "pass --overwrite to start this build over")
            ckpt = state.checkpoint or {}
            if ckpt.get("spec_hash") != self.spec_hash:
                raise UsageError(f"{self.out} holds an unfinished build of another spec, seed or size; "
                                 "rerun that command to finish it, or pass --overwrite to start over")
            return ckpt
        if state.kind == "finished":
            manifest = state.manifest or {}
            if manifest.get("spec_hash") == self.spec_hash:
                return {"complete": manifest}
            raise UsageError(f"{self.out} holds a finished build of another spec, seed or size; "
                             "pass --overwrite to replace it or choose another --output")
        return None

    def _refuse(self, state: folder.FolderState) -> None:
        """Refuse, before touching it, a folder that is not (and must not become) a build."""
        if state.kind == "foreign":
            why = folder.foreign_message(self.out, state, self.overwrite)
            if why:
                raise UsageError(why)

    def _preflight(self) -> None:
        """Steps that need an outside program check it here, in this process, before any worker
        starts or anything is written (a step class's ``preflight(params)``, raising one line)."""
        for b in self.r.steps:
            check = getattr(b.definition.target, "preflight", None)
            if callable(check):
                check(b.params)

    # -- the build ---------------------------------------------------------------------------
    def run(self) -> BuildResult:
        self._refuse(folder.inspect_folder(self.out))
        self._preflight()
        created = not self.out.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        lock = folder.lock(self.out)
        # Objects alive before the build (modules, the spec) never die during it; without
        # this the collector rescans them over and over while batches churn (5-10 % of a
        # build's CPU time on light steps). They go back to the collector afterwards.
        gc.freeze()
        try:
            ckpt = self._prepare(folder.inspect_folder(self.out))
            if ckpt and "complete" in ckpt:
                result = BuildResult(self.out, ckpt["complete"], already_complete=True)
            else:
                result = self._run(ckpt)
        except Exception as e:
            full = disk_full(e, self.out)
            if full is not None and not self.debug:
                raise full from None
            raise
        finally:
            gc.unfreeze()
            lock.close()
            if not (self.state_dir / "checkpoint.json").exists():
                # finished, or failed before its first checkpoint: no lock or state left behind
                folder.clear_state(self.out, keep_lock=False)
                if not (self.out / "manifest.json").exists():
                    folder.remove_empty(self.out, remove_root=created)
        accounting = result.manifest.get("accounting") or {}
        if accounting.get("ok") is False:
            raise AccountingError(f"the counts of {self.out} do not add up: " + "; ".join(accounting["problems"])
                                  + " (a bug in a step or the engine: the rows are written, but check them)")
        return result

    def _restore(self, ckpt: dict) -> None:
        try:
            self.stats = Stats.from_dict(ckpt["stats"])
            self.cursor = int(ckpt["cursor"])
            self.prior_wall = float(ckpt.get("wall_time", 0.0))
            self.writer = Writer(self.out, self.r.schema, self.target_bytes, self.size, self.stats, ckpt)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UsageError(f"{self.state_dir / 'checkpoint.json'} is damaged ({type(e).__name__}: {e}); "
                             "pass --overwrite to start this build over") from None
        self.counted = ckpt.get("accounting") == ACCOUNTING_VERSION

    @property
    def kept(self) -> int:
        return self.writer.kept

    def _run(self, ckpt: dict | None) -> BuildResult:
        r = self.r
        resumed = ckpt is not None
        self.t0 = time.monotonic()
        if ckpt:
            self._restore(ckpt)
        else:
            self.stats, self.cursor, self.prior_wall, self.counted = Stats(), 0, 0.0, True
            self.writer = Writer(self.out, r.schema, self.target_bytes, self.size, self.stats)
        if ckpt and ckpt.get("finalizing"):
            return self._finish(resumed=True)

        # stateless prefix -> executor; the rest (stateful steps, split) -> here, in order
        n_prefix = next((i for i, b in enumerate(r.steps) if b.stateful), len(r.steps))
        args = StageArgs(spec_file=str(r.file), assets=r.assets, source=self.source,
                         source_dir=self.source_dir, seed=self.seed, output=str(self.out),
                         options=self.options, n_steps=n_prefix, debug=self.debug,
                         source_params=self.source_params)
        main_runner = StepRunner(r, r.steps[n_prefix:], seed=self.seed, output=self.out,
                                 options=self.options, debug=self.debug)
        self.main_runner = main_runner
        for b, fn in main_runner.stateful_steps():
            if ckpt and str(b.index) in ckpt.get("step_state", {}) and hasattr(fn, "load_state"):
                fn.load_state(self._step_dir(b.index), ckpt["step_state"][str(b.index)])
        source_ctx = StepContext(seed=self.seed, corpus=r.name, step="source", assets=r.assets,
                                 output=self.out, options=self.options)
        src = r.source_def.make(source_ctx, r.source_params)
        self.source_root = getattr(src, "root", None)
        if not resumed:   # what the source counted while opening (a resumed build has it already)
            self.stats.merge(source_ctx.stats)
        source_ctx.stats.__init__()
        try:
            total_items = len(src)  # type: ignore[arg-type]
        except TypeError:
            total_items = None

        if self.options.get("executor") == "ray" and n_prefix > 0:
            from r1data.engine.ray_executor import RayExecutor

            executor: Any = RayExecutor(args, self.workers, address=self.options.get("ray_address"))
        elif self.workers > 1 and n_prefix > 0:
            executor = ProcessExecutor(args, self.workers)
        else:
            executor = LocalExecutor(args, StepRunner(r, r.steps[:n_prefix], seed=self.seed, output=self.out,
                                                      options=self.options, debug=self.debug))
        bar = self._progress_bar(total_items)
        from r1data.annotators.quota_status import StatusTicker

        ticker = StatusTicker(self.state_dir, bar, f"build {r.name}")   # why it waits (a 429 pause), on the bar
        if not resumed:
            self._checkpoint()   # from here on the folder is always a resumable build
        self.last_ckpt = time.monotonic()
        exhausted = True
        abort = False
        try:
            self._check_limits(total_items)   # a resumed build may be past a limit already
            from r1data.annotators.batch.prefetch import prefetch_batches

            # batch-mode annotators: every request through the batch API first, answers to the cache
            prefetch_batches(r, self.out, size=self.size, seed=self.seed, cursor=self.cursor, kept=self.kept,
                             options=self.options, stats=self.stats, max_cost=self.max_cost, progress=self.progress)
            self._check_limits(total_items)
            for result in executor.map(self._tasks(src, source_ctx)):
                self.stats.merge(result.stats)
                self.stats.merge(source_ctx.stats)   # what the source counted while reading
                source_ctx.stats.__init__()
                rows, rejects = main_runner.run(result.rows)
                self.stats.merge(main_runner.take_stats())
                before = self.kept
                self.guard.note_rejects(result.rejects + rejects)
                self.writer.write(rows, result.rejects + rejects)
                self.cursor = result.end
                if bar is not None:
                    bar.update(self.kept - before if self.size or total_items is None else result.end - result.start)
                    bar.set_postfix(self._postfix(), refresh=False)
                if self.size is not None and self.kept >= self.size:
                    exhausted = False
                    break
                self._check_limits(total_items)
                if self.writer.rolled or time.monotonic() - self.last_ckpt >= self.checkpoint_seconds:
                    self._checkpoint()
        except (BudgetExhausted, YieldTooLow) as e:
            # what is written so far stays, checkpointed: the same command continues later
            self._checkpoint()
            if isinstance(e, BudgetExhausted):
                raise BudgetExhausted(f"{e.message}; stopped after {self.kept} rows, shards so far are intact "
                                      f"in {self.out}; rerun the command (with a higher --max-cost) to continue") from None
            raise
        except BaseException:
            abort = True       # Ctrl-C, a fault: end the workers now, resume from the last checkpoint
            raise
        finally:
            ticker.stop()
            executor.close(abort=abort)
            if bar is not None:
                bar.close()
        if exhausted and self.size is not None and self.kept < self.size:
            self.warnings.append(f"the source ran out after {self.cursor} items: {self.kept} rows kept, "
                                 f"fewer than the {self.size} asked for")
        return self._finish(resumed)

    def _postfix(self) -> dict:
        post: dict = {"rejected": self.stats.rejected}
        spend = Spend.of(self.stats)
        tokens = spend.tokens_in + spend.tokens_out
        if tokens:
            post["tokens"] = f"{tokens:,.0f}"
        if spend.value_usd:
            total = projected_total_cost(self.stats, self.kept, self.project_size)
            post["cost"] = f"${spend.cost_usd:,.2f}" + (f" of ~${total:,.2f}" if total is not None else "")
        return post

    def _check_limits(self, total_items: int | None) -> None:
        """Stop (checkpointed, resumable) once ``--max-cost`` is spent or the yield is too low."""
        if self.max_cost is not None:
            spent = Spend.of(self.stats).cost_usd
            if spent >= self.max_cost:
                raise BudgetExhausted(f"--max-cost ${self.max_cost:.2f} reached (spent ${spent:.2f})")
        why = self.guard.why_stop(self.cursor, self.kept, total_items, self.stats)
        if why:
            raise YieldTooLow(why)

    def _tasks(self, src: Any, ctx: StepContext) -> Iterator[Task]:
        batch_size = self.r.spec.output.batch_size
        pos = self.cursor
        reader = src.read(self.cursor)
        while True:
            try:
                items = list(itertools.islice(reader, batch_size))
            except R1DataError:
                raise
            except Exception as e:   # a damaged file (a cut .gz) or an unreadable one: one line
                fault = source_fault(e, self.r.source_name)
                if fault is None and isinstance(e, OSError) and disk_full(e, self.out) is None:
                    fault = R1DataError(f"source {self.r.source_name}: {e}")
                if fault is None or self.debug:
                    raise
                raise fault from e
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
            **self.writer.checkpoint(),      # kept, series, rejects
            "stats": self.stats.to_dict(),
            "step_state": {},
            "wall_time": self.prior_wall + time.monotonic() - self.t0,
            "finalizing": finalizing,
            "accounting": ACCOUNTING_VERSION if self.counted else None,
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
    def _image_budget(self, splits: dict) -> dict | None:
        """What the rows' images cost the corpus's training recipe (r1data.budget), for the
        manifest; a problem computing it is a warning, never a failed build."""
        from r1data.budget import build_budget

        try:
            return build_budget(self.out, splits, self.r)
        except Exception as e:     # the rows are written; the figure is a convenience
            self.warnings.append(f"image budget not computed: {type(e).__name__}: {e}")
            return None

    def _finish(self, resumed: bool) -> BuildResult:
        self.writer.close()
        self._checkpoint(finalizing=True)
        splits, rejects = self.writer.final_names()
        if self.counted:
            accounting = account(self.stats, [b.label for b in self.r.steps], self.cursor, self.kept)
        else:
            accounting = {"ok": None, "problems": [], "note": "resumed from a checkpoint of an r1data "
                          "version that did not count every stage"}
        manifest = make_manifest(self.r, stats=self.stats, spec_hash=self.spec_hash, size=self.size, seed=self.seed,
                                 options=self.options, items_read=self.cursor, splits=splits, rejects=rejects,
                                 accounting=accounting, wall_time_s=self.prior_wall + time.monotonic() - self.t0,
                                 warnings=self.warnings, source_root=getattr(self, "source_root", None))
        budget = self._image_budget(splits)
        if budget is not None:
            manifest["image_budget"] = budget
        write_json_atomic(self.out / "manifest.json", manifest)
        (self.state_dir / "checkpoint.json").unlink(missing_ok=True)
        fsync_dir(self.out)
        return BuildResult(self.out, manifest, resumed=resumed, warnings=self.warnings)
