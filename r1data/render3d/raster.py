"""The z-buffer: triangles and point splats to per-pixel nearest fragments.

Triangles are clipped against the near plane (a triangle with one corner behind it becomes
one or two smaller triangles; none is dropped for it), back faces are culled, and each
remaining triangle is scan-converted: for every pixel row whose centre it spans, the two
edges it crosses bound a run of pixel centres (half-open, so two triangles sharing an edge
never both cover a pixel centre). Every covered pixel centre is a fragment with a depth
(``1/z`` is affine in screen space for a perspective camera, ``z`` for an orthographic
one). The nearest fragment per pixel wins: each fragment's key packs its depth (the float32
bit pattern, which orders like the float for positive numbers) above its primitive index,
and one ``np.minimum.at`` keeps the smallest key per pixel, so ties go to the lower index
and the result is the same on every run.

Triangles are drawn by :func:`draw`, the same scan conversion compiled
(:func:`.kernels.raster_triangles`) writing straight into the z-buffer; :func:`scan` and
:func:`resolve` are its vectorised numpy reference (points and sprites still use them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from r1data.render3d.mesh import cross3

NONE = np.iinfo(np.int64).max


@dataclass
class Fragments:
    """Covered pixel centres: flat pixel index, depth key (see module docstring)."""

    pixel: np.ndarray
    key: np.ndarray


def clip_near(tris: np.ndarray, near: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip camera-space triangles (T, 3, 3) against the plane z = ``near``.

    Returns (triangles (T', 3, 3), source index (T',) into the input, barycentric weights
    (T', 3, 3) of each new corner over its source triangle's corners, for attributes).
    Winding is kept, so culling after clipping is still right."""
    z = tris[..., 2]
    inside = z >= near
    n_in = inside.sum(axis=1)
    eye = np.broadcast_to(np.eye(3), (len(tris), 3, 3))
    keep = n_in == 3
    out_t, out_s, out_w = [tris[keep]], [np.nonzero(keep)[0]], [eye[keep]]
    for count in (1, 2):
        sel = np.nonzero(n_in == count)[0]
        if not len(sel):
            continue
        # roll each triangle so that its odd corner (the one inside when count is 1, the one
        # outside when count is 2) comes first; rolling keeps the winding
        odd = inside[sel] if count == 1 else ~inside[sel]
        k = np.argmax(odd, axis=1)
        idx = (k[:, None] + np.arange(3)) % 3
        t = np.take_along_axis(tris[sel], idx[:, :, None], axis=1)
        w0 = np.take_along_axis(np.eye(3)[None].repeat(len(sel), 0), idx[:, :, None], axis=1)
        a, b, c = t[:, 0], t[:, 1], t[:, 2]
        wa, wb, wc = w0[:, 0], w0[:, 1], w0[:, 2]
        tab = ((near - a[:, 2]) / (b[:, 2] - a[:, 2]))[:, None]
        tac = ((near - a[:, 2]) / (c[:, 2] - a[:, 2]))[:, None]
        ab, ac = a + tab * (b - a), a + tac * (c - a)
        wab, wac = wa + tab * (wb - wa), wa + tac * (wc - wa)
        if count == 1:                       # a inside: (a, ab, ac)
            out_t.append(np.stack([a, ab, ac], 1))
            out_w.append(np.stack([wa, wab, wac], 1))
            out_s.append(sel)
        else:                                # a outside: (ab, b, c) and (ab, c, ac)
            out_t += [np.stack([ab, b, c], 1), np.stack([ab, c, ac], 1)]
            out_w += [np.stack([wab, wb, wc], 1), np.stack([wab, wc, wac], 1)]
            out_s += [sel, sel]
    return np.concatenate(out_t), np.concatenate(out_s), np.concatenate(out_w)


def facing(tris: np.ndarray, perspective: bool) -> np.ndarray:
    """Which camera-space triangles face the camera (counter-clockwise seen from it)."""
    n = cross3(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    if perspective:                          # the camera sits at the origin
        return np.einsum("ij,ij->i", n, tris[:, 0]) < 0
    return n[:, 2] < 0                       # looking along +z


def depth_key(depth: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Sortable keys: the float32 bits of a positive depth above a 32-bit primitive index."""
    bits = np.maximum(depth, 1e-6).astype(np.float32).view(np.int32).astype(np.int64)
    return (bits << 32) | index.astype(np.int64)


def key_depth(key: np.ndarray) -> np.ndarray:
    return (key >> 32).astype(np.int32).view(np.float32)


@dataclass
class ScreenTriangles:
    """Triangles in pixel coordinates with what the z-test and the shading need."""

    uv: np.ndarray            # (T, 3, 2)
    q: np.ndarray             # (T, 3): 1/z (perspective) or z (orthographic), affine in screen space
    plane: np.ndarray         # (T, 3): q = A u + B v + C
    bary: np.ndarray          # (T, 2, 3): screen barycentrics b1, b2 = (A u + B v + C)
    area: np.ndarray          # (T,): signed screen area, > 0


def prepare(uv: np.ndarray, q: np.ndarray) -> tuple[ScreenTriangles, np.ndarray]:
    """Plane equations of ``q`` and of the screen barycentrics; drops zero-area triangles.
    Returns the triangles kept and their indices."""
    p0, p1, p2 = uv[:, 0], uv[:, 1], uv[:, 2]
    d1, d2 = p1 - p0, p2 - p0
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    ok = np.abs(det) > 1e-9
    if not ok.all():
        uv, q, p0, d1, d2, det = uv[ok], q[ok], p0[ok], d1[ok], d2[ok], det[ok]
    inv = 1.0 / det
    dq1, dq2 = q[:, 1] - q[:, 0], q[:, 2] - q[:, 0]
    a = (dq1 * d2[:, 1] - dq2 * d1[:, 1]) * inv
    b = (d1[:, 0] * dq2 - d2[:, 0] * dq1) * inv
    c = q[:, 0] - a * p0[:, 0] - b * p0[:, 1]
    # b1 = (d2v (u - u0) - d2u (v - v0)) / det ; b2 = (d1u (v - v0) - d1v (u - u0)) / det
    b1 = np.stack([d2[:, 1] * inv, -d2[:, 0] * inv, (-d2[:, 1] * p0[:, 0] + d2[:, 0] * p0[:, 1]) * inv], 1)
    b2 = np.stack([-d1[:, 1] * inv, d1[:, 0] * inv, (d1[:, 1] * p0[:, 0] - d1[:, 0] * p0[:, 1]) * inv], 1)
    return ScreenTriangles(uv, q, np.stack([a, b, c], 1), np.stack([b1, b2], 1), np.abs(det) / 2), np.nonzero(ok)[0]


def scan(tris: ScreenTriangles, width: int, height: int, perspective: bool, offset: int = 0) -> Fragments:
    """Every pixel centre each triangle covers, with its depth key (index ``offset + i``)."""
    uv = tris.uv
    t_count = len(uv)
    if not t_count:
        return Fragments(np.zeros(0, np.int64), np.zeros(0, np.int64))
    v = uv[..., 1]
    r0 = np.clip(np.ceil(v.min(1)), 0, height).astype(np.int64)
    r1 = np.clip(np.ceil(v.max(1)), 0, height).astype(np.int64)
    nrows = np.maximum(r1 - r0, 0)
    total = int(nrows.sum())
    if not total:
        return Fragments(np.zeros(0, np.int64), np.zeros(0, np.int64))
    tri = np.repeat(np.arange(t_count), nrows)
    start = np.repeat(np.cumsum(nrows) - nrows, nrows)
    row = r0[tri] + (np.arange(total) - start)
    # edges with their lower end first, so two triangles sharing an edge compute the same x
    a = uv[:, [0, 1, 2]]
    b = uv[:, [1, 2, 0]]
    swap = a[..., 1] > b[..., 1]
    lo = np.where(swap[..., None], b, a)
    hi = np.where(swap[..., None], a, b)
    dv = hi[..., 1] - lo[..., 1]
    slope = np.where(dv > 0, (hi[..., 0] - lo[..., 0]) / np.where(dv > 0, dv, 1), 0.0)
    rf = row.astype(np.float64)[:, None]
    lo_t, hi_t = lo[tri], hi[tri]
    x = lo_t[..., 0] + (rf - lo_t[..., 1]) * slope[tri]
    valid = (rf >= lo_t[..., 1]) & (rf < hi_t[..., 1])
    xl = np.where(valid, x, np.inf).min(1)
    xr = np.where(valid, x, -np.inf).max(1)
    c0 = np.clip(np.ceil(xl), 0, width).astype(np.int64)
    c1 = np.clip(np.ceil(xr), 0, width).astype(np.int64)
    span = np.maximum(c1 - c0, 0)
    n_frag = int(span.sum())
    if not n_frag:
        return Fragments(np.zeros(0, np.int64), np.zeros(0, np.int64))
    pair = np.repeat(np.arange(total), span)
    col = c0[pair] + (np.arange(n_frag) - np.repeat(np.cumsum(span) - span, span))
    frow = row[pair]
    ftri = tri[pair]
    pl = tris.plane[ftri]
    q = pl[:, 0] * col + pl[:, 1] * frow + pl[:, 2]
    depth = 1.0 / np.maximum(q, 1e-9) if perspective else q
    return Fragments(frow * width + col, depth_key(depth, ftri + offset))


def resolve(fragments: list[Fragments], n_pixels: int, zbuf: np.ndarray | None = None) -> np.ndarray:
    """The smallest key per pixel (``NONE`` where nothing was drawn), into ``zbuf`` when given."""
    if zbuf is None:
        zbuf = np.full(n_pixels, NONE, dtype=np.int64)
    for f in fragments:
        if len(f.pixel):
            np.minimum.at(zbuf, f.pixel, f.key)
    return zbuf


def draw(tris: ScreenTriangles, zbuf: np.ndarray, width: int, height: int, perspective: bool,
         ids: np.ndarray | None = None, offset: int = 0, limit: np.ndarray | None = None) -> np.ndarray:
    """Draw triangles ``ids`` (default: all) of ``tris`` into ``zbuf`` (flat int64 keys, in place),
    each key carrying ``offset + id``; with ``limit``, only fragments nearer than ``limit`` at
    their pixel. The same keys as ``resolve([scan(tris, ...)])``, without the fragment arrays."""
    from r1data.render3d import kernels

    sel = np.arange(len(tris.uv)) if ids is None else np.asarray(ids, dtype=np.int64)
    if len(sel):
        uv = np.ascontiguousarray(tris.uv[sel], dtype=np.float64)
        plane = np.ascontiguousarray(tris.plane[sel], dtype=np.float64)
        kernels.raster_triangles(uv, plane, (sel + offset).astype(np.int64), bool(perspective), int(width),
                                 int(height), zbuf, zbuf if limit is None else limit, limit is not None)
    return zbuf


def splat(uv: np.ndarray, depth: np.ndarray, size: np.ndarray, width: int, height: int,
          offset: int = 0) -> Fragments:
    """Square point splats: point ``i`` covers a ``size[i]``-pixel square around ``uv[i]``."""
    frags_p, frags_k = [], []
    index = np.arange(len(uv)) + offset
    for s in np.unique(size):
        sel = np.nonzero(size == s)[0]
        s = int(s)
        d = np.arange(s) - (s - 1) / 2
        du, dv = np.meshgrid(d, d)
        cu = np.rint(uv[sel, 0][:, None] + du.ravel()).astype(np.int64)
        cv = np.rint(uv[sel, 1][:, None] + dv.ravel()).astype(np.int64)
        ok = (cu >= 0) & (cu < width) & (cv >= 0) & (cv < height)
        rows = np.broadcast_to(sel[:, None], ok.shape)[ok]
        frags_p.append(cv[ok] * width + cu[ok])
        frags_k.append(depth_key(depth[rows], index[rows]))
    if not frags_p:
        return Fragments(np.zeros(0, np.int64), np.zeros(0, np.int64))
    return Fragments(np.concatenate(frags_p), np.concatenate(frags_k))
