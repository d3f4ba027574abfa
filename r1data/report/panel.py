"""A :class:`Panel`: one picture of a row (an image, a board, a timeline) with shapes drawn on it.

Coordinates are in the panel's own frame: ``0..width`` x ``0..height`` with y down, the
pixels of the stored image for a panel made from one (:meth:`RowView.image_panel` converts a
field's declared frame to it). A box ``[x1, y1, x2, y2]`` covers ``x1 <= x < x2``; a point is
drawn centred on ``(x, y)``.

A panel renders two ways from the same shapes: :meth:`Panel.to_svg` (the report: the stored
image untouched, shapes as SVG, so they stay sharp at any zoom and a hover shows their label)
and :meth:`Panel.to_image` (a PIL image; tests check pixels with it, and it is what a user
saves). Stroke widths, point radii and label sizes are in screen pixels of the report (SVG) or
scaled to the image (raster), so a 224-pixel view and a 1280-pixel screen read alike.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from html import escape
from typing import Any, Sequence

import numpy as np

Point = Sequence[float]

# colours: what the row says (answer, target) in strong ones, context in muted ones
ANSWER = "#ff2d55"
TARGET = "#ffcc00"
OTHER = "#34c759"
CONTEXT = "#5ac8fa"
MUTED = "#d0d0d0"
PALETTE = ("#ff2d55", "#ffcc00", "#34c759", "#5ac8fa", "#af52de", "#ff9500", "#007aff", "#a2845e")


@dataclass
class Shape:
    """One drawn thing; ``kind`` is rect, line, circle, text or overlay (an RGBA image)."""

    kind: str
    points: list[tuple[float, float]]
    color: str = ANSWER
    fill: str | None = None
    width: float = 2.0          # stroke width, screen pixels
    dashed: bool = False
    label: str = ""             # shown on hover; written beside the shape when ``tag``
    tag: bool = True
    closed: bool = False        # line: a polygon
    arrow: bool = False         # line: an arrow head at the last point
    radius: float = 4.0         # circle: screen pixels (``scaled=False``) or panel units
    scaled: bool = False        # circle radius in panel units (a board's piece), not screen pixels
    size: float = 12.0          # text: screen pixels
    opacity: float = 1.0
    data: bytes | None = None   # overlay: an RGBA PNG covering the rectangle ``points``


@dataclass
class Panel:
    """A picture ``width`` x ``height`` (panel units) with ``shapes`` on it.

    ``image`` holds encoded PNG/JPEG bytes drawn over the whole panel; ``placeholder`` marks a
    panel whose image the row no longer has (a rejected record keeps only its size): it is
    drawn grey so the shapes still show where they were."""

    width: float
    height: float
    image: bytes | None = None
    title: str = ""
    caption: str = ""
    background: str | None = None
    placeholder: bool = False
    shapes: list[Shape] = field(default_factory=list)
    display: float | None = None     # CSS pixels wide in the report (default: see display_width)

    # -- drawing -----------------------------------------------------------------------------
    def box(self, xyxy: Point, color: str = ANSWER, label: str = "", *, width: float = 2.0,
            dashed: bool = False, fill: str | None = None, opacity: float = 1.0, tag: bool = True) -> "Panel":
        """An axis-aligned box ``[x1, y1, x2, y2]``; ``label`` written at its corner (``tag``)
        and shown on hover."""
        x1, y1, x2, y2 = (float(v) for v in list(xyxy)[:4])
        self.shapes.append(Shape("rect", [(x1, y1), (x2, y2)], color, fill, width, dashed, label, tag,
                                 opacity=opacity))
        return self

    def point(self, xy: Point, color: str = ANSWER, label: str = "", *, radius: float = 5.0,
              tag: bool = True, ring: bool = False) -> "Panel":
        """A marker centred on ``(x, y)`` (``ring``: an open circle, for a point drawn over another)."""
        x, y = (float(v) for v in list(xy)[:2])
        self.shapes.append(Shape("circle", [(x, y)], color, None if ring else color, 2.5 if ring else 1.5,
                                 label=label, tag=tag, radius=radius))
        return self

    def circle(self, xy: Point, radius: float, color: str = "#000", fill: str | None = None,
               label: str = "", *, width: float = 1.5) -> "Panel":
        """A circle of ``radius`` panel units (a piece on a board)."""
        x, y = (float(v) for v in list(xy)[:2])
        self.shapes.append(Shape("circle", [(x, y)], color, fill, width, label=label, radius=float(radius),
                                 scaled=True))
        return self

    def line(self, points: Sequence[Point], color: str = ANSWER, label: str = "", *, width: float = 2.0,
             dashed: bool = False, closed: bool = False, arrow: bool = False, fill: str | None = None,
             opacity: float = 1.0) -> "Panel":
        """A polyline (``closed``: a polygon; ``arrow``: a head at the last point)."""
        pts = [(float(p[0]), float(p[1])) for p in points]
        if len(pts) >= 2 or (pts and closed):
            self.shapes.append(Shape("line", pts, color, fill, width, dashed, label, False, closed, arrow,
                                     opacity=opacity))
        return self

    def arrow(self, start: Point, end: Point, color: str = ANSWER, label: str = "", *, width: float = 3.0,
              dashed: bool = False) -> "Panel":
        return self.line([start, end], color, label, width=width, dashed=dashed, arrow=True)

    def text(self, xy: Point, text: str, color: str = "#fff", *, size: float = 12.0, center: bool = False,
             halo: bool = True, scaled: bool = False) -> "Panel":
        """``text`` with its baseline's left end at ``(x, y)`` (``center``: centred on it), on a
        dark halo (``halo``); ``size`` in screen pixels, or panel units when ``scaled``."""
        x, y = (float(v) for v in list(xy)[:2])
        self.shapes.append(Shape("text", [(x, y)], color, label=str(text), size=size, closed=center,
                                 tag=halo, scaled=scaled))
        return self

    def mask(self, mask: Any, color: str = ANSWER, label: str = "", *, opacity: float = 0.45) -> "Panel":
        """A binary mask (PNG bytes, a PIL image or an (H, W) array; > 0 is foreground) as a
        translucent overlay stretched over the panel, with its outline."""
        arr = _mask_array(mask)
        if arr is None:
            return self
        rgba = np.zeros((*arr.shape, 4), dtype=np.uint8)
        rgba[..., :3] = _rgb(color)
        rgba[..., 3] = np.where(arr, int(round(255 * opacity)), 0)
        edge = arr & ~_eroded(arr)
        rgba[edge, 3] = 255
        self.shapes.append(Shape("overlay", [(0.0, 0.0), (self.width, self.height)], color, label=label,
                                 data=_png(rgba)))
        return self

    # -- rendering ---------------------------------------------------------------------------
    def display_width(self) -> float:
        """CSS pixels the report shows the panel at: its own width, between 240 and 480 (a tall
        panel narrower, at most 480 high)."""
        if self.display:
            return float(self.display)
        w, h = float(self.width), float(self.height)
        return min(max(w, 240.0), 480.0, 480.0 * w / h if h > 0 else 480.0)

    def to_svg(self, display_width: float | None = None, max_image_side: int = 768) -> str:
        """The panel as an inline ``<svg>`` (images as data URIs; big ones re-encoded smaller)."""
        w, h = float(self.width), float(self.height)
        dw = float(display_width or self.display_width())
        s = w / dw                       # panel units per screen pixel
        out = [f'<svg class="panel" viewBox="0 0 {_n(w)} {_n(h)}" width="{_n(dw)}" '
               f'height="{_n(dw * h / w)}" xmlns="http://www.w3.org/2000/svg">']
        if self.image is not None:
            out.append(f'<image href="{image_uri(self.image, max_image_side)}" x="0" y="0" width="{_n(w)}" '
                       f'height="{_n(h)}" preserveAspectRatio="none"/>')
        else:
            fill = "#8a8a8a" if self.placeholder else (self.background or "#202020")
            out.append(f'<rect x="0" y="0" width="{_n(w)}" height="{_n(h)}" fill="{fill}"/>')
            if self.placeholder:
                out.append(f'<text x="{_n(w / 2)}" y="{_n(h / 2)}" font-size="{_n(12 * s)}" fill="#eee" '
                           'text-anchor="middle">image not kept with the rejected record</text>')
        for sh in self.shapes:
            out.append(_svg_shape(sh, s))
        out.append("</svg>")
        return "".join(out)

    def to_image(self, scale: float | None = None) -> Any:
        """The panel drawn into an RGB PIL image of ``width`` x ``height`` pixels (times ``scale``)."""
        from PIL import Image, ImageDraw

        k = float(scale or 1.0)
        size = (max(1, int(round(self.width * k))), max(1, int(round(self.height * k))))
        if self.image is not None:
            with Image.open(io.BytesIO(self.image)) as im:
                base = im.convert("RGBA").resize(size) if im.size != size else im.convert("RGBA")
        else:
            fill = "#8a8a8a" if self.placeholder else (self.background or "#202020")
            base = Image.new("RGBA", size, fill)
        px = max(1.0, size[0] / 480.0)     # screen pixel -> image pixels (as the report shows it)
        for sh in self.shapes:
            if sh.kind == "overlay":
                with Image.open(io.BytesIO(sh.data or b"")) as ov:
                    (x1, y1), (x2, y2) = sh.points
                    box = (int(round(x1 * k)), int(round(y1 * k)), int(round(x2 * k)), int(round(y2 * k)))
                    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
                    layer.paste(ov.convert("RGBA").resize((box[2] - box[0], box[3] - box[1]), Image.NEAREST),
                                box[:2])
                    base = Image.alpha_composite(base, layer)
        draw = ImageDraw.Draw(base)
        for sh in self.shapes:
            _raster_shape(draw, sh, k, px)
        return base.convert("RGB")


# -- SVG -------------------------------------------------------------------------------------

def _n(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if math.isfinite(v) else "0"


def _title(label: str) -> str:
    return f"<title>{escape(label)}</title>" if label else ""


def _svg_shape(sh: Shape, s: float) -> str:
    stroke = (f'stroke="{sh.color}" stroke-width="{_n(sh.width)}" vector-effect="non-scaling-stroke"'
              + (' stroke-dasharray="6 4"' if sh.dashed else "")
              + (f' opacity="{_n(sh.opacity)}"' if sh.opacity < 1 else ""))
    fill = f'fill="{sh.fill}"' + (' fill-opacity="0.25"' if sh.fill and sh.kind == "rect" else "") if sh.fill \
        else 'fill="none"'
    if sh.kind == "rect":
        (x1, y1), (x2, y2) = sh.points
        tag = (f'<rect x="{_n(min(x1, x2))}" y="{_n(min(y1, y2))}" width="{_n(abs(x2 - x1))}" '
               f'height="{_n(abs(y2 - y1))}" {fill} {stroke}>{_title(sh.label)}</rect>')
        return tag + (_svg_label(sh.label, min(x1, x2), min(y1, y2), sh.color, s) if sh.label and sh.tag else "")
    if sh.kind == "circle":
        (x, y), r = sh.points[0], sh.radius * (1.0 if sh.scaled else s)
        tag = f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" {fill} {stroke}>{_title(sh.label)}</circle>'
        if sh.label and sh.tag and not sh.scaled:
            tag += _svg_label(sh.label, x + r, y - r, sh.color, s)
        return tag
    if sh.kind == "line":
        pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in sh.points)
        tag = (f'<{"polygon" if sh.closed else "polyline"} points="{pts}" {fill} {stroke} '
               f'stroke-linejoin="round" stroke-linecap="round">{_title(sh.label)}'
               f'</{"polygon" if sh.closed else "polyline"}>')
        if sh.arrow:
            head = _arrow_head(sh.points[-2], sh.points[-1], (4 + 2.5 * sh.width) * s)
            tag += (f'<polygon points="{" ".join(f"{_n(x)},{_n(y)}" for x, y in head)}" fill="{sh.color}"'
                    + (f' opacity="{_n(sh.opacity)}"' if sh.opacity < 1 else "") + "/>")
        return tag
    if sh.kind == "text":
        (x, y) = sh.points[0]
        size = sh.size * (1.0 if sh.scaled else s)
        where = ' text-anchor="middle" dominant-baseline="central"' if sh.closed else ""
        halo = f' stroke="#000" stroke-width="{_n(size / 5)}" paint-order="stroke"' if sh.tag else ""
        return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" fill="{sh.color}"{where}{halo} '
                f'font-family="sans-serif" font-weight="bold">{escape(sh.label)}</text>')
    if sh.kind == "overlay":
        (x1, y1), (x2, y2) = sh.points
        uri = "data:image/png;base64," + base64.b64encode(sh.data or b"").decode()
        return (f'<image href="{uri}" x="{_n(x1)}" y="{_n(y1)}" width="{_n(x2 - x1)}" height="{_n(y2 - y1)}" '
                f'preserveAspectRatio="none">{_title(sh.label)}</image>')
    raise ValueError(f"unknown shape kind {sh.kind!r}")


def _svg_label(label: str, x: float, y: float, color: str, s: float) -> str:
    size = 11 * s
    y = y - 3 * s if y - size > 0 else y + size + 2 * s
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" fill="{color}" stroke="#000" '
            f'stroke-width="{_n(2.5 * s)}" paint-order="stroke" font-family="sans-serif">{escape(label)}</text>')


def _arrow_head(p0: tuple[float, float], p1: tuple[float, float], length: float) -> list[tuple[float, float]]:
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    n = math.hypot(dx, dy) or 1.0
    ux, uy = dx / n, dy / n
    bx, by = p1[0] - ux * length, p1[1] - uy * length
    half = length * 0.45
    return [p1, (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)]


# -- raster ----------------------------------------------------------------------------------

def _raster_shape(draw: Any, sh: Shape, k: float, px: float) -> None:
    w = max(1, int(round(sh.width * px)))
    color = _rgba(sh.color, sh.opacity)
    fill = _rgba(sh.fill, 0.25 if sh.kind == "rect" else 1.0) if sh.fill else None
    if sh.kind == "rect":
        (x1, y1), (x2, y2) = sh.points
        # the outline's inner edge on the box edge: x1 <= x < x2 stays inside the stroke's reach
        draw.rectangle([x1 * k, y1 * k, x2 * k - 1, y2 * k - 1], outline=color, fill=fill, width=w)
    elif sh.kind == "circle":
        (x, y) = sh.points[0]
        r = sh.radius * (k if sh.scaled else px)
        draw.ellipse([x * k - r, y * k - r, x * k + r, y * k + r], outline=color, fill=fill, width=w)
    elif sh.kind == "line":
        pts = [(x * k, y * k) for x, y in sh.points]
        if sh.closed:
            draw.polygon(pts, outline=color, fill=fill, width=w)
        else:
            draw.line(pts, fill=color, width=w, joint="curve")
        if sh.arrow:
            draw.polygon(_arrow_head(pts[-2], pts[-1], (4 + 2.5 * sh.width) * px), fill=color)
    elif sh.kind == "text":
        (x, y) = sh.points[0]
        size = sh.size * (k if sh.scaled else px)
        try:
            from PIL import ImageFont

            font = ImageFont.load_default(size=max(8, size))
        except (TypeError, OSError):     # an old Pillow: its fixed bitmap font
            font = None
        draw.text((x * k, y * k), sh.label, fill=color, font=font, anchor="mm" if sh.closed else "ls",
                  stroke_width=1 if sh.tag else 0, stroke_fill=(0, 0, 0))


def _rgb(color: str) -> tuple[int, int, int]:
    from PIL import ImageColor

    return ImageColor.getrgb(color)[:3]


def _rgba(color: str, opacity: float = 1.0) -> tuple[int, int, int, int]:
    r, g, b = _rgb(color)
    return r, g, b, int(round(255 * opacity))


# -- images ----------------------------------------------------------------------------------

def sniff_mime(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def image_uri(data: bytes, max_side: int = 768) -> str:
    """A ``data:`` URI of an encoded image; one larger than ``max_side`` on a side is
    re-encoded smaller (JPEG, or PNG when it has transparency) to keep the page light."""
    from PIL import Image

    mime = sniff_mime(data)
    if max_side:
        try:
            with Image.open(io.BytesIO(data)) as im:
                if max(im.size) > max_side:
                    im.draft("RGB", (max_side, max_side))     # JPEG: decode at a reduced scale
                    # a whole factor (box filter, several times faster than a resize): at most max_side
                    factor = -(-max(im.size) // max_side)
                    small = im.reduce(factor) if factor > 1 else im
                    buf = io.BytesIO()
                    if small.mode in ("RGBA", "LA", "P"):
                        small.save(buf, format="PNG", optimize=False)
                        mime = "image/png"
                    else:
                        small.convert("RGB").save(buf, format="JPEG", quality=85)
                        mime = "image/jpeg"
                    data = buf.getvalue()
        except Exception:      # not an image PIL reads: the browser gets the bytes as they are
            pass
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def _png(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _mask_array(mask: Any, max_side: int = 512) -> np.ndarray | None:
    """A boolean (H, W) array from PNG bytes, a PIL image, an array or a ``{bytes}`` cell;
    masks larger than ``max_side`` are reduced (nearest) to keep the page light."""
    from PIL import Image

    if isinstance(mask, dict):
        mask = mask.get("bytes")
    if mask is None:
        return None
    if isinstance(mask, (bytes, bytearray, memoryview)):
        if not mask:
            return None
        with Image.open(io.BytesIO(bytes(mask))) as im:
            mask = im.convert("L")
            mask.load()
    if isinstance(mask, Image.Image):
        im = mask.convert("L")
    else:
        arr = np.asarray(mask)
        if arr.ndim != 2:
            raise ValueError(f"a mask must be 2-D, got shape {arr.shape}")
        im = Image.fromarray((arr > 0).astype(np.uint8) * 255)
    if max(im.size) > max_side:
        scale = max_side / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.NEAREST)
    return np.asarray(im) > 0


def _eroded(arr: np.ndarray) -> np.ndarray:
    """``arr`` shrunk by one pixel (4-neighbourhood), for the mask's outline."""
    e = arr.copy()
    e[1:, :] &= arr[:-1, :]
    e[:-1, :] &= arr[1:, :]
    e[:, 1:] &= arr[:, :-1]
    e[:, :-1] &= arr[:, 1:]
    e[0, :] = e[-1, :] = False
    e[:, 0] = e[:, -1] = False
    return e & arr
