"""Rollout throughput: an API rollout against the ideal rate, local generation against a plain loop.

    python scripts/bench_rollout.py [--rows 250] [--samples 8] [--latency 0.1] [--concurrency 64]
                                    [--workers 1] [--local-prompts 48] [--batch-size 16]
                                    [--max-new-tokens 24] [--hidden 128] [--skip-api] [--skip-local]

1. API: ``r1data rollout`` (the engine, the built_corpus source, the rollout step, a fresh
   response cache) over a vqa_verify build of ``--rows`` rows (one image each), ``--samples``
   answers a row, against the OpenAI-compatible stand-in server (``python -m tests.servers``, its
   own process) answering after ``--latency`` seconds, at ``--concurrency``. Printed: requests/s
   against the annotator bench's ideal, concurrency / latency (target >= 0.85); against the same
   requests sent by a plain ``AnnotatorClient.run`` in this process just before (what the engine,
   the prompts and the rewards cost on top of the client, whatever the machine's load); and the
   rerun with every answer cached.
2. Local: a tiny random Qwen2 (``--hidden``; r1data.train.tiny) answers ``--local-prompts``
   prompts of the same build (the recipe's prompt, text only) through the batched, left-padded
   :class:`~r1data.models.local.LocalGenerator`, against a plain loop of ``model.generate`` over
   the same prompts one at a time (the baseline, same model, greedy, same token limit). Printed:
   prompts/s and the ratio (target >= 1.0).
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


def build_vqa(rows: int, out: Path) -> Path:
    from r1data.engine.runner import build

    build("vqa_verify", out, size=rows, progress=False)
    return out


def bench_api(data: Path, tmp: Path, samples: int, latency: float, concurrency: int, workers: int) -> None:
    from r1data.annotators.profile import AnnotatorProfile
    from r1data.cli import main
    from r1data.corpus import Corpus

    server = subprocess.Popen([sys.executable, "-m", "tests.servers", "openai", "--latency", str(latency)],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[1]
        os.environ["R1DATA_BENCH_KEY"] = "bench-key"
        os.environ["R1DATA_CACHE_DIR"] = str(tmp / "cache")
        profile = tmp / "bench.yaml"
        profile.write_text(f"provider: openai\nmodel: bench-model\nbase_url: {url}\napi_key_env: R1DATA_BENCH_KEY\n"
                           f"max_concurrency: {concurrency}\ntimeout_s: 30\n")
        args = ["rollout", str(data), "--model", str(profile), "--samples", str(samples), "--workers", str(workers),
                "--no-progress"]
        # warm-up: imports, the client libraries, the first connections (not timed)
        assert main([*args[:4], "--samples", "1", "--limit", "8", "-o", str(tmp / "warm"), "--no-progress"]) == 0
        plain = plain_client(data, profile, samples, tmp / "plain-cache.sqlite")
        t0 = time.perf_counter()
        assert main([*args, "-o", str(tmp / "rollout")]) == 0
        wall = time.perf_counter() - t0
        rows = Corpus(data).manifest["rows"]
        usage = Corpus(tmp / "rollout").manifest["steps"][0]["usage"]
        requests = rows * samples
        achieved = requests / wall
        ideal = AnnotatorProfile(provider="openai", model="m", max_concurrency=concurrency).ideal_rate(latency)
        t0 = time.perf_counter()
        assert main([*args, "-o", str(tmp / "rerun")]) == 0
        cached = time.perf_counter() - t0
        print(f"rollout (api, {workers} worker(s)): {rows} rows x {samples} samples = {requests} requests "
              f"({usage.get('api_calls', 0):.0f} calls) in {wall:.2f} s, latency {latency * 1000:.0f} ms, concurrency "
              f"{concurrency}: {achieved:,.0f} req/s of an ideal {ideal:,.0f} req/s -> ratio {achieved / ideal:.3f} "
              f"(target >= 0.85)")
        print(f"  the same {requests} requests through a plain AnnotatorClient.run (no engine, no prompts, no "
              f"rewards; measured just before): {requests / plain:,.0f} req/s -> rollout / plain client "
              f"{plain / wall:.3f}; plain client / ideal {requests / plain / ideal:.3f}")
        print(f"  rerun with every answer cached: {requests / cached:,.0f} samples/s ({cached:.2f} s)")
    finally:
        server.terminate()
        server.wait(timeout=10)


def plain_client(data: Path, profile: Path, samples: int, cache: Path) -> float:
    """Seconds the annotator client alone takes for the rollout's requests (the baseline)."""
    from r1data.annotators import providers
    from r1data.annotators.cache import ResponseCache
    from r1data.annotators.client import AnnotatorClient
    from r1data.annotators.profile import load_profile
    from r1data.annotators.request import AnnotationRequest
    from r1data.assets import Assets
    from r1data.corpus import Corpus
    from r1data.models import PromptBuilder, request_messages

    built = Corpus(data)
    builder = PromptBuilder("vqa_verify", built.manifest["schema"], built.path)
    rows = built.table(columns=builder.columns).to_pylist()
    requests = [(AnnotationRequest(request_messages(builder.prompt(r, decode=False)), 1.0, 1024, sample=k), "text")
                for r in rows for k in range(samples)]
    p = load_profile(str(profile), Assets.from_workspace()).model_copy(update={"parse_retries": 0})
    client = AnnotatorClient(p, providers.get("openai")(p), cache=ResponseCache(cache))
    client.run([(AnnotationRequest(request_messages(builder.prompt(rows[0], decode=False)), 0.5, 8), "text")])
    t0 = time.perf_counter()
    client.run(requests)
    seconds = time.perf_counter() - t0
    client.close()
    return seconds


def bench_local(data: Path, tmp: Path, n: int, batch_size: int, max_new_tokens: int, hidden: int) -> None:
    import torch

    from r1data.corpus import Corpus
    from r1data.models import PromptBuilder, resolve_model
    from r1data.models.local import LocalGenerator
    from r1data.train.tiny import make_tiny_model

    built = Corpus(data)
    texts = built.table(columns=["question", "solution"]).to_pylist()
    path = make_tiny_model(tmp / "tiny", "text", [t["question"] for t in texts] + [t["solution"] for t in texts],
                           hidden_size=hidden, layers=4)
    builder = PromptBuilder("vqa_verify", built.manifest["schema"], built.path, vision=False)
    rows = built.table(columns=builder.columns).slice(0, n).to_pylist()
    prompts = [builder.prompt(r) for r in rows]
    gen = LocalGenerator(resolve_model(str(path)), temperature=0.0, max_new_tokens=max_new_tokens,
                         batch_size=batch_size)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model, tok = gen.model, gen.tokenizer
    gen.generate(prompts[:2], 1)                      # warm-up

    t0 = time.perf_counter()
    tokens_plain = 0
    for p in prompts:                                 # the baseline: one prompt per generate call
        inputs = tok(gen.chat_text(p), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
        tokens_plain += out.shape[1] - inputs["input_ids"].shape[1]
    plain = time.perf_counter() - t0

    t0 = time.perf_counter()
    gen.generate(prompts, 1)
    batched = time.perf_counter() - t0
    print(f"local (tiny Qwen2, hidden {hidden}, 4 layers, CPU): {n} prompts, up to {max_new_tokens} new tokens "
          f"(plain loop made {tokens_plain / n:.1f} a prompt): batched (batch {batch_size}, left padding) "
          f"{n / batched:,.1f} prompts/s vs a plain model.generate loop {n / plain:,.1f} prompts/s -> ratio "
          f"{plain / batched:.2f} (target >= 1.0)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=250)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--latency", type=float, default=0.1)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--local-prompts", type=int, default=48)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--skip-api", action="store_true")
    p.add_argument("--skip-local", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp_name:
        tmp = Path(tmp_name)
        data = build_vqa(max(args.rows, args.local_prompts), tmp / "vqa")
        if not args.skip_api:
            bench_api(data, tmp, args.samples, args.latency, args.concurrency, args.workers)
        if not args.skip_local:
            bench_local(data, tmp, args.local_prompts, args.batch_size, args.max_new_tokens, args.hidden)


if __name__ == "__main__":
    main()
