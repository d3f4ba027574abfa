"""The dataset card: README.md rendered from ``datasets_cards/<corpus>.md`` (Jinja).

Everything in the card comes from the build (its manifest and shards) or from what the corpus
declares (the spec's ``card:`` section, its annotator profiles and prompt templates); nothing is
typed twice. The YAML front matter is built here, as data, so it is always valid YAML that the
Hub and ``datasets`` read: configs with their data files, ``dataset_info`` (features, splits with
sizes), license, task categories, size category, tags, pretty name, source datasets.

A card template extends ``_base.md`` and overrides its blocks (``about``, ``sources``,
``citation``...); a corpus without a template of its own gets ``_base.md`` as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import yaml

from r1data.assets import Assets
from r1data.corpus import Corpus
from r1data.errors import UnknownNameError, UsageError
from r1data.publish.parquet import SplitFiles

# Keys a spec's ``card:`` section may hold; anything else is a typo worth an error.
CARD_KEYS = {"pretty_name", "task_categories", "task_ids", "tags", "language", "source_datasets",
             "citation", "homepage", "annotations_creators"}

_SIZE_BOUNDS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"),
                (1_000_000_000, "100M<n<1B")]

# Up to this many distinct values, a string column is a category and the card shows its balance.
CATEGORY_MAX_VALUES = 24
TEXT_ROLES = ("question", "reasoning", "answer", "caption")


def size_category(rows: int) -> str:
    for bound, label in _SIZE_BOUNDS:
        if rows < bound:
            return label
    return "n>1T"


def card_metadata(corpus: Corpus, spec_card: Mapping[str, Any], splits: Mapping[str, SplitFiles],
                  spec_file: str = "pipeline spec") -> dict[str, Any]:
    """The YAML front matter of the card, as a dict."""
    import datasets

    unknown = sorted(set(spec_card) - CARD_KEYS)
    if unknown:
        raise UsageError(f"{spec_file}: card: unknown key {unknown[0]!r} "
                         f"(expected one of: {', '.join(sorted(CARD_KEYS))})")
    rows = sum(s.rows for s in splits.values())
    sources = spec_card.get("source_datasets") or []
    meta: dict[str, Any] = {
        "pretty_name": spec_card.get("pretty_name") or corpus.name,
        "license": corpus.manifest.get("spec", {}).get("license")
        or corpus.manifest.get("license") or "other",
        "language": spec_card.get("language", ["en"]),
        "task_categories": list(spec_card.get("task_categories", [])),
        "size_categories": [size_category(rows)],
        "tags": ["r1data", "reasoning", *spec_card.get("tags", [])],
        "annotations_creators": spec_card.get("annotations_creators", ["machine-generated"]),
    }
    if spec_card.get("task_ids"):
        meta["task_ids"] = list(spec_card["task_ids"])
    names = [s["name"] if isinstance(s, Mapping) else str(s) for s in sources]
    if names:
        meta["source_datasets"] = names
    meta["configs"] = [{"config_name": "default",
                        "data_files": [{"split": n, "path": f"data/{n}-*"} for n in splits]}]
    features = datasets.Features.from_dict(corpus.manifest["features"])
    meta["dataset_info"] = {
        "features": features._to_yaml_list(),
        "splits": [{"name": n, "num_bytes": s.num_bytes, "num_examples": s.rows} for n, s in splits.items()],
        "download_size": sum(s.download_bytes for s in splits.values()),
        "dataset_size": sum(s.num_bytes for s in splits.values()),
    }
    return meta


def corpus_statistics(corpus: Corpus, max_values: int = CATEGORY_MAX_VALUES) -> dict[str, Any]:
    """Balance of the categorical string columns and word lengths of the text columns (DuckDB)."""
    schema = corpus.manifest.get("schema", {}).get("fields", {})
    con = corpus.duckdb()
    stats: dict[str, Any] = {"categories": {}, "lengths": {}}
    for name, f in schema.items():
        if f.get("type") != "string" or name == "id" or name.endswith("_id"):
            continue
        q = f'"{name}"'
        if f.get("role") in TEXT_ROLES:
            row = con.execute(
                f"SELECT avg(len(string_split(trim({q}), ' '))), "
                f"quantile_cont(len(string_split(trim({q}), ' ')), 0.5), "
                f"quantile_cont(len(string_split(trim({q}), ' ')), 0.95), "
                f"max(len(string_split(trim({q}), ' '))) FROM data WHERE {q} <> ''").fetchone()
            if row and row[0] is not None:
                stats["lengths"][name] = {"mean": round(row[0], 1), "p50": round(row[1], 1),
                                          "p95": round(row[2], 1), "max": row[3]}
            continue
        # a category is a short label taking few values (free text such as situations is not)
        distinct, mean_chars = con.execute(f"SELECT count(DISTINCT {q}), avg(length({q})) FROM data").fetchone()
        if 1 < distinct <= max_values and (mean_chars or 0) <= 32:
            counts = con.execute(f"SELECT {q}, count(*) FROM data GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
            stats["categories"][name] = [(str(v), int(n)) for v, n in counts]
    return stats


def example_record(corpus: Corpus, width: int = 300) -> dict[str, str]:
    """The first row of the first split, each cell as a short readable string."""
    from r1data.cli.inspect import format_value

    for split in corpus.splits:
        table = corpus.table(split).slice(0, 1)
        if table.num_rows:
            return {k: format_value(v, width) for k, v in table.to_pylist()[0].items()}
    return {}


def source_files_read(manifest: Mapping[str, Any], max_listed: int = 50) -> dict[str, Any]:
    """What the card says about the files the corpus was built from (manifest ``source_files``):
    the annotation files one by one (at most ``max_listed``), the media files (images, scans,
    videos) as a count and a size."""
    entry = manifest.get("source_files") or {}
    files = entry.get("files") or []
    annotation = [f for f in files if f.get("kind") == "annotation"]
    media = [f for f in files if f.get("kind") != "annotation"]
    return {"count": len(files), "annotation": annotation[:max_listed],
            "more_annotation": max(0, len(annotation) - max_listed),
            "media": {"count": len(media), "bytes": sum(int(f.get("bytes", 0)) for f in media)}}


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KB`` (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def annotators_used(corpus: Corpus, assets: Assets) -> list[dict[str, Any]]:
    """The annotate steps of the build: profile, provider, model and the prompt template text."""
    from r1data.annotators.profile import load_profile

    used = []
    for s in corpus.manifest.get("spec", {}).get("steps", []):
        if s.get("step") != "annotate":
            continue
        params = s.get("params", {})
        entry: dict[str, Any] = {"profile": params.get("profile", ""), "function": params.get("function")}
        try:
            profile = load_profile(params.get("profile", "programmatic"), assets)
            entry.update(provider=profile.provider, model=getattr(profile, "model", None) or "")
        except (UnknownNameError, UsageError):
            entry.update(provider="unknown", model="")
        template = params.get("template")
        if template:
            entry["template"] = template
            try:
                entry["prompt"] = assets.find("annotators", f"templates/{template}", ("",)).read_text()
            except UnknownNameError:
                entry["prompt"] = None
        used.append(entry)
    return used


def render_card(corpus: Corpus, assets: Assets, splits: Mapping[str, SplitFiles], *, repo_id: str,
                spec_card: Mapping[str, Any] | None = None, spec_file: str = "pipeline spec",
                review: str | None = None) -> str:
    """README.md for ``corpus`` as uploaded to ``repo_id`` with the Parquet ``splits``."""
    spec_card = dict(spec_card or {})
    meta = card_metadata(corpus, spec_card, splits, spec_file)
    m = corpus.manifest
    counters = m.get("counters", {})
    context = {
        "front_matter": yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000).rstrip(),
        "meta": meta,
        "repo_id": repo_id,
        "corpus": corpus.name,
        "description": (m.get("description") or "").strip(),
        "paper": m.get("spec", {}).get("paper") or "",
        "manifest": m,
        "spec_hash": m.get("spec_hash", ""),
        "spec_yaml": yaml.safe_dump(m.get("spec", {}), sort_keys=False, allow_unicode=True, width=100),
        "splits": {n: {"rows": s.rows, "files": len(s.files)} for n, s in splits.items()},
        "rows": sum(s.rows for s in splits.values()),
        "verifiers": m.get("verifiers", {}),
        "steps": m.get("steps", []),
        "rejects": m.get("rejects", {}),
        "sources": [s if isinstance(s, Mapping) else {"name": str(s)}
                    for s in spec_card.get("source_datasets") or []],
        "citation": (spec_card.get("citation") or "").strip(),
        "annotators": annotators_used(corpus, assets),
        "source_files": source_files_read(m),
        "tokens": {k: v for k, v in counters.items() if k.startswith("tokens")},
        "cost_usd": counters.get("cost_usd", m.get("cost_usd", 0.0)),
        "review": review,
        "stats": corpus_statistics(corpus),
        "example": example_record(corpus),
        "load_snippet": f'from datasets import load_dataset\n\nds = load_dataset("{repo_id}")',
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(r / "datasets_cards") for r in assets.roots]),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda v: json.dumps(v, ensure_ascii=False)
    env.filters["human_bytes"] = human_bytes
    try:
        template = env.get_template(f"{corpus.name}.md")
    except jinja2.TemplateNotFound:
        template = env.get_template("_base.md")
    try:
        return template.render(**context)
    except jinja2.TemplateError as e:
        where = getattr(e, "filename", None) or template.filename
        line = getattr(e, "lineno", None)
        raise UsageError(f"{where}{f':{line}' if line else ''}: card template error: {e}") from None


def card_template_path(assets: Assets, corpus: str) -> Path | None:
    for root in assets.roots:
        p = root / "datasets_cards" / f"{corpus}.md"
        if p.is_file():
            return p
    return None
