"""``Scene3D``: solids, points and sprites ready to draw from any camera; ``render`` draws one view.

One pass gives the image and, from the same z-buffer, the depth, the instance and part
buffers and each object's visibility: its visible pixels, the 2D box of those pixels and the
fraction of its unoccluded projection that is visible. For a solid the unoccluded projection
is the screen area of its front faces, exact for a convex solid (a box, a cylinder, a sphere)
and including what falls outside the image, so a view that cuts an object in half shows half
of it. For points and sprites it is the union of their own splats within the image.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from r1data.render3d import raster
from r1data.render3d.mesh import cross3
from r1data.render3d.camera import Camera, OrthoCamera
from r1data.render3d.scene import (FINISHES, Light, PointSet, Render, Solid, Sprite, Visibility, finite_solid)
from r1data.render3d.shading import shade_solids, shadow_factor, ShadowMap


class Scene3D:
    """Geometry gathered once, drawn from many cameras.

    Solids whose mesh has a non-finite vertex are left out and listed in ``skipped`` (their
    instance ids): a documented fallback, the rest of the scene still draws."""

    def __init__(self, solids: Sequence[Solid] = (), points: PointSet | None = None,
                 sprites: Sequence[Sprite] = (), light: Light | None = None,
                 background: tuple[int, int, int] | np.ndarray = (0, 0, 0),
                 cutaway_center: np.ndarray | None = None):
        self.light = light or Light()
        self.background = background
        self.skipped = [s.instance for s in solids if not finite_solid(s)]
        self.solids = [s for s in solids if finite_solid(s)]
        self.points = points
        self.sprites = list(sprites)
        self.cutaway_center = cutaway_center
        if self.solids:
            tris = [s.mesh.triangles() for s in self.solids]
            self.tris = np.concatenate(tris)                                     # (T, 3, 3) world
            self.solid_of = np.repeat(np.arange(len(self.solids)), [len(t) for t in tris])
            t = self.tris
            flat = cross3(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])                  # as Mesh.face_normals
            length = np.linalg.norm(flat, axis=1, keepdims=True)
            flat = flat / np.where(length == 0, 1, length)
            corner = np.repeat(flat[:, None, :], 3, axis=1)
            start = 0
            for s, tt in zip(self.solids, tris):
                if s.mesh.normals is not None:
                    corner[start:start + len(tt)] = s.mesh.normals[s.mesh.faces]
                start += len(tt)
            self.corner_normals = corner                                         # (T, 3, 3)
            self.flat_normals = flat
        else:
            self.tris = np.zeros((0, 3, 3))
            self.solid_of = np.zeros(0, np.int64)
            self.corner_normals = np.zeros((0, 3, 3))
            self.flat_normals = np.zeros((0, 3))
        self.instance_of_solid = np.array([s.instance for s in self.solids], dtype=np.int64)
        self.part_of_solid = np.array([s.part for s in self.solids], dtype=np.int64)
        self.opacity_of_solid = np.array([s.material.opacity for s in self.solids])
        # per triangle: colour, finish and, for flat matte faces, their whole lighting but shadows
        materials = [s.material for s in self.solids]
        base = np.array([m.color for m in materials], dtype=np.float64).reshape(-1, 3)[self.solid_of] / 255.0
        params = np.array([FINISHES[m.finish] for m in materials]).reshape(-1, 5)[self.solid_of]
        smooth = np.array([s.mesh.normals is not None for s in self.solids], dtype=bool)[self.solid_of]
        self.tri_base, self.tri_params, self.tri_smooth = base, params, smooth
        self.face_key = _face_keys(self.solids, self.solid_of, self.flat_normals, self.corner_normals)
        self.tri_full = smooth | (params[:, 1] > 0) | (params[:, 3] > 0)
        self._instances: list[int] | None = None
        self._light_terms()

    def _light_terms(self) -> None:
        """What depends on the light: the flat faces' ambient and diffuse colours, the shadow map."""
        self._shadow: ShadowMap | None = None
        to_light = self.light.unit()
        ndl = np.clip(self.flat_normals @ to_light, 0, None)
        sky = 0.8 + 0.2 * self.flat_normals[:, 2]
        fill = self.light.fill * np.clip(self.flat_normals @ self.light.fill_unit(), 0, None)
        self.tri_lit = ndl > 0
        self.tri_ambient = self.tri_base * (self.light.ambient * sky + fill)[:, None]
        self.tri_diffuse = self.tri_base * (self.tri_params[:, 0] * self.light.diffuse * ndl)[:, None]

    def relit(self, light: Light, background: tuple[int, int, int] | np.ndarray | None = None) -> "Scene3D":
        """The same geometry under another ``light`` (and ``background``), without gathering it again."""
        other = copy.copy(self)
        other.light = light
        if background is not None:
            other.background = background
        other._light_terms()
        return other

    def instances(self) -> list[int]:
        """The object ids the scene holds (solids, points and sprites with an instance >= 0)."""
        if self._instances is None:
            ids = set(int(i) for i in self.instance_of_solid if i >= 0)
            if self.points is not None and self.points.instance is not None:
                ids |= set(int(i) for i in np.unique(self.points.instance) if i >= 0)
            ids |= {s.instance for s in self.sprites if s.instance >= 0}
            self._instances = sorted(ids)
        return self._instances

    def shadow_map(self) -> ShadowMap | None:
        if self.light.shadows <= 0 or not len(self.tris):
            return None
        if self._shadow is None:
            casts = np.array([s.cast_shadow for s in self.solids])[self.solid_of]
            self._shadow = ShadowMap.build(self.tris, casts, self.flat_normals, self.light.unit())
        return self._shadow


def render(scene: Scene3D, camera: Camera | OrthoCamera, *, outline_strength: float = 0.0,
           height_shade: tuple[float, float] | None = None) -> Render:
    """Draw ``scene`` from ``camera``.

    ``outline_strength`` darkens object silhouettes and creases (0: none); ``height_shade``
    ``(z0, z1)`` darkens surfaces below ``z1`` towards ``z0`` (a map's height cue)."""
    from r1data.render3d import kernels   # numba: imported when a scene is first drawn

    w, h = camera.width, camera.height
    n_pix = w * h
    persp = camera.perspective
    zbuf = np.full(n_pix, raster.NONE, dtype=np.int64)
    # -- triangles: camera space, near clip, cull, screen, z-buffer ----------------------------
    tri_src = np.zeros(0, np.int64)
    tri_w = np.zeros((0, 3, 3))
    st = None
    glass = np.zeros(0, np.int64)
    if len(scene.tris):
        cam = camera.to_camera(scene.tris)
        near = camera.near if persp else 1e-6
        visible = (cam[..., 2] >= near).any(axis=1)
        clipped, src, wts = raster.clip_near(cam[visible], near)
        src = np.nonzero(visible)[0][src]
        front = raster.facing(clipped, persp)
        clipped, src, wts = clipped[front], src[front], wts[front]
        uv = camera.to_screen(clipped)
        q = 1.0 / clipped[..., 2] if persp else clipped[..., 2]
        st, kept = raster.prepare(uv, q)
        tri_src, tri_w = src[kept], wts[kept]
        opaque = scene.opacity_of_solid[scene.solid_of[tri_src]] >= 1.0
        if opaque.all():
            raster.draw(st, zbuf, w, h, persp)
        else:                  # see-through solids go on top of everything else, below
            raster.draw(st, zbuf, w, h, persp, ids=np.nonzero(opaque)[0])
            glass = np.nonzero(~opaque)[0]
    n_tri = len(tri_src)
    # -- points ------------------------------------------------------------------------------
    pts = scene.points
    pt_index = np.zeros(0, np.int64)
    pt_in_frame = None
    point_frag = None
    if pts is not None and len(pts.xyz):
        keep = np.ones(len(pts.xyz), dtype=bool)
        if pts.cutaway is not None and scene.cutaway_center is not None:
            towards = camera.position[:2] - scene.cutaway_center[:2]
            keep &= ~(pts.cutaway & (((pts.xyz[:, :2] - scene.cutaway_center[:2]) @ towards) > 0))
        uvp, dp = camera.project(pts.xyz)
        keep &= dp > (camera.near if persp else 0)
        pt_in_frame = keep & (uvp[:, 0] > -0.5) & (uvp[:, 0] < w - 0.5) & (uvp[:, 1] > -0.5) & (uvp[:, 1] < h - 0.5)
        pt_index = np.nonzero(keep)[0]
        f = camera.intrinsic[0, 0] if persp else camera.scale  # type: ignore[union-attr]
        size_px = 2 * pts.radius * f / (dp[pt_index] if persp else 1.0)
        size = np.broadcast_to(np.clip(np.rint(size_px), 1, 9).astype(np.int64), pt_index.shape)
        point_frag = raster.splat(uvp[pt_index], dp[pt_index], size, w, h, offset=n_tri)
        raster.resolve([point_frag], n_pix, zbuf)
    n_pt = len(pt_index)
    # -- sprites -------------------------------------------------------------------------------
    sprite_cover: dict[int, list[np.ndarray]] = {}
    for k, sp in enumerate(scene.sprites):
        pix = _polygon_pixels(sp.polygon, w, h)
        if len(pix):
            key = raster.depth_key(np.full(len(pix), sp.depth), np.full(len(pix), n_tri + n_pt + k))
            raster.resolve([raster.Fragments(pix, key)], n_pix, zbuf)
            if sp.instance >= 0:
                sprite_cover.setdefault(sp.instance, []).append(pix)
    # -- what won each pixel ---------------------------------------------------------------------
    depth = np.empty(n_pix, dtype=np.float32)
    index = np.empty(n_pix, dtype=np.int64)
    kernels.decode(zbuf, depth, index)
    image = _background(scene.background, w, h)
    instance = np.full(n_pix, -1, dtype=np.int64)
    part = np.zeros(n_pix, dtype=np.int64)
    faces = np.full(n_pix, -1, dtype=np.int64)
    # triangles: flat matte faces in the compiled loop, rounded and shiny ones below
    if n_tri:
        full = np.zeros(n_pix, dtype=bool)
        sm = scene.shadow_map()
        ray_a, ray_b = camera.ray_affine()
        z0, z1 = height_shade if height_shade is not None else (0.0, 1.0)
        if sm is not None:
            sm_args = (True, np.ascontiguousarray(sm.axes, dtype=np.float64), sm.origin.astype(np.float64),
                       float(sm.scale), float(sm.bias), sm.depth, float(scene.light.shadows))
        else:
            sm_args = (False, np.zeros((3, 3)), np.zeros(2), 1.0, 0.0, np.zeros((2, 2), np.float32), 0.0)
        kernels.shade_flat(index, depth, n_tri, w, tri_src, scene.solid_of, scene.instance_of_solid,
                           scene.part_of_solid, scene.face_key, scene.tri_full, scene.tri_lit, scene.tri_ambient,
                           scene.tri_diffuse, ray_a, ray_b, *sm_args, height_shade is not None, float(z0),
                           float(z1), image, instance, part, faces, full)
        fpix = np.nonzero(full)[0]
        if len(fpix):
            image[fpix] = _shade_triangles(scene, camera, st, tri_src, tri_w, index[fpix], fpix, depth[fpix], w,
                                           height_shade)
    # points
    ppix = np.nonzero((index >= n_tri) & (index < n_tri + n_pt))[0]
    if len(ppix):
        p = pt_index[index[ppix] - n_tri]
        image[ppix] = np.clip(pts.rgb[p] * 255 + 0.5, 0, 255)  # type: ignore[union-attr]
        if pts.instance is not None:  # type: ignore[union-attr]
            instance[ppix] = pts.instance[p]  # type: ignore[union-attr]
    # sprites
    spix = np.nonzero(index >= n_tri + n_pt)[0]
    if len(spix):
        k_all = index[spix] - n_tri - n_pt
        for k in np.unique(k_all):
            sel = spix[k_all == k]
            sp = scene.sprites[int(k)]
            image[sel] = sp.shade(sel % w, sel // w)
            instance[sel] = sp.instance
            part[sel] = sp.part
    # see-through solids in front of what is behind them
    if len(glass):
        assert st is not None
        gbuf = raster.draw(st, np.full(n_pix, raster.NONE, dtype=np.int64), w, h, persp, ids=glass, limit=zbuf)
        gpix = np.nonzero(gbuf != raster.NONE)[0]
        if len(gpix):
            t = gbuf[gpix] & 0xFFFFFFFF
            gdepth = raster.key_depth(gbuf[gpix])
            rgb = _shade_triangles(scene, camera, st, tri_src, tri_w, t, gpix, gdepth, w, height_shade)
            solid = scene.solid_of[tri_src[t]]
            alpha = scene.opacity_of_solid[solid][:, None]
            image[gpix] = alpha * rgb + (1 - alpha) * image[gpix]
            instance[gpix] = scene.instance_of_solid[solid]
            part[gpix] = scene.part_of_solid[solid]
            depth[gpix] = gdepth
            faces[gpix] = scene.face_key[tri_src[t]]
    if outline_strength > 0:
        kernels.outline(image, instance, faces, depth, w, h, float(outline_strength))
    rgb8 = np.empty((n_pix, 3), dtype=np.uint8)
    kernels.to_uint8(image, rgb8)
    out = Render(rgb8.reshape(h, w, 3), depth.reshape(h, w), instance.astype(np.int32).reshape(h, w),
                 part.astype(np.int32).reshape(h, w))
    out.visible = _visibility(scene, instance, st, tri_src, pts, pt_index, pt_in_frame, n_tri, point_frag,
                              sprite_cover, w, h)
    return out


def _background(bg: tuple[int, int, int] | np.ndarray, w: int, h: int) -> np.ndarray:
    if isinstance(bg, np.ndarray) and bg.ndim == 3:
        return bg.reshape(-1, 3).astype(np.float64)
    from r1data.render3d import kernels

    image = np.empty((w * h, 3))
    kernels.fill_rgb(image, np.asarray(bg, dtype=np.float64).reshape(3))
    return image


def _polygon_pixels(polygon: np.ndarray, w: int, h: int) -> np.ndarray:
    """Flat indices of the pixels a polygon covers (a vertex at (x, y) covers pixel (floor x, floor y))."""
    from PIL import Image, ImageDraw

    pts = np.asarray(polygon, dtype=np.float64)
    if len(pts) < 3 or not np.isfinite(pts).all():
        return np.zeros(0, np.int64)
    x0, y0 = max(int(np.floor(pts[:, 0].min())) - 1, 0), max(int(np.floor(pts[:, 1].min())) - 1, 0)
    x1, y1 = min(int(np.ceil(pts[:, 0].max())) + 2, w), min(int(np.ceil(pts[:, 1].max())) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return np.zeros(0, np.int64)
    im = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(im).polygon([(float(x) - 0.5 - x0, float(y) - 0.5 - y0) for x, y in pts], fill=1)
    ys, xs = np.nonzero(np.asarray(im, dtype=bool))
    return (ys + y0).astype(np.int64) * w + (xs + x0)


def _shade_triangles(scene: Scene3D, camera: Camera | OrthoCamera, st: raster.ScreenTriangles | None,
                     tri_src: np.ndarray, tri_w: np.ndarray, t: np.ndarray, pix: np.ndarray, depth: np.ndarray,
                     w: int, height_shade: tuple[float, float] | None) -> np.ndarray:
    """RGB (0..255 floats) of the pixels ``pix`` won by screen triangles ``t``.

    A flat matte face has one colour but for its shadows, so it costs two gathers per pixel;
    rounded or shiny surfaces get the full per-pixel lighting."""
    assert st is not None
    src = tri_src[t]
    u = (pix % w).astype(np.float64)
    v = (pix // w).astype(np.float64)
    need_world = scene.shadow_map() is not None or height_shade is not None
    world = camera.rays(u, v, depth.astype(np.float64)) if need_world else None
    sm = scene.shadow_map()
    shadow = np.ones(len(pix), dtype=np.float32)
    if sm is not None:
        # only lit faces can be in shadow
        lit = np.nonzero(scene.tri_lit[src])[0]
        shadow[lit] = shadow_factor(sm, world[lit], scene.light.shadows)  # type: ignore[index]
    rgb = scene.tri_ambient[src] + scene.tri_diffuse[src] * shadow[:, None]
    full = np.nonzero(scene.tri_full[src])[0]
    if len(full):
        tf, sf = t[full], src[full]
        if world is None:
            world_f = camera.rays(u[full], v[full], depth[full].astype(np.float64))
        else:
            world_f = world[full]
        n = scene.flat_normals[sf]
        smooth = scene.tri_smooth[sf]
        if smooth.any():
            sel = np.nonzero(smooth)[0]
            ts = tf[sel]
            bc = st.bary[ts]
            us, vs = u[full][sel], v[full][sel]
            b1 = bc[:, 0, 0] * us + bc[:, 0, 1] * vs + bc[:, 0, 2]
            b2 = bc[:, 1, 0] * us + bc[:, 1, 1] * vs + bc[:, 1, 2]
            b = np.stack([1 - b1 - b2, b1, b2], 1)
            if camera.perspective:                   # perspective-correct: weight by 1/z
                b = b * st.q[ts]
                b /= b.sum(1, keepdims=True)
            # corners of the clipped triangle in terms of its source triangle's corners
            corner = np.einsum("nk,nkj->nj", b, tri_w[ts])
            nn = np.einsum("nj,njd->nd", corner, scene.corner_normals[sf[sel]])
            n = n.copy()
            n[sel] = nn / np.maximum(np.linalg.norm(nn, axis=1, keepdims=True), 1e-12)
        eye = np.broadcast_to(camera.position, world_f.shape) if camera.perspective else None
        rgb[full] = shade_solids(scene.tri_base[sf], scene.tri_params[sf], n, world_f, eye, scene.light,
                                 shadow[full])
    if height_shade is not None:
        assert world is not None
        z0, z1 = height_shade
        f = 0.62 + 0.38 * np.clip((world[:, 2] - z0) / max(z1 - z0, 1e-6), 0, 1)
        rgb *= np.where(scene.instance_of_solid[scene.solid_of[src]] >= 0, f, 1.0)[:, None]   # objects only
    return rgb * 255.0


def _face_keys(solids: list[Solid], solid_of: np.ndarray, flat: np.ndarray, corner: np.ndarray) -> np.ndarray:
    """Per triangle, an id shared by the triangles of one flat face of one solid (a rounded
    surface is one face): outlines are drawn where the id changes."""
    if not len(solid_of):
        return np.zeros(0, np.int64)
    rounded = np.round(flat * 64).astype(np.int64)
    curved = np.abs(corner - flat[:, None, :]).max(axis=(1, 2)) > 1e-6
    rounded[curved] = 0
    # (solid, nx, ny, nz) packed so that integer order is their lexicographic order
    key = (solid_of.astype(np.int64) << 24) | ((rounded[:, 0] + 64) << 16) | ((rounded[:, 1] + 64) << 8) | (rounded[:, 2] + 64)
    _, inverse = np.unique(key, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def _visibility(scene: Scene3D, inst_map: np.ndarray, st: raster.ScreenTriangles | None, tri_src: np.ndarray,
                pts: PointSet | None, pt_index: np.ndarray, pt_in_frame: np.ndarray | None, n_tri: int,
                point_frags: raster.Fragments | None, sprite_cover: dict[int, list[np.ndarray]],
                w: int, h: int) -> dict[int, Visibility]:
    ids = scene.instances()
    if not ids:
        return {}
    from r1data.render3d import kernels

    top = max(ids) + 1
    counts, boxes = kernels.instance_boxes(inst_map.ravel(), w, top)
    # the unoccluded projection of each object
    cover = np.zeros(top)
    if st is not None and len(tri_src):
        tri_inst = scene.instance_of_solid[scene.solid_of[tri_src]]
        sel = tri_inst >= 0
        np.add.at(cover, tri_inst[sel], st.area[sel])
    if pts is not None and pts.instance is not None and len(pt_index):
        pinst = pts.instance[pt_index]
        if point_frags is not None:
            owner = pinst[(point_frags.key & 0xFFFFFFFF) - n_tri]
            ok = owner >= 0
            pairs = np.unique(owner[ok] * (w * h) + point_frags.pixel[ok])
            np.add.at(cover, pairs // (w * h), 1)
        # points projecting outside the image count as hidden: scale by the share inside it
        all_inst = pts.instance
        in_img = pt_in_frame if pt_in_frame is not None else np.ones(len(all_inst), dtype=bool)
        total = np.bincount(all_inst[all_inst >= 0], minlength=top).astype(np.float64)
        inside = np.bincount(all_inst[(all_inst >= 0) & in_img], minlength=top).astype(np.float64)
        share = np.where(total > 0, inside / np.maximum(total, 1), 1.0)
        cover = np.where(share > 0, cover / np.where(share > 0, share, 1), cover)
    for oid, pixels in sprite_cover.items():
        cover[oid] += len(np.unique(np.concatenate(pixels)))
    out = {}
    for i in ids:
        n = int(counts[i]) if i < len(counts) else 0
        frac = min(1.0, n / cover[i]) if cover[i] > 0 else 0.0
        box = (int(boxes[i, 0]), int(boxes[i, 1]), int(boxes[i, 2]) + 1, int(boxes[i, 3]) + 1) if n else None
        out[i] = Visibility(n, frac, box, float(cover[i]))
    return out
