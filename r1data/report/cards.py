"""One row in the report: its panels drawn by the corpus's drawer, its text fields (long ones
folded) and its other fields in a folded table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from r1data.frames import is_image_type
from r1data.report.view import RowView

MAX_WIDTH = 1280        # a card's widest, in CSS pixels; wider rows of panels wrap
FOLD_CHARS = 500         # text longer than this is folded, its start shown
FIELD_CHARS = 300        # other fields are cut at this length
ROLE_ORDER = {"question": 0, "reasoning": 1, "answer": 2}


@dataclass
class Card:
    row_id: str
    split: str = ""
    group: str = ""
    panels: list[tuple[str, Markup, str, int]] = field(default_factory=list)   # (title, svg, caption, width)
    texts: list[tuple[str, str, str, str]] = field(default_factory=list)  # (field, role, text, summary if folded)
    fields: list[tuple[str, str]] = field(default_factory=list)
    reject: dict | None = None
    error: str = ""
    width: int = 360        # CSS pixels: the panels side by side (up to MAX_WIDTH), so text wraps under them


def make_card(row: dict, schema: Any, drawer: Any, corpus_dir: Path, max_image_side: int, *, split: str = "",
              group: str = "", reject: dict | None = None) -> Card:
    """Draw ``row`` with ``drawer``; a drawer that raises leaves the card with its text and the
    error (the page is still written; the CLI counts such rows)."""
    card = Card(str(row.get("id", "")), split, group, reject=reject)
    view = RowView(row, schema, corpus_dir, reject)
    try:
        panels = drawer(view) or []
        widths = []
        for p in panels:
            widths.append(p.display_width())
            card.panels.append((p.title, Markup(p.to_svg(max_image_side=max_image_side)), p.caption,
                                int(round(widths[-1]))))
        # panels side by side, the gaps between them, the card's padding and border
        card.width = int(min(MAX_WIDTH, max(360, sum(widths) + 8 * max(0, len(widths) - 1) + 22)))
    except Exception as e:      # one row's drawing failing must not lose the page
        card.error = f"{type(e).__name__}: {e}"
    shown = set()
    roles = sorted((f for f in schema.fields if f.role in ROLE_ORDER and f.name in row),
                   key=lambda f: ROLE_ORDER[f.role])
    for f in roles:
        text = _text(row.get(f.name))
        if text:
            summary = " ".join(text.split())[:160] + "…" if len(text) > FOLD_CHARS else ""
            card.texts.append((f.name, f.role, text, summary))
        shown.add(f.name)
    for f in schema.fields:
        if f.name in shown or f.name == "id" or f.name not in row or is_image_type(f.type) or f.type.has_image:
            continue
        value = row.get(f.name)
        if value is None or value == "" or value == []:
            continue
        card.fields.append((f.name, _short(value)))
    return card


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _short(value: Any) -> str:
    if isinstance(value, list) and len(value) > 12:     # a point cloud: its first items and its length
        head = json.dumps(_rounded(value[:3]), ensure_ascii=False, default=str)
        return f"{head[:-1]}, … ({len(value):,} items)]"[: FIELD_CHARS]
    text = value if isinstance(value, str) else json.dumps(_rounded(value), ensure_ascii=False, default=str)
    return text if len(text) <= FIELD_CHARS else text[: FIELD_CHARS - 1] + "…"


def _rounded(value: Any) -> Any:
    """Floats at 4 significant digits (float32 noise hides the value)."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        if "bytes" in value and set(value) <= {"bytes", "path", "sha256"}:
            return "<image>"
        return {k: _rounded(v) for k, v in value.items()}
    return value
