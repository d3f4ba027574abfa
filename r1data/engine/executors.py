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
import multiprocessing as mp
from collections.abc import Iterable, Iterator
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

    def close(self) -> None:
        pass


_WORKER_RUNNER: StepRunner | None = None


def _init_worker(args: StageArgs) -> None:
    global _WORKER_RUNNER
    _WORKER_RUNNER = args.make_runner()


def _work(task: Task) -> BatchResult:
    assert _WORKER_RUNNER is not None
    return run_task(_WORKER_RUNNER, task)


class ProcessExecutor:
    """N spawned worker processes; at most ``2 * N`` batches in flight (memory stays flat)."""

    def __init__(self, args: StageArgs, workers: int):
        self.workers = workers
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                           initializer=_init_worker, initargs=(args,))

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

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
