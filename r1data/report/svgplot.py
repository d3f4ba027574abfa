"""Plots as inline SVG, drawn by hand: bars, histograms and heat maps (no plotting library, no
script: the page stays one static file that any browser shows offline)."""

from __future__ import annotations

import math
from html import escape

import numpy as np

SERIES = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7")
FONT = 'font-family="sans-serif" font-size="11"'


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _fmt(v: float) -> str:
    if v == int(v) and abs(v) < 1e6:
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def bars(rows: list[tuple[str, dict[str, int]]], series: list[str], width: int = 460) -> str:
    """Horizontal bars, one row per label, stacked by series (a legend when there are several)."""
    label_w, count_w, row_h = 150, 56, 18
    legend_h = 18 if len(series) > 1 else 0
    h = legend_h + row_h * len(rows) + 6
    plot_w = width - label_w - count_w
    top = max((sum(c.values()) for _, c in rows), default=0) or 1
    out = [f'<svg class="plot" viewBox="0 0 {width} {h}" width="{width}" height="{h}" '
           f'xmlns="http://www.w3.org/2000/svg" {FONT}>']
    if len(series) > 1:
        x = label_w
        for k, s in enumerate(series):
            out.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{SERIES[k % len(SERIES)]}"/>'
                       f'<text x="{x + 13}" y="13">{escape(s)}</text>')
            x += 20 + 7 * len(s)
    for r, (label, counts) in enumerate(rows):
        y = legend_h + r * row_h
        shown = label if len(label) <= 24 else label[:23] + "…"
        out.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end"><title>{escape(label)}</title>'
                   f'{escape(shown)}</text>')
        x = float(label_w)
        for k, s in enumerate(series):
            c = counts.get(s, 0)
            if c:
                w = plot_w * c / top
                out.append(f'<rect x="{_n(x)}" y="{y + 3}" width="{_n(max(w, 0.5))}" height="{row_h - 5}" '
                           f'fill="{SERIES[k % len(SERIES)]}"><title>{escape(label)}, {escape(s)}: {c:,}'
                           f'</title></rect>')
                x += w
        out.append(f'<text x="{_n(x + 4)}" y="{y + 13}">{sum(counts.values()):,}</text>')
    out.append("</svg>")
    return "".join(out)


def histogram(values: np.ndarray, bins: int = 30, width: int = 460, height: int = 170,
              integer: bool = False) -> str:
    """Counts of ``values`` in ``bins`` equal bins between their minimum and maximum."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    left, bottom, right, top_pad = 44, 28, 12, 8
    out = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg" {FONT}>']
    if v.size == 0:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no values</text></svg>')
        return "".join(out)
    lo, hi = float(v.min()), float(v.max())
    if integer and hi - lo + 1 <= bins:
        edges = np.arange(lo - 0.5, hi + 1.5)
    elif hi == lo:
        edges = np.array([lo - 0.5, hi + 0.5])
    else:
        edges = np.linspace(lo, hi, bins + 1)
    counts, _ = np.histogram(v, bins=edges)
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    peak = counts.max() or 1
    bw = plot_w / len(counts)
    for i, c in enumerate(counts):
        if c:
            bh = plot_h * c / peak
            out.append(f'<rect x="{_n(left + i * bw)}" y="{_n(top_pad + plot_h - bh)}" width="{_n(max(bw - 1, 0.8))}" '
                       f'height="{_n(bh)}" fill="{SERIES[0]}"><title>{_fmt(edges[i])} – {_fmt(edges[i + 1])}: '
                       f'{int(c):,}</title></rect>')
    y0 = top_pad + plot_h
    out.append(f'<line x1="{left}" y1="{y0}" x2="{width - right}" y2="{y0}" stroke="#888"/>')
    out.append(f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{y0}" stroke="#888"/>')
    out.append(f'<text x="{left - 4}" y="{top_pad + 9}" text-anchor="end">{int(peak):,}</text>')
    out.append(f'<text x="{left - 4}" y="{y0}" text-anchor="end">0</text>')
    first = (edges[0] + edges[1]) / 2 if integer and len(edges) - 1 == hi - lo + 1 else edges[0]
    last = (edges[-2] + edges[-1]) / 2 if integer and len(edges) - 1 == hi - lo + 1 else edges[-1]
    out.append(f'<text x="{left}" y="{y0 + 14}">{_fmt(first)}</text>')
    out.append(f'<text x="{width - right}" y="{y0 + 14}" text-anchor="end">{_fmt(last)}</text>')
    out.append("</svg>")
    return "".join(out)


def heatmap(grid: np.ndarray, width: int = 300, caption: str = "") -> str:
    """A grid of counts (rows top to bottom = y down) as shaded cells, darker for more."""
    g = np.asarray(grid, dtype=np.float64)
    rows, cols = g.shape
    cell = width / cols
    h = cell * rows
    peak = g.max() or 1.0
    out = [f'<svg class="plot" viewBox="0 0 {_n(width + 160)} {_n(h + 4)}" width="{_n(width + 160)}" '
           f'height="{_n(h + 4)}" xmlns="http://www.w3.org/2000/svg" {FONT}>',
           f'<rect x="0" y="0" width="{_n(width)}" height="{_n(h)}" fill="#f4f4f4" stroke="#888"/>']
    for r in range(rows):
        for c in range(cols):
            v = g[r, c]
            if v > 0:
                out.append(f'<rect x="{_n(c * cell)}" y="{_n(r * cell)}" width="{_n(cell + 0.3)}" '
                           f'height="{_n(cell + 0.3)}" fill="{_ramp(math.sqrt(v / peak))}">'
                           f'<title>{int(v):,}</title></rect>')
    out.append(f'<text x="{_n(width + 8)}" y="14">{escape(caption)}</text>')
    out.append(f'<text x="{_n(width + 8)}" y="30">max {int(peak):,} per cell</text>')
    for k, t in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        out.append(f'<rect x="{_n(width + 8 + 22 * k)}" y="40" width="20" height="10" fill="{_ramp(t)}"/>')
    out.append("</svg>")
    return "".join(out)


def _ramp(t: float) -> str:
    """Light yellow (few) to dark purple (many)."""
    stops = [(255, 247, 188), (254, 178, 76), (240, 59, 32), (122, 1, 119)]
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    f = t - i
    r, g, b = (int(round(a + (bb - a) * f)) for a, bb in zip(stops[i], stops[i + 1]))
    return f"#{r:02x}{g:02x}{b:02x}"
