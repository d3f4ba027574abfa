"""Applying reviews to a build without touching its shards.

:func:`reviewed_table` is a split as reviewers left it: rows whose latest verdict is
"reject" are out, fields a reviewer fixed are replaced, every other row is as built (or,
with ``reviewed_only=True``, only rows accepted or fixed). When several reviews exist for a
row, the latest (by ``reviewed_at``) decides; :func:`review_summary` reports how often
reviewers of the same row agree.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from r1data.review.store import load_reviews


def latest_reviews(reviews: pa.Table) -> dict[str, dict[str, Any]]:
    """Row id -> its latest review (``verdict``, ``corrected`` as a dict, ``reviewer``...)."""
    latest: dict[str, dict[str, Any]] = {}
    for r in reviews.sort_by([("reviewed_at", "ascending"), ("annotation_id", "ascending")]).to_pylist():
        latest[r["id"]] = r
    return latest


def reviewed_table(corpus: Any, split: str, *, reviewed_only: bool = False) -> pa.Table:
    """``split`` of ``corpus`` with the reviews applied (same schema and row order as the shards)."""
    from r1data.corpus import Corpus
    from r1data.review.convert import decode_value
    from r1data.review.layout import schema_from_manifest

    corpus = corpus if isinstance(corpus, Corpus) else Corpus(corpus)
    table = corpus.table(split)
    latest = latest_reviews(load_reviews(corpus))
    if not latest:
        return table.slice(0, 0) if reviewed_only else table
    ids = table.column("id").to_pylist()
    keep, patched_rows, patched_at = [], [], []
    for i, rid in enumerate(ids):
        review = latest.get(rid)
        if review is None:
            keep.append(not reviewed_only)
        elif review["verdict"] == "reject":
            keep.append(False)
        else:
            corrected = json.loads(review["corrected"] or "{}")
            keep.append(not corrected)
            if corrected:
                patched_at.append(i)
                patched_rows.append({k: decode_value(v) for k, v in corrected.items()})
    if not patched_at:
        return table.filter(pa.array(keep, pa.bool_()))
    # rebuild only the fixed rows, through the schema's encoders, then put them back in order
    schema = schema_from_manifest(corpus.manifest)
    originals = table.take(pa.array(patched_at, pa.int64())).to_pylist()
    fixed_batch, bad = schema.to_batch([{**o, **p} for o, p in zip(originals, patched_rows)])
    if bad:  # pull checks types, so this means the reviews table was edited by hand
        raise ValueError(f"reviews for row {originals[bad[0][0]]['id']} do not fit the schema: {bad[0][1]}")
    order = pa.array([i for i, k in enumerate(keep) if k] + patched_at, pa.int64())
    merged = pa.concat_tables([table.filter(pa.array(keep, pa.bool_())),
                               pa.Table.from_batches([fixed_batch]).cast(table.schema)])
    return merged.take(pc.sort_indices(order))


def review_summary(corpus: Any) -> str | None:
    """Review coverage and agreement for ``r1data inspect`` (``None`` when never reviewed)."""
    reviews = load_reviews(corpus)
    if reviews.num_rows == 0:
        return None
    total = int(corpus.manifest.get("rows") or 0)
    latest = latest_reviews(reviews)
    verdicts = Counter(r["verdict"] for r in latest.values())
    per_row: dict[str, list[str]] = defaultdict(list)
    for rid, v in zip(reviews.column("id").to_pylist(), reviews.column("verdict").to_pylist()):
        per_row[rid].append(v)
    multi = {rid: vs for rid, vs in per_row.items() if len(vs) > 1}
    agree = sum(1 for vs in multi.values() if len(set(vs)) == 1)
    fields: Counter[str] = Counter()
    for r in latest.values():
        fields.update(json.loads(r["corrected"] or "{}").keys())
    projects = sorted(set(reviews.column("project").to_pylist()))
    reviewers = sorted(set(reviews.column("reviewer").to_pylist()))
    cover = f"{len(latest):,} of {total:,} rows ({100 * len(latest) / total:.1f}%)" if total else f"{len(latest):,} rows"
    lines = ["review (Label Studio):",
             f"  reviewed    {cover}, {reviews.num_rows:,} reviews by {len(reviewers)} reviewer(s) "
             f"in {', '.join(projects)}",
             "  verdicts    " + " · ".join(f"{v} {verdicts.get(v, 0):,}" for v in ("accept", "reject", "fixed"))
             + " (latest per row)"]
    if multi:
        lines.append(f"  agreement   {agree} of {len(multi)} rows reviewed more than once "
                     f"({100 * agree / len(multi):.1f}%)")
    else:
        lines.append("  agreement   n/a (no row reviewed twice)")
    if fields:
        lines.append("  corrected   " + ", ".join(f"{k} {n}" for k, n in fields.most_common()))
    return "\n".join(lines)
