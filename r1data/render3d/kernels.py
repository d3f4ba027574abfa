"""The renderer's per-pixel loops, compiled with numba (nopython, cached on disk).

Everything here walks pixels or fragments one at a time, which numpy can only do by building
arrays of every fragment, or one array per term over every pixel, first (about 10 ms a 224 px
view in all); a compiled loop writes straight into the buffers instead (about 2 ms). The scan
conversion's numpy reference stays in :mod:`.raster` (``scan`` + ``resolve``) and the tests
check the two equal, key for key; the outline's numpy rule is in the tests too.

Each function compiles on first use; ``cache=True`` keeps the machine code in ``__pycache__``
(or numba's user cache when that is read-only; ``$NUMBA_CACHE_DIR`` where neither is
writable), so later processes load it instead (about 1 s with numba's start-up, against about
5 s to compile them all). No ``fastmath``: floating point is evaluated as written, so a
build's bytes do not depend on the worker, the process or the run.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NONE = np.iinfo(np.int64).max
INDEX_MASK = 0xFFFFFFFF


@njit(cache=True, nogil=True)
def raster_triangles(uv, plane, ids, perspective, width, height, zbuf, limit, use_limit):  # type: ignore[no-untyped-def]
    """Scan-convert screen triangles into ``zbuf`` (flat, int64 depth keys; smaller wins).

    ``uv`` (T, 3, 2) pixel coordinates, ``plane`` (T, 3) the plane of ``q`` (1/z or z),
    ``ids`` (T,) the primitive index each key carries. With ``use_limit`` a fragment must also
    be nearer than ``limit`` at its pixel (see-through solids in front of the opaque ones).
    Same pixels and keys as ``raster.resolve([raster.scan(...)])``: a half-open run of pixel
    centres per row between the two edges crossing it, edges evaluated from their lower end."""
    fbuf = np.empty(1, np.float32)
    ibuf = fbuf.view(np.int32)
    lox = np.empty(3)
    loy = np.empty(3)
    hiy = np.empty(3)
    slope = np.empty(3)
    for t in range(uv.shape[0]):
        vmin = min(uv[t, 0, 1], uv[t, 1, 1], uv[t, 2, 1])
        vmax = max(uv[t, 0, 1], uv[t, 1, 1], uv[t, 2, 1])
        if not (np.isfinite(vmin) and np.isfinite(vmax)):
            continue
        r0 = int(min(max(np.ceil(vmin), 0.0), float(height)))
        r1 = int(min(max(np.ceil(vmax), 0.0), float(height)))
        if r1 <= r0:
            continue
        for e in range(3):
            ax, ay = uv[t, e, 0], uv[t, e, 1]
            bx, by = uv[t, (e + 1) % 3, 0], uv[t, (e + 1) % 3, 1]
            if ay > by:
                ax, ay, bx, by = bx, by, ax, ay
            dv = by - ay
            lox[e], loy[e], hiy[e] = ax, ay, by
            slope[e] = (bx - ax) / dv if dv > 0 else 0.0
        a, b, c = plane[t, 0], plane[t, 1], plane[t, 2]
        index = np.int64(ids[t])
        for r in range(r0, r1):
            rf = float(r)
            xl = np.inf
            xr = -np.inf
            for e in range(3):
                if rf >= loy[e] and rf < hiy[e]:
                    x = lox[e] + (rf - loy[e]) * slope[e]
                    xl = min(xl, x)
                    xr = max(xr, x)
            if not xl < xr:
                continue
            c0 = int(min(max(np.ceil(xl), 0.0), float(width)))
            c1 = int(min(max(np.ceil(xr), 0.0), float(width)))
            base = r * width
            for col in range(c0, c1):
                q = a * col + b * rf + c
                depth = 1.0 / max(q, 1e-9) if perspective else q
                fbuf[0] = max(depth, 1e-6)
                key = (np.int64(ibuf[0]) << 32) | index
                p = base + col
                if key < zbuf[p] and (not use_limit or key < limit[p]):
                    zbuf[p] = key


@njit(cache=True, nogil=True)
def decode(zbuf, depth, index):  # type: ignore[no-untyped-def]
    """Per pixel: the winning primitive's index (-1: nothing) and its depth (inf: nothing)."""
    fbuf = np.empty(1, np.float32)
    ibuf = fbuf.view(np.int32)
    for p in range(zbuf.shape[0]):
        key = zbuf[p]
        if key == NONE:
            depth[p] = np.inf
            index[p] = -1
        else:
            ibuf[0] = np.int32(key >> 32)
            depth[p] = fbuf[0]
            index[p] = key & INDEX_MASK


@njit(cache=True, nogil=True)
def shade_flat(index, depth, n_tri, width, tri_src, solid_of, instance_of_solid, part_of_solid, face_key,
               tri_full, tri_lit, tri_ambient, tri_diffuse, ray_a, ray_b,
               has_shadow, sm_axes, sm_origin, sm_scale, sm_bias, sm_depth, strength,
               has_height, z0, z1, image, instance, part, faces, full):  # type: ignore[no-untyped-def]
    """Fill the pixels won by triangles: instance, part, face id and, for flat matte faces,
    the colour (ambient + diffuse x shadow, x the map's height cue); pixels of rounded or shiny
    faces are only flagged in ``full`` (their lighting is per pixel, in numpy).

    A pixel's world point is ``ray_b @ h + depth * ray_a @ h`` with ``h = (u, v, 1)``. The
    shadow is the share of 4 shadow-map texels the point is not behind (its depth along the
    light, less ``sm_bias``), so the edge of a shadow is soft; only faces that face the light
    can be in shadow."""
    size = sm_depth.shape[0]
    dz = max(z1 - z0, 1e-6)
    height = index.shape[0] // width
    last = -1                  # the triangle of the previous pixel: its attributes are at hand
    src, inst, prt, fk = 0, -1, 0, 0
    isfull = lit_face = False
    am0 = am1 = am2 = df0 = df1 = df2 = 0.0
    for y in range(height):
        v = float(y)
        # the world point is affine in u along a row: its two parts at u = 0, and their slopes
        b0 = ray_b[0, 1] * v + ray_b[0, 2]
        b1 = ray_b[1, 1] * v + ray_b[1, 2]
        b2 = ray_b[2, 1] * v + ray_b[2, 2]
        a0 = ray_a[0, 1] * v + ray_a[0, 2]
        a1 = ray_a[1, 1] * v + ray_a[1, 2]
        a2 = ray_a[2, 1] * v + ray_a[2, 2]
        for x in range(width):
            p = y * width + x
            t = index[p]
            if t < 0 or t >= n_tri:
                continue
            if t != last:
                last = t
                src = tri_src[t]
                solid = solid_of[src]
                inst = instance_of_solid[solid]
                prt = part_of_solid[solid]
                fk = face_key[src]
                isfull = tri_full[src]
                lit_face = has_shadow and tri_lit[src]
                am0, am1, am2 = tri_ambient[src, 0], tri_ambient[src, 1], tri_ambient[src, 2]
                df0, df1, df2 = tri_diffuse[src, 0], tri_diffuse[src, 1], tri_diffuse[src, 2]
            instance[p] = inst
            part[p] = prt
            faces[p] = fk
            if isfull:
                full[p] = True
                continue
            shadow = 1.0
            wz = 0.0
            if lit_face or (has_height and inst >= 0):
                u = float(x)
                d = float(depth[p])
                wx = ray_b[0, 0] * u + b0 + d * (ray_a[0, 0] * u + a0)
                wy = ray_b[1, 0] * u + b1 + d * (ray_a[1, 0] * u + a1)
                wz = ray_b[2, 0] * u + b2 + d * (ray_a[2, 0] * u + a2)
                if lit_face:
                    su = ((sm_axes[0, 0] * wx + sm_axes[0, 1] * wy + sm_axes[0, 2] * wz) - sm_origin[0]) * sm_scale
                    sv = ((sm_axes[1, 0] * wx + sm_axes[1, 1] * wy + sm_axes[1, 2] * wz) - sm_origin[1]) * sm_scale
                    sd = (sm_axes[2, 0] * wx + sm_axes[2, 1] * wy + sm_axes[2, 2] * wz) - sm_bias
                    i = int(min(max(np.floor(sv), 0.0), float(size - 2)))
                    j = int(min(max(np.floor(su), 0.0), float(size - 2)))
                    lit = 0.0
                    if sd <= sm_depth[i, j]:
                        lit += 1.0
                    if sd <= sm_depth[i, j + 1]:
                        lit += 1.0
                    if sd <= sm_depth[i + 1, j]:
                        lit += 1.0
                    if sd <= sm_depth[i + 1, j + 1]:
                        lit += 1.0
                    shadow = 1.0 - strength * (1.0 - lit / 4.0)
            f = 1.0
            if has_height and inst >= 0:
                f = 0.62 + 0.38 * min(max((wz - z0) / dz, 0.0), 1.0)
            image[p, 0] = (am0 + df0 * shadow) * f * 255.0
            image[p, 1] = (am1 + df1 * shadow) * f * 255.0
            image[p, 2] = (am2 + df2 * shadow) * f * 255.0


@njit(cache=True, nogil=True)
def outline(image, instance, faces, depth, width, height, strength):  # type: ignore[no-untyped-def]
    """Darken, in place, the nearer pixel of each pair of 4-neighbours on different faces
    where one of the two is an object (silhouettes and creases)."""
    edge = np.zeros(width * height, np.bool_)
    for y in range(height):
        for x in range(width):
            p = y * width + x
            for q in (p + width if y + 1 < height else -1, p + 1 if x + 1 < width else -1):
                if q < 0:
                    continue
                if faces[p] != faces[q] and (instance[p] >= 0 or instance[q] >= 0):
                    if depth[p] <= depth[q]:
                        edge[p] = True
                    else:
                        edge[q] = True
    keep = 1.0 - strength
    for p in range(width * height):
        if edge[p]:
            for k in range(3):
                image[p, k] *= keep


@njit(cache=True, nogil=True)
def fill_rgb(image, rgb):  # type: ignore[no-untyped-def]
    """Every row of ``image`` (N, 3) set to ``rgb`` (numpy's broadcast copy of 3 values per
    row runs 3 elements at a time)."""
    for p in range(image.shape[0]):
        for k in range(3):
            image[p, k] = rgb[k]


@njit(cache=True, nogil=True)
def to_uint8(image, out):  # type: ignore[no-untyped-def]
    """``clip(image + 0.5, 0, 255)`` truncated to uint8 (rounds to nearest)."""
    for p in range(image.shape[0]):
        for k in range(3):
            out[p, k] = np.uint8(min(max(image[p, k] + 0.5, 0.0), 255.0))


@njit(cache=True, nogil=True)
def instance_boxes(instance, width, top):  # type: ignore[no-untyped-def]
    """Per object id below ``top``: visible pixels and the box of those pixels
    (x1, y1, x2, y2 inclusive; x1 = width, x2 = -1 when none)."""
    counts = np.zeros(top, np.int64)
    box = np.empty((top, 4), np.int64)
    box[:, 0] = width
    box[:, 1] = instance.shape[0] // width
    box[:, 2] = -1
    box[:, 3] = -1
    for p in range(instance.shape[0]):
        i = instance[p]
        if i < 0 or i >= top:
            continue
        counts[i] += 1
        x = p % width
        y = p // width
        box[i, 0] = min(box[i, 0], x)
        box[i, 1] = min(box[i, 1], y)
        box[i, 2] = max(box[i, 2], x)
        box[i, 3] = max(box[i, 3], y)
    return counts, box
