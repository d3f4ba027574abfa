"""The report's Overview: what the manifest says of the build, in tables."""

from __future__ import annotations

import json
from typing import Any

from r1data.frames import has_geometry, is_image_type


def overview(m: dict, schema: Any) -> dict[str, Any]:
    """Facts, rows per split, steps, checks, API usage, image budget, frames and the spec."""
    import yaml

    facts = [
        ("corpus", m.get("corpus", "")),
        ("description", m.get("description", "")),
        ("rows", f"{m.get('rows', 0):,}"),
        ("rejected", f"{m['rejects']['rows']:,}"),
        ("source", f"{m['source']['name']} ({m['source'].get('items_read', 0):,} items read)"),
        ("seed / size", f"{m.get('seed')} / {m.get('size') if m.get('size') is not None else 'all'}"),
        ("spec", f"{m.get('spec_file', '')} · hash {m.get('spec_hash', '')[:16]}"),
        ("built", f"{m.get('created_at', '')} in {_duration(m.get('wall_time_s') or 0)} · r1data "
                  f"{m.get('r1data_version', '')}" + (f" · annotator {m['annotator']}" if m.get("annotator") else "")),
    ]
    sf = m.get("source_files")
    if isinstance(sf, dict) and sf.get("count"):
        facts.append(("source files", f"{sf['count']:,} files read ({sf.get('bytes', 0) / 1e6:,.1f} MB)"
                                      + (f" under {sf['root']}" if sf.get("root") else "")))
    splits = [(name, s["rows"], len(s.get("shards", [])), sum(int(x.get("bytes", 0)) for x in s.get("shards", [])))
              for name, s in m["splits"].items()]
    steps, summaries = [], []
    for s in m.get("steps", []):
        reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(s.get("reasons", {}).items(), key=lambda kv: -kv[1]))
        steps.append((s["step"], s.get("in", 0), s.get("out", 0), s.get("rejected", 0), reasons))
        for key in ("summary", "info"):      # a step's own figures (dedup's rate, a rollout's model and pass rates)
            if s.get(key):
                summaries.append((s["step"], _summary_text(s[key])))
    checks = [(name, v.get("pass_rate"), v.get("passed", 0), v.get("total", 0))
              for name, v in (m.get("verifiers") or {}).items()]
    usage = []
    for s in m.get("steps", []):
        u = s.get("usage") or {}
        if u:
            usage.append((s["step"], int(u.get("api_calls", 0)), int(u.get("cache_hits", 0)),
                          int(u.get("tokens_in", 0)), int(u.get("tokens_out", 0)), float(u.get("cost_usd", 0.0))))
    accounting = m.get("accounting") or {}
    return {
        "facts": facts,
        "splits": splits,
        "steps": steps,
        "summaries": summaries,
        "checks": checks,
        "usage": usage,
        "cost": sum(u[5] for u in usage),
        "budget": m.get("image_budget"),
        "frames": frames_table(schema),
        "warnings": list(m.get("warnings") or []) + [f"accounting: {p}" for p in accounting.get("problems", [])],
        "spec": yaml.safe_dump(m.get("spec", {}), sort_keys=False, allow_unicode=True, width=110),
    }


def frames_table(schema: Any) -> list[tuple[str, str, str]]:
    """``(field, what, frame)`` for each image and each field of coordinates the schema declares."""
    rows = []
    for f in schema.fields:
        if is_image_type(f.type) or f.type.semantic == "video":
            size = f"size in {f.size[0]} x {f.size[1]} (pixels)" if f.size else "size not declared"
            rows.append((f.name, str(f.type), size))
        elif f.frame is not None or has_geometry(f.type):
            rows.append((f.name, str(f.type) if len(str(f.type)) < 60 else str(f.type)[:57] + "...",
                         f.frame.describe() + {"all": "", "overlap": "; boxes may reach past its edges",
                                               "none": "; not checked"}[f.frame.inside]
                         if f.frame else "frame not declared"))
    return rows


def _summary_text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(f"{k}: {json.dumps(v, default=str) if isinstance(v, (dict, list)) else v}"
                         for k, v in value.items())
    return str(value)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
