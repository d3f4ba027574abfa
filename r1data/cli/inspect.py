"""``r1data inspect`` and ``r1data query``."""

from __future__ import annotations

import json
from typing import Any

import click


@click.command("inspect")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--samples", type=int, default=3, show_default=True, help="Sample rows to show.")
@click.option("--split", help="Split to sample from. [default: the first]")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest's figures as JSON.")
def inspect_cmd(out: str, samples: int, split: str | None, as_json: bool) -> None:
    """Counts, per-step and per-verifier figures, reject reasons and sample rows of a build."""
    from r1data.corpus import Corpus

    corpus = Corpus(out)
    m = corpus.manifest
    if as_json:
        keys = ("corpus", "rows", "splits", "rejects", "steps", "verifiers", "counters", "spec_hash",
                "seed", "size", "wall_time_s", "image_budget")
        click.echo(json.dumps({k: m.get(k) for k in keys}, indent=2))
        return
    click.echo(f"{m['corpus']}  {out}  (r1data {m['r1data_version']}, spec {m['spec_hash'][:12]}, "
               f"seed {m['seed']}, source {m['source']['name']})")
    splits = ", ".join(f"{n} {s['rows']:,}" for n, s in m["splits"].items())
    click.echo(f"rows: {m['rows']:,} ({splits}) · rejected {m['rejects']['rows']:,} · "
               f"built in {m['wall_time_s']:.1f} s")
    click.echo("\nsteps:")
    width = max((len(s["step"]) for s in m["steps"]), default=4)
    click.echo(f"  {'':<{width}}  {'in':>9} {'out':>9} {'rejected':>9}")
    for s in m["steps"]:
        click.echo(f"  {s['step']:<{width}}  {s['in']:>9,} {s['out']:>9,} {s['rejected']:>9,}")
    if m["verifiers"]:
        click.echo("\nchecks (pass rate):")
        width = max(len(n) for n in m["verifiers"])
        for name, v in m["verifiers"].items():
            rate = f"{100 * v['pass_rate']:.1f}%" if v["pass_rate"] is not None else "n/a"
            click.echo(f"  {name:<{width}}  {rate:>7}  ({v['passed']:,}/{v['total']:,})")
    budget = m.get("image_budget")
    if budget:
        click.echo("\n" + budget_line(budget))
    reasons = [(step, r, n) for step, rs in m["rejects"]["by_step"].items() for r, n in rs.items()]
    if reasons:
        click.echo("\nrejects by reason:")
        for step, r, n in sorted(reasons, key=lambda t: -t[2]):
            click.echo(f"  {step:<12} {r:<28} {n:>7,}")
    _print_review_coverage(corpus)
    if samples > 0 and corpus.splits:
        name = split or corpus.splits[0]
        table = corpus.table(name).slice(0, samples)
        click.echo(f"\nsample rows ({table.num_rows} of {name}):")
        for row in table.to_pylist():
            click.echo("  " + "-" * 60)
            for key, value in row.items():
                click.echo(f"  {key}: {format_value(value, 200)}")


def budget_line(b: dict) -> str:
    """The manifest's ``image_budget`` in one line (r1data.budget)."""
    tokens = b.get("tokens") or {}
    limit = (f"{b['over']:,} of {b['rows']:,} rows over {b['limit']:,} image tokens ({b['limit_from']}; "
             "`r1data train` skips them)" if b.get("limit") else "no limit")
    return (f"image budget ({b['recipe']}, {b['images']}, smart_resize {b['min_pixels']:,}..{b['max_pixels']:,}): "
            f"{limit}; tokens per row {tokens.get('min')}-{tokens.get('max')}"
            + (f"; {b['unknown_size']:,} rows of unknown size" if b.get("unknown_size") else ""))


def _print_review_coverage(corpus: Any) -> None:
    """Review figures, when a review module is installed and reviews exist."""
    try:
        from r1data.review.merge import review_summary  # type: ignore[import-not-found]
    except ImportError:
        return
    text = review_summary(corpus)
    if text:
        click.echo("\n" + text)


def format_value(value: Any, width: int = 60) -> str:
    """One-line view of a cell: images and bytes summarised, long text cut."""
    if isinstance(value, dict) and "bytes" in value and set(value) <= {"bytes", "path"}:
        return _image_summary(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value):,} bytes>"
    if isinstance(value, list):
        if value and isinstance(value[0], dict) and set(value[0]) <= {"bytes", "path"}:
            return f"[{len(value)} images: " + ", ".join(_image_summary(v) for v in value[:4]) + "]"
        text = json.dumps(value, default=str)
        if len(text) > width:
            text = text[: width - 20] + f"... ({len(value)} items)]"
        return text
    text = str(value).replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 3] + "..."


def _image_summary(v: dict) -> str:
    data = v.get("bytes")
    if not data:
        return f"<image {v.get('path')}>"
    try:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return f"<image {im.width}x{im.height} {im.format}>"
    except Exception:
        return f"<image {len(data):,} bytes, undecodable>"


@click.command("query")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--max-rows", type=int, default=100, show_default=True, help="Rows to print (table format).")
@click.option("--width", type=int, default=48, show_default=True, help="Characters per cell (table format).")
def query_cmd(out: str, sql: str, fmt: str, max_rows: int, width: int) -> None:
    """Run DuckDB SQL over a build: the rows are the view `data` (with `split`), the rejects `rejects`.

    \b
    r1data query out/scene30k "SELECT split, count(*) FROM data GROUP BY split"
    r1data query out/scene30k "SELECT step, reason, count(*) FROM rejects GROUP BY ALL"
    """
    import duckdb

    from r1data.corpus import Corpus
    from r1data.errors import UsageError

    con = Corpus(out).duckdb()
    try:
        result = con.execute(sql)
    except duckdb.Error as e:
        raise UsageError(f"SQL error: {str(e).splitlines()[0]}") from None
    if result.description is None:
        return
    names = [d[0] for d in result.description]
    if fmt == "csv":
        import csv
        import sys

        w = csv.writer(sys.stdout)
        w.writerow(names)
        for row in result.fetchall():
            w.writerow([format_value(v, 10**9) if isinstance(v, (dict, list, bytes)) else v for v in row])
        return
    if fmt == "json":
        for row in result.fetchall():
            click.echo(json.dumps({n: _jsonable(v) for n, v in zip(names, row)}, default=str))
        return
    rows = result.fetchmany(max_rows + 1)
    more = len(rows) > max_rows
    rows = rows[:max_rows]
    cells = [[format_value(v, width) for v in row] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    click.echo("  ".join(n.ljust(w) for n, w in zip(names, widths)))
    click.echo("  ".join("-" * w for w in widths))
    for r in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    click.echo(f"({len(rows)} rows{', more not shown: --max-rows' if more else ''})")


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes>"
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v
