"""The manifest of a finished build (``OUT/manifest.json``) and the JSON files of the engine."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

import r1data
from r1data.spec import ResolvedSpec
from r1data.steps.base import Stats


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON: a crash or a full disk leaves the old file whole."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=str)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def step_entries(r: ResolvedSpec, stats: Stats) -> list[dict]:
    """One entry per spec step: records in, out, rejected (expanded), reasons, API usage."""
    steps = []
    for b in r.steps:
        s = stats.steps.get(b.label, {"in": 0, "out": 0, "rejected": 0})
        entry = {"step": b.name, **s,
                 "reasons": stats.reasons.get(b.name, {})}
        summarize = getattr(b.definition.target, "summarize", None)
        if callable(summarize):   # a step's own figures, from what the build counted
            entry["summary"] = summarize(entry, stats.counters)
        suffix = f":{b.name}"   # what an API step counted: calls, tokens, cost (annotate.py)
        usage = {k[: -len(suffix)]: v for k, v in stats.counters.items() if k.endswith(suffix)}
        if usage:
            entry["usage"] = usage
        describe = getattr(b.definition.target, "manifest_info", None)
        if describe is not None:      # what a step wants on record (the rollout's model)
            entry["info"] = describe(b.params, r.assets)
        steps.append(entry)
    return steps


def make_manifest(r: ResolvedSpec, *, stats: Stats, spec_hash: str, size: int | None, seed: int,
                  options: dict, items_read: int, splits: dict, rejects: list, accounting: dict,
                  wall_time_s: float, warnings: list[str], source_root: Any = None) -> dict:
    from r1data.sourcefiles import manifest_entry

    verifiers = {}
    for name, (p, t) in sorted(stats.verifiers.items()):
        entry: dict[str, Any] = {"passed": p, "total": t, "pass_rate": (p / t if t else None)}
        for kind in ("errors", "timeouts"):   # checks that raised or ran too long (checks.py)
            n = stats.counters.get(f"verifier_{kind}:{name}")
            if n:
                entry[kind] = int(n)
        verifiers[name] = entry
    return {
        "corpus": r.name,
        "description": r.spec.description,
        "r1data_version": r1data.__version__,
        "spec_hash": spec_hash,
        "spec_file": r.file.name,
        **({"annotator": options["annotator"]} if options.get("annotator") else {}),
        "spec": r.canonical(size, seed),
        "seed": seed,
        "size": size,
        "source": {"name": r.source_name, "reader": r.source_def.name, "items_read": items_read},
        # every file the source and steps read, relative to the source folder (issue: provenance)
        "source_files": manifest_entry(stats.files, source_root or r.source_params.get("dir")),
        "rows": sum(s["rows"] for s in splits.values()),
        "splits": splits,
        "rejects": {
            "rows": sum(s.rows for s in rejects),
            "shards": [s.to_dict() for s in rejects],
            "by_step": {k: dict(v) for k, v in stats.reasons.items()},
        },
        "steps": step_entries(r, stats),
        "accounting": accounting,
        "verifiers": verifiers,
        "counters": stats.counters,
        "features": r.schema.features().to_dict(),
        "schema": r.schema.to_dict(),
        "wall_time_s": round(wall_time_s, 3),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"python": platform.python_version(), "pyarrow": pa.__version__},
        "warnings": warnings,
        "reward_backends": _reward_backends(r.spec.rewards),
    }


def _reward_backends(specs: list) -> dict[str, str]:
    """What would score the spec's model-backed rewards on this machine (3D-R1's semantic: CLIP
    or MiniLM), so the manifest and the card say it; loads nothing."""
    from r1data import rewards

    return rewards.backends(specs) if specs else {}
