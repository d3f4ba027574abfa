"""Building the report: the build's manifest, a drawn sample of rows, figures and rejects, into
one static HTML file (images inline as ``data:`` URIs; no script, no network)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from r1data.report.cards import Card, make_card
from r1data.report.figures import Figure, numeric_only, schema_figures
from r1data.report.overview import overview
from r1data.report.sample import id_key, sample_indices


@dataclass
class ReportResult:
    """What :func:`build_report` wrote."""

    path: Path
    bytes: int
    cards: int
    draw_errors: list[str] = field(default_factory=list)   # "id: why" for rows whose drawing failed
    seconds: float = 0.0


def build_report(corpus_dir: str | Path, out: str | Path, *, samples: int = 24, split: str | None = None,
                 reject_examples: int = 3, max_image_side: int = 768) -> ReportResult:
    """Write the report of the build in ``corpus_dir`` to ``out``.

    ``samples`` rows are drawn per split (only ``split`` when given, which also limits the
    figures to it), spread over the drawer's ``group_by`` column; ``reject_examples`` records
    are drawn for each step and reason of the rejects."""
    from r1data.corpus import Corpus
    from r1data.errors import UsageError
    from r1data.registry import drawers
    from r1data.report.generic import draw_generic
    from r1data.schema import RecordSchema

    t0 = time.perf_counter()
    corpus = Corpus(corpus_dir)
    m = corpus.manifest
    schema = RecordSchema.from_dict(m.get("schema") or m["spec"]["schema"])
    if split is not None and split not in corpus.splits:
        raise UsageError(f"{corpus.path} has no split {split!r} (splits: {', '.join(corpus.splits) or 'none'})")
    name = m["corpus"]
    fn, meta = (drawers.get(name), drawers.meta(name)) if name in drawers else (draw_generic, {})
    group_by = meta.get("group_by")
    if group_by is not None and group_by not in schema.names:
        group_by = None
    splits = [split] if split else corpus.splits

    gallery: list[tuple[str, list[Card]]] = []
    errors: list[str] = []
    figure_tables, figure_splits = [], []
    # cards drawn in threads: decoding and scaling images let go of the GIL
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="r1data-report") as pool:
        for s in splits:
            table = corpus.table(s)
            figure_tables.append(table.select([c for c in numeric_only(schema) if c in table.column_names]))
            figure_splits.extend([s] * table.num_rows)
            ids = table.column("id").to_pylist() if "id" in table.column_names else list(range(table.num_rows))
            groups = table.column(group_by).to_pylist() if group_by else None
            picked = sample_indices(ids, samples, groups)
            rows = rows_at(table, [i for i, _ in picked])
            group_of = [f"{group_by}: {g}" if group_by else "" for _, g in picked]
            cards = list(pool.map(lambda row, g, s=s: make_card(row, schema, fn, corpus.path, max_image_side,
                                                                split=s, group=g), rows, group_of))
            errors.extend(f"{c.row_id}: {c.error}" for c in cards if c.error)
            gallery.append((s, cards))
        rejects = _reject_cards(corpus, schema, fn, reject_examples, max_image_side, errors, pool)

    figures: list[Figure] = []
    if figure_tables:
        table = pa.concat_tables(figure_tables, promote_options="default")
        split_col = pa.array(figure_splits, pa.string())
        figures.append(_split_figure(m, splits))
        figures.extend(schema_figures(table, schema, split_col))
        if meta.get("figures"):
            try:
                figures.extend(meta["figures"](table))
            except Exception as e:   # a corpus's own plots failing must not lose the rest
                errors.append(f"figures: {type(e).__name__}: {e}")

    html = render_page(name=name, corpus_dir=corpus.path, overview=overview(m, schema),
                       gallery=gallery, figures=figures, rejects=rejects, group_by=group_by, samples=samples,
                       split=split, errors=errors, drawer=getattr(fn, "__module__", "") + "." +
                       getattr(fn, "__qualname__", ""))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return ReportResult(out, len(html.encode("utf-8")), sum(len(c) for _, c in gallery), errors,
                        time.perf_counter() - t0)


def rows_at(table: pa.Table, indices: list[int]) -> list[dict]:
    """Rows ``indices`` of ``table`` as dicts. One-row slices: ``Table.take`` would first join the
    chunks of every column, copying every image of the split."""
    return [table.slice(i, 1).to_pylist()[0] for i in indices]


def _split_figure(m: dict, splits: list[str]) -> Figure:
    from r1data.report import svgplot

    rows = [(s, {"rows": int(m["splits"][s]["rows"])}) for s in splits]
    return Figure("Rows per split", svgplot.bars(rows, ["rows"]),
                  f"{sum(c['rows'] for _, c in rows):,} rows; {m['rejects']['rows']:,} records rejected.")


def _reject_cards(corpus: Any, schema: Any, fn: Any, per_reason: int, max_image_side: int,
                  errors: list[str], pool: Any) -> list[tuple[str, str, int, list[Card]]]:
    """``(step, reason, count, cards)`` for each reason, most frequent first."""
    by_step = corpus.manifest["rejects"].get("by_step") or {}
    reasons = sorted(((step, reason, int(n)) for step, rs in by_step.items() for reason, n in rs.items()),
                     key=lambda t: (-t[2], t[0], t[1]))
    if not reasons:
        return []
    try:
        table = corpus.rejects()
    except Exception as e:      # no reject shards (an old build): counts only
        errors.append(f"rejects: {type(e).__name__}: {e}")
        table = None
    examples: dict[tuple[str, str], list[dict]] = {}
    if table is not None and per_reason > 0 and table.num_rows:
        meta = table.select(["id", "step", "reason"]).to_pylist()
        chosen: dict[tuple[str, str], list[tuple[bytes, int]]] = {}
        for i, r in enumerate(meta):
            chosen.setdefault((r["step"], r["reason"]), []).append((id_key(r["id"]), i))
        for key, items in chosen.items():
            picked = [i for _, i in sorted(items)[:per_reason]]
            examples[key] = rows_at(table, picked)
    def card(step: str, reason: str, rec: dict) -> Card:
        try:
            row = json.loads(rec["record"] or "{}")
        except ValueError:
            row = {}
        if not isinstance(row, dict):
            row = {}
        row.setdefault("id", rec["id"])
        detail = rec.get("detail") or ""
        if detail.startswith(reason + ": "):      # a check's detail names it again
            detail = detail[len(reason) + 2:]
        return make_card(row, schema, fn, corpus.path, max_image_side,
                         reject={"step": step, "reason": reason, "detail": detail})

    return [(step, reason, n, list(pool.map(lambda rec, s=step, r=reason: card(s, r, rec), examples.get((step, reason), []))))
            for step, reason, n in reasons]


def render_page(**context: Any) -> str:
    """The HTML of the page from its parts (the Jinja template ``page.html.j2`` beside this module)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(Path(__file__).parent)),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    return env.get_template("page.html.j2").render(**context)
