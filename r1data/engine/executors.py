"""Executors: where the stateless steps of a spec run.

The engine reads the source and runs the stateful steps and the writer in the main process.
The stateless steps before the first stateful one (generation, rendering, annotation,
verification) run in an executor: in-process, or in N worker processes that each load the
spec themselves. Results come back in source order, so the output does not depend on the
executor or the number of workers.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from multiprocessing.context import SpawnContext, SpawnProcess
from dataclasses import dataclass
from pathlib import Path

from r1data.engine.pipeline import BatchResult, StepRunner, partition


@dataclass(frozen=True)
class StageArgs:
    """Everything a worker needs to rebuild the stateless stage (picklable)."""

    spec_file: str
    assets: object
    source: str | None
    source_dir: str | None
    seed: int
    output: str | None
    options: dict
    n_steps: int          # run steps[:n_steps]
    debug: bool = False
    source_params: dict | None = None

    def make_runner(self) -> StepRunner:
        from r1data.spec import load_spec

        self.assets.load_plugins()  # type: ignore[attr-defined]
        resolved = load_spec(self.spec_file, self.assets, source=self.source,  # type: ignore[arg-type]
                             source_dir=self.source_dir, source_params=self.source_params)
        return StepRunner(resolved, resolved.steps[: self.n_steps], seed=self.seed,
                          output=Path(self.output) if self.output else None, options=self.options,
                          debug=self.debug)


Task = tuple[int, int, list]   # (start, end, items)


def run_task(runner: StepRunner, task: Task) -> BatchResult:
    start, end, items = task
    rows, dropped = partition(items)
    kept, rejects = runner.run(rows)
    return BatchResult(start, end, kept, [("source", it) for it in dropped] + rejects, runner.take_stats())


class LocalExecutor:
    def __init__(self, args: StageArgs, runner: StepRunner | None = None):
        self.runner = runner or args.make_runner()

    def map(self, tasks: Iterable[Task]) -> Iterator[BatchResult]:
        for task in tasks:
            yield run_task(self.runner, task)

    def close(self, abort: bool = False) -> None:
        pass


_WORKER_RUNNER: StepRunner | None = None


def _init_worker(args: StageArgs, parent_pid: int) -> None:
    global _WORKER_RUNNER
    from r1data.procs import die_with_parent

    die_with_parent(parent_pid)          # a build killed with -9 takes its workers with it
    _WORKER_RUNNER = args.make_runner()


class _QuietProcess(SpawnProcess):
    """A spawned worker that ignores Ctrl-C from its first instruction on.

    The terminal sends SIGINT to the whole process group: workers still importing would each
    print a traceback. A disposition of SIG_IGN survives ``exec`` and Python then installs no
    KeyboardInterrupt handler, so the parent alone handles Ctrl-C and ends its workers."""

    def start(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return super().start()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            super().start()
        finally:
            signal.signal(signal.SIGINT, previous)


class _QuietSpawnContext(SpawnContext):
    Process = _QuietProcess


def _work(task: Task) -> BatchResult:
    assert _WORKER_RUNNER is not None
    return run_task(_WORKER_RUNNER, task)


class ProcessExecutor:
    """N spawned worker processes; at most ``2 * N`` batches in flight (memory stays flat)."""

    def __init__(self, args: StageArgs, workers: int):
        self.workers = workers
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=_QuietSpawnContext(),
                                           initializer=_init_worker, initargs=(args, os.getpid()))

    def map(self, tasks: Iterable[Task]) -> Iterator[BatchResult]:
        window: collections.deque[cf.Future] = collections.deque()
        it = iter(tasks)
        exhausted = False
        while True:
            while not exhausted and len(window) < 2 * self.workers:
                try:
                    window.append(self.pool.submit(_work, next(it)))
                except StopIteration:
                    exhausted = True
            if not window:
                return
            yield window.popleft().result()

    def close(self, abort: bool = False) -> None:
        """Wait for the workers to finish and exit; ``abort`` (Ctrl-C, an error) kills them now."""
        if abort:
            procs = list((getattr(self.pool, "_processes", None) or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.kill()
            for p in procs:
                p.join(5)
            return
        self.pool.shutdown(wait=True, cancel_futures=True)
