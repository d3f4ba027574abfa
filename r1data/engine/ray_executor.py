"""The Ray executor: the stateless steps of a spec on a Ray cluster, unchanged.

Same contract as :class:`r1data.engine.executors.ProcessExecutor`: the driver reads the source,
sends batches out, gets results back in source order and runs the stateful steps and the
writer itself, so shards, manifest, rejects and resume are exactly those of a local build
(byte-identical, not only the same set of rows).

Each worker is a Ray actor that builds the stage once (``StageArgs.make_runner``), so what a
step keeps between batches lives in the actor for the whole build: a Fairy-Stockfish process, an
annotator client with its connection pool, a loaded model. Actors ask for one CPU each (a step
that needs more can be given more with ``ray_cpus_per_worker``). At most ``2 x workers``
batches are in flight, so the driver's memory stays flat whatever the corpus size.

Ray is optional (``pip install 'r1data[ray]'``); without ``--ray-address`` a local cluster is
started on this machine (node address 127.0.0.1; some of Ray's own services still listen
on all interfaces) and stopped at the end.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable, Iterator
from typing import Any

from r1data.engine.executors import StageArgs, Task, run_task
from r1data.engine.pipeline import BatchResult
from r1data.errors import UsageError


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'r1data[ray]'") from None
    return ray


class _StageWorker:
    """One actor: the stage built once, then batches run through it."""

    def __init__(self, args: StageArgs):
        self.runner = args.make_runner()

    def run(self, task: Task) -> BatchResult:
        return run_task(self.runner, task)


class RayExecutor:
    def __init__(self, args: StageArgs, workers: int | None, address: str | None = None,
                 cpus_per_worker: float = 1.0):
        ray = _import_ray()
        self.ray = ray
        self.started_here = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True,
                                      "configure_logging": False}
            if address:
                kwargs["address"] = address
            else:
                # a local cluster of this machine, its node address 127.0.0.1
                kwargs.update(num_cpus=max(workers or os.cpu_count() or 1, 1), _node_ip_address="127.0.0.1")
            try:
                ray.init(**kwargs)
            except ConnectionError as e:
                raise UsageError(f"--ray-address {address}: cannot connect to a Ray cluster ({e})") from None
            self.started_here = True
        if not workers:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_worker))
        self.workers = workers
        actor_cls = ray.remote(num_cpus=cpus_per_worker)(_StageWorker)
        self.actors = [actor_cls.remote(args) for _ in range(workers)]

    def map(self, tasks: Iterable[Task]) -> Iterator[BatchResult]:
        window: collections.deque[Any] = collections.deque()
        it = iter(tasks)
        exhausted = False
        i = 0
        while True:
            while not exhausted and len(window) < 2 * self.workers:
                try:
                    task = next(it)
                except StopIteration:
                    exhausted = True
                    break
                window.append(self.actors[i % self.workers].run.remote(task))
                i += 1
            if not window:
                return
            yield self.ray.get(window.popleft())

    def close(self, abort: bool = False) -> None:
        for actor in getattr(self, "actors", []):
            self.ray.kill(actor)
        self.actors = []
        if self.started_here:
            self.ray.shutdown()
