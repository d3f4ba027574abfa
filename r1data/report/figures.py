"""The report's figures: distributions that show a corpus's biases, computed with Arrow over every
row (images are never decoded here).

From the schema alone: each short categorical column (question type, task, answer, situation,
booleans) as bars per split; answer letters when the answers are choices; lengths of the
question, reasoning and answer in tokens; every numeric column (mask areas, scores, pass rates
after a rollout) as a histogram; image sizes; and for each field of boxes or points declared in
a frame, where they lie (a heat map over the image, in its frame) and how big boxes are. A
corpus adds its own through ``@drawer(..., figures=fn)``, ``fn(table) -> list[Figure]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from r1data.frames import has_geometry, is_image_type
from r1data.report import svgplot

TOKEN_RE = r"\w+|[^\w\s]"      # words and punctuation marks: a model's tokenizer counts about 1.3x
MAX_CATEGORIES = 40            # a string column with more distinct values is not a category
TEXT_ROLES = ("question", "reasoning", "answer")
NUMERIC = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
           "float64")
GRID = 24                      # heat map cells per side


@dataclass
class Figure:
    """One plot: a title, the inline SVG and a line saying what it shows."""

    title: str
    svg: str
    note: str = ""


def bar_figure(title: str, values: Any, splits: Any = None, note: str = "", top: int = 25) -> Figure:
    """Counts of each value (most frequent first, ``top`` shown), stacked by split."""
    counts: dict[str, dict[str, int]] = {}
    if isinstance(values, (pa.Array, pa.ChunkedArray)) and splits is not None:
        # counted by Arrow: a group-by over (value, split)
        t = pa.table({"v": values.cast(pa.string()) if not pa.types.is_string(values.type) else values,
                      "s": splits}).group_by(["v", "s"]).aggregate([([], "count_all")])
        for v, s, n in zip(t.column("v").to_pylist(), t.column("s").to_pylist(), t.column("count_all").to_pylist()):
            counts.setdefault("(null)" if v is None else str(v), {})[str(s)] = int(n)
        series = list(dict.fromkeys(str(s) for s in _pylist(pc.unique(splits))))
    else:
        vals = [("(null)" if v is None else str(v)) for v in _pylist(values)]
        sp = [str(s) for s in _pylist(splits)] if splits is not None else ["all"] * len(vals)
        series = list(dict.fromkeys(sp))
        for v, s in zip(vals, sp):
            c = counts.setdefault(v, {})
            c[s] = c.get(s, 0) + 1
    rows = sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    more = len(rows) - top
    rows = rows[:top]
    extra = f"{more} more values not shown. " if more > 0 else ""
    return Figure(title, svgplot.bars(rows, series), (extra + note).strip())


def histogram_figure(title: str, values: Any, note: str = "", integer: bool = False) -> Figure:
    v = np.asarray([x for x in _pylist(values) if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    stats = (f"{v.size:,} values; min {v.min():.4g}, median {np.median(v):.4g}, mean {v.mean():.4g}, "
             f"max {v.max():.4g}. ") if v.size else "no values. "
    return Figure(title, svgplot.histogram(v, integer=integer), (stats + note).strip())


def heatmap_figure(title: str, xs: Any, ys: Any, note: str = "") -> Figure:
    """Where points lie, ``xs`` and ``ys`` as fractions (0-1) of the image, y down."""
    x = np.clip(np.asarray(xs, dtype=np.float64), 0, 0.999999)
    y = np.clip(np.asarray(ys, dtype=np.float64), 0, 0.999999)
    ok = np.isfinite(x) & np.isfinite(y)
    grid = np.zeros((GRID, GRID))
    np.add.at(grid, ((y[ok] * GRID).astype(int), (x[ok] * GRID).astype(int)), 1)
    return Figure(title, svgplot.heatmap(grid, caption=f"{int(ok.sum()):,} (top left = image corner)"),
                  note)


def _pylist(values: Any) -> list:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.to_pylist()
    return list(values)


# -- from the schema -------------------------------------------------------------------------

def schema_figures(table: pa.Table, schema: Any, splits: pa.Array) -> list[Figure]:
    """Every figure the schema allows, over ``table`` (its rows' ``splits`` alongside)."""
    figs: list[Figure] = []
    n = table.num_rows
    if n == 0:
        return figs
    size_fields = {name for f in schema.fields if f.size for name in f.size}
    answer = next((f.name for f in schema.fields if f.role == "answer" and f.type.kind == "string"), None)
    letters = _answer_letters(table, answer) if answer else None
    if letters is not None:
        figs.append(bar_figure(f"Answer letters ({answer})", letters, splits,
                               "The correct option's letter: a corpus whose letters are uneven teaches a prior."))
    categorical = set()
    for f in schema.fields:
        if f.name not in table.column_names or f.name == "id" or f.name.endswith("_id"):
            continue
        col = table.column(f.name)
        kind = f.type.kind
        if kind == "bool" or (kind == "string" and f.role not in ("question", "reasoning")):
            fig = _category_figure(f, col, splits, n, is_answer=f.name == answer and letters is None)
            if fig:
                figs.append(fig)
                categorical.add(f.name)
        elif kind == "list" and f.type.semantic is None and f.type.item is not None and \
                f.type.item.kind in NUMERIC and f.type.item.semantic is None:
            flat = pc.list_flatten(col)          # every value of every row (a rollout's rewards)
            if len(flat) and len(pc.unique(flat)) > 1:
                figs.append(histogram_figure(f"{f.name}, every value", flat, f.description[:160],
                                             integer=f.type.item.kind[0] in "iu"))
        elif kind in NUMERIC and f.name not in size_fields and not f.name.endswith("_id"):
            values = col.to_numpy(zero_copy_only=False)
            finite = values[~np.isnan(values.astype(np.float64))] if values.dtype.kind == "f" else values
            if finite.size and np.unique(finite[:10000]).size > 1:
                figs.append(histogram_figure(f"{f.name}", col, f.description[:160], integer=kind[0] in "iu"))
    for f in schema.fields:
        if f.role in TEXT_ROLES and f.type.kind == "string" and f.name in table.column_names and \
                f.name not in categorical and not (f.name == answer and letters is not None):
            tokens = pc.count_substring_regex(table.column(f.name).fill_null(""), TOKEN_RE)
            figs.append(histogram_figure(f"{f.role.capitalize()} length ({f.name}), tokens", tokens,
                                         "Counted as words and punctuation marks (a model's tokenizer gives "
                                         "about 1.3 times as many).", integer=True))
    figs.extend(_size_figures(table, schema, splits))
    for f in schema.fields:
        if f.frame is not None and has_geometry(f.type) and f.name in table.column_names:
            figs.extend(geometry_figures(table, schema, f))
    return figs


def _category_figure(f: Any, col: pa.ChunkedArray, splits: pa.Array, n: int, is_answer: bool) -> Figure | None:
    counts = pc.value_counts(col)
    distinct = len(counts)
    if distinct <= 1:
        return None
    if f.type.kind == "string":
        lengths = pc.utf8_length(col.fill_null(""))
        if pc.mean(lengths).as_py() > 60:            # prose, not a category
            return None
        if not is_answer and (distinct > MAX_CATEGORIES or (distinct > 10 and distinct > n / 2)):
            return None          # nearly one value per row: a label, not a category
    note = f.description[:160]
    title = f"{'Answers' if is_answer else f.name} ({f.name})" if is_answer else f.name
    return bar_figure(title, col, splits, f"{distinct:,} distinct values. {note}")


def answer_letter(text: str | None) -> str | None:
    """The option letter of an answer: ``B``, ``(B)``, ``<answer>B</answer>`` (LongVideo-Reason),
    ``<type>spatial_qa</type>(B)`` (Embodied-R1); None when it names none."""
    import re

    from r1data.parsing import choice_letter, tag_content

    text = tag_content(text, "answer") or text or ""
    text = re.sub(r"^\s*<type>.*?</type>", "", text)
    return choice_letter(text) if len(text.strip()) <= 3 or re.match(r"\s*\(?[A-Z][).:]", text) else None


def _answer_letters(table: pa.Table, answer: str) -> list | None:
    """The option letter of each answer when (nearly) every answer is one; else None."""
    col = table.column(answer).fill_null("")
    sample = col.slice(0, 2000).to_pylist()
    if not sample or any(len(s) > 60 for s in sample[:200]):
        return None
    parsed = [answer_letter(s) for s in sample]
    if sum(p is not None for p in parsed) < 0.9 * len(parsed):
        return None
    return [answer_letter(s) or "(none)" for s in col.to_pylist()]


def _size_figures(table: pa.Table, schema: Any, splits: pa.Array) -> list[Figure]:
    out = []
    for f in schema.fields:
        if f.size is None or not all(s in table.column_names for s in f.size):
            continue
        w = table.column(f.size[0]).to_pylist()
        h = table.column(f.size[1]).to_pylist()
        sizes = [f"{a} x {b}" if not isinstance(a, list) else ", ".join(f"{x} x {y}" for x, y in zip(a, b))
                 for a, b in zip(w, h)]
        if len(set(sizes)) > 1:
            out.append(bar_figure(f"Image sizes ({f.name})", sizes, splits,
                                  f"width x height in pixels, from {f.size[0]} and {f.size[1]}."))
    return out


# -- boxes and points --------------------------------------------------------------------------

def geometry_figures(table: pa.Table, schema: Any, f: Any) -> list[Figure]:
    """Where the boxes or points of field ``f`` lie in their frame, and how large boxes are."""
    col = table.column(f.name).combine_chunks()
    t = f.type.item if f.frame.per_image and f.type.kind == "list" else f.type
    arr = pc.list_flatten(col) if f.frame.per_image else col
    parent = pc.list_parent_indices(col).to_numpy() if f.frame.per_image else None
    extent = frame_extents(table, schema, f)
    figs = []
    for kind, rows, values in _coordinates(arr, t):
        if parent is not None:
            rows = parent[rows]
        if not len(rows):
            continue
        ew, eh = extent[0][rows], extent[1][rows]
        note = f"In the field's frame ({f.frame.describe()}), as fractions of its width and height."
        if kind == "box2d":
            cx = (values[:, 0] + values[:, 2]) / 2 / ew
            cy = (values[:, 1] + values[:, 3]) / 2 / eh
            area = np.clip((values[:, 2] - values[:, 0]) / ew, 0, None) * np.clip((values[:, 3] - values[:, 1]) / eh, 0, None)
            figs.append(heatmap_figure(f"Box centres ({f.name})", cx, cy, note))
            figs.append(histogram_figure(f"Box sizes ({f.name}), share of the image's area", area,
                                         "Box area over image area."))
        else:
            figs.append(heatmap_figure(f"Points ({f.name})", values[:, 0] / ew, values[:, 1] / eh, note))
    return figs


def frame_extents(table: pa.Table, schema: Any, f: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the width and height of field ``f``'s frame (NaN where unknown)."""
    fr = f.frame
    n = table.num_rows
    if fr.units == "0-1":
        return np.ones(n), np.ones(n)
    if fr.units == "0-1000":
        return np.full(n, 1000.0), np.full(n, 1000.0)
    if fr.units == "resized":
        return _ints(table, fr.size[0]), _ints(table, fr.size[1])
    image = schema.field(fr.image)
    if image.size is None or not all(s in table.column_names for s in image.size):
        return np.full(n, np.nan), np.full(n, np.nan)
    w, h = _ints(table, image.size[0]), _ints(table, image.size[1])
    if fr.units == "smart_resize":
        from r1data.budget import smart_resize_many

        hb, wb = smart_resize_many(h, w, fr.min_pixels, fr.max_pixels)
        return wb.astype(np.float64), hb.astype(np.float64)
    return w, h


def _ints(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name)
    if pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type):
        col = pc.list_element(col.combine_chunks(), 0)     # per-image sizes: the first image's
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


def _coordinates(arr: pa.Array, t: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(kind, row index, values (N, 4 or 2))`` of every box or point in ``arr`` of type ``t``."""
    if t.semantic in ("box2d", "point2d"):
        k = 4 if t.semantic == "box2d" else 2
        valid = np.flatnonzero(~np.asarray(arr.is_null().to_numpy(zero_copy_only=False)))
        vals = pc.list_flatten(arr.filter(arr.is_valid())).to_numpy(zero_copy_only=False).astype(np.float64)
        if vals.size != valid.size * k:       # variable-length lists of the wrong size: skip them
            return []
        return [(t.semantic, valid, vals.reshape(-1, k))]
    if t.semantic == "mask":
        return []
    if t.kind == "list" and t.item is not None:
        parent = pc.list_parent_indices(arr).to_numpy()
        child = pc.list_flatten(arr)
        item = t.item
        if t.semantic == "points2d":
            item = _point_type()
        return [(kind, parent[rows], vals) for kind, rows, vals in _coordinates(child, item)]
    if t.kind == "struct":
        out = []
        for name, ft in t.fields:
            if has_geometry(ft):
                out.extend(_coordinates(pc.struct_field(arr, name), ft))
        return out
    return []


def _point_type() -> Any:
    from r1data.schema import parse_type

    return parse_type("point2d")


def numeric_only(schema: Any) -> list[str]:
    """Columns the figures read: everything but images and masks."""
    return [f.name for f in schema.fields if not f.type.has_image and not is_image_type(f.type)]
