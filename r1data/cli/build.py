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
@click.option("--source-param", "source_param", multiple=True, metavar="KEY=VALUE",
              help="Set a parameter of the chosen source, overriding the spec (repeatable), e.g. "
                   "--source-param split=val2014 or --source-param split_by=umd.")
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
@click.option("--max-read-multiple", type=float, metavar="X",
              help="Stop early (exit 1, resumable) when the yield so far says the size needs more than X times "
                   "--size source records; no row kept from the first 300 records always stops. "
                   "[default: the spec's max_read_multiple, 20]")
@click.option("--estimate", "estimate_rows", type=int, is_flag=False, flag_value=50, metavar="[N]",
              help="Build N rows for real (default 50; their API answers are cached, so the real build reuses "
                   "them), then print what the requested size would need at the observed yield: source "
                   "records, API calls, tokens, dollars at the profile's prices, hours at its rate limits. "
                   "Builds nothing else.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the CPU-heavy steps run: local processes, or Ray actors (same shards, byte for byte; "
                   "needs `pip install 'r1data[ray]'`). --workers sets the number of actors.")
@click.option("--ray-address", metavar="ADDR",
              help="Ray cluster to join (e.g. 10.0.0.1:6379 or 'auto' after `ray start`). [default: start a "
                   "local cluster on this machine]")
@click.option("--overwrite", is_flag=True,
              help="Delete a previous build in the output folder (only the files r1data wrote) and start over; "
                   "a folder that is not an r1data build is refused.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@workspace_option
def build_cmd(corpus: str, output: str | None, size: int | None, seed: int | None, source: str | None,
              source_dir: str | None, source_param: tuple[str, ...], workers: int, annotator: str | None,
              refresh: bool, max_cost: float | None, max_read_multiple: float | None,
              estimate_rows: int | None, executor: str, ray_address: str | None, overwrite: bool,
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

    A build stops early, resumable, when its yield says the size cannot be reached
    (--max-read-multiple) or its API calls reach --max-cost; --estimate prints the bill first.
    A build that keeps no row exits 1.
    """
    from r1data.engine.runner import build
    from r1data.errors import R1DataError, UsageError

    source_params: dict[str, str] = {}
    for item in source_param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--source-param {item!r}: expected KEY=VALUE, e.g. split=val2014")
        source_params[key.strip()] = value.strip()
    if max_cost is not None and max_cost <= 0:
        raise UsageError(f"--max-cost must be a positive number of US dollars, got {max_cost}")
    options: dict = {}
    if annotator:
        options["annotator"] = annotator
    if refresh:
        options["refresh"] = True
    if max_cost is not None:
        options["max_cost"] = max_cost
    if max_read_multiple is not None:
        if not max_read_multiple > 0:
            raise UsageError(f"--max-read-multiple must be a positive number, got {max_read_multiple}")
        options["max_read_multiple"] = max_read_multiple
    if ray_address and executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    if executor == "ray":
        options["executor"] = "ray"
        if ray_address:
            options["ray_address"] = ray_address
    if estimate_rows is not None:
        from r1data.engine.estimate import estimate

        report = estimate(corpus, output, rows=estimate_rows, size=size, seed=seed, source=source,
                          source_dir=source_dir, workers=workers, progress=not no_progress,
                          workspace=workspace, options=options, debug=_state["debug"],
                          source_params=source_params or None)
        click.echo(report.text())
        return
    result = build(corpus, output, size=size, seed=seed, source=source, source_dir=source_dir,
                   source_params=source_params or None, workers=workers, overwrite=overwrite,
                   progress=not no_progress, workspace=workspace, options=options, debug=_state["debug"])
    click.echo(summary(result))
    m = result.manifest
    if m["rows"] == 0:      # a build that kept nothing never succeeds, finished now or before
        reasons = [(n, f"{step}/{reason}") for step, rs in m["rejects"]["by_step"].items() for reason, n in rs.items()]
        if reasons:
            n, top = max(reasons)
            raise R1DataError(f"no row survived: all {m['rejects']['rows']:,} records were rejected (most often "
                              f"{top}, {n:,} times); see `r1data query {result.output} \"SELECT step, reason, "
                              f"detail FROM rejects LIMIT 20\"`")
        raise R1DataError(f"no row kept: the source gave {m['source']['items_read']:,} records and none reached "
                          "the output; check the source and the steps' parameters")


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
