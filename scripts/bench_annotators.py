"""Annotator throughput: how close the API client gets to the ideal rate, the goodput under a
quota the server enforces, and the per-call overhead of the annotate step with the offline
annotator.

    python scripts/bench_annotators.py [--requests 2000] [--latency 0.1] [--concurrency 64]
                                       [--provider openai|gemini] [--cache] [--processes P]
    python scripts/bench_annotators.py --quota-rpm 6000 [--quota-seconds 10] [--ray]

1. API: ``--requests`` requests through the real client library against a local stand-in
   server (``python -m tests.servers``, its own process) answering after ``--latency``
   seconds, at ``--concurrency``. The ideal rate is concurrency / latency (capped by the
   profile's rate limit; none here); printed: achieved / ideal (target >= 0.9).
2. Programmatic: the ``annotate`` step with the programmatic profile over batches of rows,
   against the same function called in a plain loop (the baseline); printed: calls/s and the
   ratio step / plain loop.
3. Quota (``--quota-rpm Q``, instead of 1 and 2): the stand-in server ENFORCES Q requests a
   minute (429 beyond, with Retry-After); 1, 2 and 4 client processes share one build quota
   (the file :class:`~r1data.annotators.quota.FileQuota`, as ``--workers`` does) and send
   ``Q/60 x --quota-seconds`` requests between them. Goodput = answers / what the quota
   allowed in that time (its rate x wall time + its one-second burst); target >= 0.9. Run
   once with the profile naming the quota and once with a profile that names no limit (the
   client learns it from the 429s), and against the old static split (each process its own
   quota of Q/P) as the baseline. ``--ray`` adds the quota as a Ray actor: the cost of one
   reservation round trip, against the file's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _client_share(provider: str, url: str, n: int, concurrency: int, cache_path: str | None,
                  start: float | None = None) -> tuple[int, int, float, float]:
    """One process's part: ``n`` requests at ``concurrency``; (sent, failed, t_start, t_end)."""
    sys.path.insert(0, str(REPO))
    from r1data.annotators.cache import ResponseCache
    from r1data.annotators.client import AnnotatorClient
    from r1data.annotators.profile import AnnotatorProfile, providers
    from r1data.annotators.request import AnnotationRequest, Media

    os.environ.setdefault("R1DATA_BENCH_KEY", "bench-key")
    profile = AnnotatorProfile(provider=provider, model="bench-model", base_url=url, api_key_env="R1DATA_BENCH_KEY",
                               max_concurrency=concurrency, timeout_s=30, name="bench")
    store = ResponseCache(cache_path) if cache_path else None
    client = AnnotatorClient(profile, providers.get(provider)(profile), cache=store)
    image = Media(b"\x89PNG\r\n\x1a\n" + bytes(2000), "image/png")
    tag = os.getpid()
    requests = [(AnnotationRequest.user(f"Question {tag}-{i}: is there a chair in the room?", [image]), "think_answer")
                for i in range(n)]
    client.run([(AnnotationRequest.user(f"warm-up {tag}-{i}"), "text") for i in range(concurrency)])
    if start is not None:          # processes start together, after their imports and warm-up
        time.sleep(max(0.0, start - time.time()))
    t0 = time.time()
    answers = client.run(requests)
    t1 = time.time()
    client.close()
    return n, sum(isinstance(a, Exception) for a in answers), t0, t1


def bench_api(provider: str, n: int, latency: float, concurrency: int, cache: bool, processes: int) -> None:
    from r1data.annotators.profile import AnnotatorProfile

    server = subprocess.Popen([sys.executable, "-m", "tests.servers", provider, "--latency", str(latency)],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[1]
        with tempfile.TemporaryDirectory() as tmp:
            cache_path = str(Path(tmp) / "cache.sqlite") if cache else None
            if processes == 1:
                results = [_client_share(provider, url, n, concurrency, cache_path)]
            else:      # like `r1data build --workers P`: each process gets its share of the limits
                import concurrent.futures as cf
                import multiprocessing as mp

                start = time.time() + 8.0
                with cf.ProcessPoolExecutor(processes, mp_context=mp.get_context("spawn")) as pool:
                    futures = [pool.submit(_client_share, provider, url, n // processes,
                                           max(1, concurrency // processes), cache_path, start)
                               for _ in range(processes)]
                    results = [f.result() for f in futures]
        sent = sum(r[0] for r in results)
        failed = sum(r[1] for r in results)
        wall = max(r[3] for r in results) - min(r[2] for r in results)
        achieved = sent / wall
        ideal = AnnotatorProfile(provider=provider, model="m", max_concurrency=concurrency).ideal_rate(latency)
        print(f"api ({provider}, cache {'on' if cache else 'off'}, {processes} process(es)): {sent} requests, "
              f"latency {latency * 1000:.0f} ms, concurrency {concurrency}: {achieved:,.0f} req/s of an ideal "
              f"{ideal:,.0f} req/s -> ratio {achieved / ideal:.3f} (target >= 0.9); {failed} failed")
    finally:
        server.terminate()
        server.wait(timeout=10)


def _quota_share(provider: str, url: str, n: int, concurrency: int, rpm: float | None, mode: str,
                 quota_path: str, processes: int, barrier: Any) -> tuple[int, int, float, float, int]:
    """One process's part of a quota run: ``n`` requests; (answered, failed, t_start, t_end, 429s)."""
    sys.path.insert(0, str(REPO))
    from r1data.annotators.client import AnnotatorClient
    from r1data.annotators.profile import AnnotatorProfile, providers
    from r1data.annotators.quota import FileQuota, LocalQuota
    from r1data.annotators.request import AnnotationRequest

    os.environ.setdefault("R1DATA_BENCH_KEY", "bench-key")
    profile = AnnotatorProfile(provider=provider, model="bench-model", base_url=url, api_key_env="R1DATA_BENCH_KEY",
                               max_concurrency=concurrency, timeout_s=30, backoff_initial_s=0.05, backoff_max_s=1.0,
                               requests_per_minute=rpm, name="bench")
    if mode == "static":         # the old way: each process its own share of the rate
        quota: object = LocalQuota(rpm / processes if rpm else None)
    else:
        quota = FileQuota(quota_path, rpm)
    client = AnnotatorClient(profile, providers.get(provider)(profile), quota=quota)  # type: ignore[arg-type]
    tag = os.getpid()
    requests = [(AnnotationRequest.user(f"Question {tag}-{i}: is there a chair?"), "text") for i in range(n)]
    # the first call pays for the client's lazy imports and connection: not part of the figure
    client.run([(AnnotationRequest.user(f"warm-up {tag}"), "text")])
    barrier.wait()                 # every process ready: go together
    time.sleep(1.0)                # the server's burst refills after the warm-ups
    t0 = time.time()
    answers = client.run(requests)
    t1 = time.time()
    client.close()
    failed = sum(isinstance(a, Exception) for a in answers)
    return n - failed, failed, t0, t1, client.usage.retries


def bench_quota(provider: str, rpm: float, seconds: float, latency: float, concurrency: int, ray: bool) -> None:
    import concurrent.futures as cf
    import multiprocessing as mp

    rate = rpm / 60
    total = int(rate * seconds)
    burst = 1.0
    print(f"quota: the server enforces {rpm:,.0f} requests/min ({rate:,.0f}/s, a {burst:g} s burst), latency "
          f"{latency * 1000:.0f} ms, concurrency {concurrency} per build, {total} requests per run")
    runs = [("profile names the quota", "shared", rpm), ("profile names no limit (learned)", "shared", None),
            ("baseline: static split", "static", rpm)]
    for label, mode, profile_rpm in runs:
        for processes in (1, 2, 4):
            if mode == "static" and processes == 1:
                continue
            server = subprocess.Popen([sys.executable, "-m", "tests.servers", provider, "--latency", str(latency),
                                       "--quota-rpm", str(rpm), "--quota-burst", str(burst)],
                                      cwd=REPO, stdout=subprocess.PIPE, text=True)
            try:
                assert server.stdout is not None
                url = server.stdout.readline().split()[1]
                with tempfile.TemporaryDirectory() as tmp, mp.Manager() as manager:
                    barrier = manager.Barrier(processes)
                    # uneven work, as batches fall on workers: the first process gets half of it
                    shares = [total // 2] + [total // 2 // (processes - 1)] * (processes - 1) if processes > 1 \
                        else [total]
                    with cf.ProcessPoolExecutor(processes, mp_context=mp.get_context("spawn")) as pool:
                        futures = [pool.submit(_quota_share, provider, url, n, max(1, concurrency // processes),
                                               profile_rpm, mode, str(Path(tmp) / "quota.json"), processes, barrier)
                                   for n in shares]
                        results = [f.result() for f in futures]
                    learned = _learned(Path(tmp) / "quota.json")
            finally:
                server.terminate()
                server.wait(timeout=10)
            answered = sum(r[0] for r in results)
            failed = sum(r[1] for r in results)
            wall = max(r[3] for r in results) - min(r[2] for r in results)
            allowed = rate * wall + rate * burst
            print(f"  {label:<34} {processes} process(es): {answered / wall:7.1f} answers/s in {wall:5.1f} s -> "
                  f"goodput {answered / allowed:.3f} of the quota (target >= 0.9); {sum(r[4] for r in results)} "
                  f"answered 429, {failed} failed{learned}")
    if ray:
        bench_ray_quota()


def _learned(path: Path) -> str:
    """What the shared quota learned from the 429s, for the report line."""
    from r1data.annotators.quota import QuotaState

    try:
        state = QuotaState.from_json(path.read_bytes())
    except (OSError, ValueError):
        return ""
    return f"; learned cap {state.learned_rps * 60:,.0f}/min" if state.learned_rps else ""


def bench_ray_quota(n: int = 2000) -> None:
    """The cost of one reservation: a Ray quota actor's round trip against the file's lock."""
    import asyncio

    import ray

    from r1data.annotators.quota import FileQuota
    from r1data.annotators.ray_quota import RayQuota

    async def sequential(q: object, k: int) -> float:
        t0 = time.perf_counter()
        for _ in range(k):
            await q.acquire(1)  # type: ignore[attr-defined]
        return (time.perf_counter() - t0) / k

    async def concurrent(q: object, k: int) -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(q.acquire(1) for _ in range(k)))  # type: ignore[attr-defined]
        return k / (time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        fq = FileQuota(Path(tmp) / "q.json")
        file_us = asyncio.run(sequential(fq, n)) * 1e6
        fq.close()
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, _node_ip_address="127.0.0.1")
    try:
        rq = RayQuota("bench", None, None)
        asyncio.run(sequential(rq, 50))         # warm-up
        ray_us = asyncio.run(sequential(rq, n)) * 1e6
        ray_rps = asyncio.run(concurrent(rq, n))
    finally:
        ray.shutdown()
    print(f"quota as a Ray actor: {ray_us:,.0f} us per reservation one at a time, {ray_rps:,.0f} reservations/s "
          f"with {n} at once; the file quota: {file_us:,.0f} us -> ratio {ray_us / file_us:.1f}x the file's cost "
          f"per call (against a model call of ~1 s, {ray_us / 1e4:.2f} % of it)")


def bench_programmatic(n: int) -> None:
    from r1data.assets import Assets
    from r1data.steps.annotate import Annotate, programmatic_annotator
    from r1data.steps.base import StepContext

    @programmatic_annotator("bench_think_answer")
    def think_answer(row: dict, ctx: StepContext) -> str:
        return f"<think>First, the question is {row['question']}.</think><answer>{row['answer']}</answer>"

    ctx = StepContext(seed=0, corpus="bench", step="annotate", assets=Assets.from_workspace())
    step = Annotate(ctx, profile="programmatic", function="bench_think_answer", output="cot")
    rows = [{"id": str(i), "question": f"How many chairs are in room {i}?", "answer": str(i % 7)} for i in range(n)]
    batch = 64

    t0 = time.perf_counter()
    for i in range(0, n, batch):
        for row in rows[i:i + batch]:
            row["cot"] = think_answer(row, ctx)
    plain = time.perf_counter() - t0

    t0 = time.perf_counter()
    for i in range(0, n, batch):
        list(step(rows[i:i + batch]))
    stepped = time.perf_counter() - t0
    print(f"programmatic: {n / stepped:,.0f} calls/s through the annotate step (request -> backend -> "
          f"response), {n / plain:,.0f} calls/s in a plain loop -> ratio {plain / stepped:.3f} "
          f"(1.0 = no overhead); overhead {(stepped - plain) / n * 1e6:.2f} us per call")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--latency", type=float, default=0.1)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--provider", choices=["openai", "gemini"], default="openai")
    p.add_argument("--cache", action="store_true", help="store every answer in a (fresh) response cache")
    p.add_argument("--processes", type=int, default=1,
                   help="client processes sharing the concurrency, as `r1data build --workers` does")
    p.add_argument("--programmatic-calls", type=int, default=200_000)
    p.add_argument("--quota-rpm", type=float, help="measure goodput under a quota the server enforces (see above)")
    p.add_argument("--quota-seconds", type=float, default=10.0, help="length of each quota run at full rate")
    p.add_argument("--ray", action="store_true", help="with --quota-rpm: also the cost of the Ray quota actor")
    args = p.parse_args()
    if args.quota_rpm:
        bench_quota(args.provider, args.quota_rpm, args.quota_seconds, args.latency, args.concurrency, args.ray)
        return
    bench_api(args.provider, args.requests, args.latency, args.concurrency, args.cache, args.processes)
    bench_programmatic(args.programmatic_calls)


if __name__ == "__main__":
    main()
