"""Annotator throughput: how close the API client gets to the ideal rate, and the per-call
overhead of the annotate step with the offline annotator.

    python scripts/bench_annotators.py [--requests 2000] [--latency 0.1] [--concurrency 64]
                                       [--provider openai|gemini] [--cache] [--processes P]

1. API: ``--requests`` requests through the real client library against a local stand-in
   server (``python -m tests.servers``, its own process) answering after ``--latency``
   seconds, at ``--concurrency``. The ideal rate is concurrency / latency (capped by the
   profile's rate limit; none here); printed: achieved / ideal (target >= 0.9).
2. Programmatic: the ``annotate`` step with the programmatic profile over batches of rows,
   against the same function called in a plain loop (the baseline); printed: calls/s and the
   ratio step / plain loop.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    args = p.parse_args()
    bench_api(args.provider, args.requests, args.latency, args.concurrency, args.cache, args.processes)
    bench_programmatic(args.programmatic_calls)


if __name__ == "__main__":
    main()
