"""``r1data build``."""

from __future__ import annotations

import click

from r1data.cli import _state, workspace_option


@click.command("build")
@click.argument("corpus")
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="Output folder. [default: out/CORPUS]")
@click.option("--size", type=int, help="Rows to keep. [default: the spec's size]")
@click.option("--seed", type=int, help="Seed of every random choice. [default: the spec's seed]")
@click.option("--source", help="One of the spec's sources instead of its default (e.g. scanqa).")
@click.option("--source-dir", type=click.Path(), help="Folder the chosen source reads.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Processes for the CPU-heavy steps (rendering, annotation, verification).")
@click.option("--annotator", metavar="PROFILE_OR_PATH",
              help="Annotator profile for every annotate step instead of the spec's: a name in annotators/ "
                   "(gemini-2.5-pro, gpt-4o, vllm-local, programmatic) or a path to a profile YAML. "
                   "The key comes from the environment variable the profile names.")
@click.option("--refresh", is_flag=True,
              help="Ask the API again instead of reusing cached answers (new answers replace the cached ones).")
@click.option("--max-cost", type=float, metavar="USD",
              help="Stop cleanly once the API calls of this build cost this many US dollars; the shards so far "
                   "stay intact and rerunning with a higher limit continues.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the CPU-heavy steps run: local processes, or Ray actors (same shards, byte for byte; "
                   "needs `pip install 'r1data[ray]'`). --workers sets the number of actors.")
@click.option("--ray-address", metavar="ADDR",
              help="Ray cluster to join (e.g. 10.0.0.1:6379 or 'auto' after `ray start`). [default: start a "
                   "local cluster on this machine]")
@click.option("--overwrite", is_flag=True, help="Delete a previous build in the output folder and start over.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@workspace_option
def build_cmd(corpus: str, output: str | None, size: int | None, seed: int | None, source: str | None,
              source_dir: str | None, workers: int, annotator: str | None, refresh: bool,
              max_cost: float | None, executor: str, ray_address: str | None, overwrite: bool,
              no_progress: bool, workspace: str | None) -> None:
    """Build CORPUS (a name from `r1data list`, or a spec file) into Arrow shards.

    Rerunning the same command resumes an interrupted build where it stopped (no row lost
    or repeated) and does nothing for a finished one.

    \b
    OUT/data/<split>-00000-of-000NN.arrow   the rows (Arrow IPC; load with `datasets`)
    OUT/rejects/                            every dropped record, with its step and reason
    OUT/manifest.json                       spec hash, counts, pass rates, checksums, timing

    With an API annotator (--annotator), calls run concurrently within the profile's limits,
    failed calls are retried, and every answer is cached by the content of its request
    ($R1DATA_CACHE_DIR, default ~/.cache/r1data), so a rerun or a resumed build pays for
    nothing twice. Tokens and dollars show in the progress bar and the manifest.
    """
    from r1data.engine.runner import build
    from r1data.errors import UsageError

    if max_cost is not None and max_cost <= 0:
        raise UsageError(f"--max-cost must be a positive number of US dollars, got {max_cost}")
    options: dict = {}
    if annotator:
        options["annotator"] = annotator
    if refresh:
        options["refresh"] = True
    if max_cost is not None:
        options["max_cost"] = max_cost
    if ray_address and executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    if executor == "ray":
        options["executor"] = "ray"
        if ray_address:
            options["ray_address"] = ray_address
    result = build(corpus, output, size=size, seed=seed, source=source, source_dir=source_dir,
                   workers=workers, overwrite=overwrite, progress=not no_progress,
                   workspace=workspace, options=options, debug=_state["debug"])
    click.echo(summary(result))
    m = result.manifest
    if not result.already_complete and m["rows"] == 0 and m["rejects"]["rows"] > 0:
        from r1data.errors import R1DataError

        reasons = [(n, f"{step}/{reason}") for step, rs in m["rejects"]["by_step"].items() for reason, n in rs.items()]
        n, top = max(reasons)
        raise R1DataError(f"no row survived: all {m['rejects']['rows']:,} records were rejected (most often "
                          f"{top}, {n:,} times); see `r1data query {result.output} \"SELECT step, reason, "
                          f"detail FROM rejects LIMIT 20\"`")


def summary(result) -> str:  # type: ignore[no-untyped-def]
    m = result.manifest
    out = result.output
    lines = []
    if result.already_complete:
        lines.append(f"{m['corpus']}: already built in {out} ({m['rows']} rows); "
                     "pass --overwrite to build again")
        return "\n".join(lines)
    wall = m["wall_time_s"] or 1e-9
    verb = "resumed and built" if result.resumed else "built"
    lines.append(f"{verb} {m['corpus']}: {m['rows']:,} rows kept in {wall:.1f} s "
                 f"({m['rows'] / wall:,.0f} rows/s) -> {out}")
    splits = ", ".join(f"{name} {s['rows']:,}" for name, s in m["splits"].items())
    lines.append(f"  splits: {splits or 'none'}")
    rejected = m["rejects"]["rows"]
    lines.append(f"  rejected: {rejected:,}" + (" (by step and reason:)" if rejected else ""))
    for step, reasons in m["rejects"]["by_step"].items():
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {step:<12} {reason:<28} {n:>7,}")
    for step in m.get("steps", []):
        usage = step.get("usage")
        if usage:
            lines.append(f"  {step['step']}: {usage.get('api_calls', 0):,.0f} API calls, "
                         f"{usage.get('cache_hits', 0):,.0f} cached, {usage.get('tokens_in', 0):,.0f} tokens in, "
                         f"{usage.get('tokens_out', 0):,.0f} out, ${usage.get('cost_usd', 0):.4f}")
            if usage.get("batches"):
                lines.append(f"  {step['step']}: batch API: {usage['batch_requests']:,.0f} requests in "
                             f"{usage['batches']:,.0f} batches, {usage.get('tokens_in_batch', 0):,.0f} tokens in, "
                             f"{usage.get('tokens_out_batch', 0):,.0f} out, ${usage.get('cost_usd_batch', 0):.4f}")
    for w in result.warnings:
        lines.append(f"  warning: {w}")
    lines.append(f"  manifest: {out / 'manifest.json'}")
    return "\n".join(lines)
