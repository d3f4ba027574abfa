"""Lighting: Lambert diffuse with a sky/ground ambient, Blinn-Phong highlights, a metal's
tinted highlights and sky reflection, shadows from a shadow map. The flat matte faces that
make up most images are lit in the compiled loop :func:`.kernels.shade_flat` (the same terms,
precomputed per triangle in ``Scene3D``); outlines are :func:`.kernels.outline`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from r1data.render3d import raster
from r1data.render3d.mesh import cross3
from r1data.render3d.scene import Light


def shade_solids(base: np.ndarray, params: np.ndarray, normal: np.ndarray, world: np.ndarray,
                 eye: np.ndarray | None, light: Light, shadow: np.ndarray) -> np.ndarray:
    """RGB in 0..1 (may exceed 1 before clipping) for pixels of colour ``base`` with finish
    ``params`` (diffuse, specular, shininess, metal, opacity) at ``world`` with ``normal``;
    ``eye`` is the camera position per pixel (None: an orthographic camera looking down)."""
    kd, ks, shin, metal = params[:, 0], params[:, 1], params[:, 2], params[:, 3]
    to_light = light.unit()
    if eye is None:
        view = np.broadcast_to(np.array([0.0, 0.0, 1.0]), normal.shape)
    else:
        view = eye - world
        view = view / np.maximum(np.linalg.norm(view, axis=1, keepdims=True), 1e-12)
    # surfaces seen from behind (an open shell's inner side) are lit like their front
    flip = np.einsum("ij,ij->i", normal, view) < 0
    n = np.where(flip[:, None], -normal, normal)
    ndl = np.clip(n @ to_light, 0, None) * shadow
    sky = 0.8 + 0.2 * n[:, 2]                    # brighter facing up, darker facing the floor
    ambient = light.ambient * sky + light.fill * np.clip(n @ light.fill_unit(), 0, None)
    half = view + to_light
    half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-12)
    spec = np.clip(np.einsum("ij,ij->i", n, half), 0, None) ** shin * ks * shadow
    diffuse = base * (ambient + kd * light.diffuse * ndl)[:, None]
    # a metal reflects the sky in its own colour: brighter where it faces up and away
    reflect = 2 * np.einsum("ij,ij->i", n, view)[:, None] * n - view
    env = (0.25 + 0.35 * np.clip(reflect[:, 2], 0, 1))[:, None] * base
    highlight = spec[:, None] * np.where(metal[:, None] > 0, 0.35 + 0.65 * base, 1.0)
    return diffuse + metal[:, None] * env + highlight


@dataclass
class ShadowMap:
    """Depth of the shadow-casting back faces seen from the light (orthographic), on a grid."""

    axes: np.ndarray          # (3, 3): rows u, v (grid axes) and d (along the light's travel)
    origin: np.ndarray        # (2,) grid origin in (u, v)
    scale: float              # texels per metre
    size: int
    depth: np.ndarray         # (size, size) float32, inf where nothing casts
    d0: float

    @classmethod
    def build(cls, tris: np.ndarray, casts: np.ndarray, normals: np.ndarray, to_light: np.ndarray,
              size: int = 384) -> "ShadowMap":
        d = -to_light
        helper = np.array([1.0, 0, 0]) if abs(d[0]) < 0.9 else np.array([0, 1.0, 0])
        u = cross3(d, helper)
        u /= np.linalg.norm(u)
        v = cross3(d, u)
        axes = np.stack([u, v, d])
        # back faces seen from the light: a lit surface never shadows itself
        sel = casts & (normals @ to_light < 0)
        proj = tris @ axes.T                                        # (T, 3, 3): u, v, d
        lo = proj[..., :2].reshape(-1, 2).min(0)
        hi = proj[..., :2].reshape(-1, 2).max(0)
        scale = (size - 1) / max(float((hi - lo).max()), 1e-6)
        d0 = float(proj[..., 2].min()) - 1.0
        p = proj[sel]
        uv = (p[..., :2] - lo) * scale
        q = p[..., 2] - d0
        st, _ = raster.prepare(uv, q)
        from r1data.render3d import kernels

        zbuf = raster.draw(st, np.full(size * size, raster.NONE, dtype=np.int64), size, size, perspective=False)
        depth = np.empty(size * size, dtype=np.float32)
        kernels.decode(zbuf, depth, np.empty(size * size, dtype=np.int64))      # inf where nothing casts
        return cls(axes, lo, scale, size, depth.reshape(size, size), d0)

    @property
    def bias(self) -> float:
        """What a point's depth along the light is compared with less: ``d0`` and a margin of
        2 cm and two texels, so that a lit face does not shadow itself."""
        return self.d0 + 0.02 + 2.0 / self.scale


def shadow_factor(sm: ShadowMap | None, world: np.ndarray | None, strength: float) -> np.ndarray:
    """Light reaching each world point, 1 (lit) down to ``1 - strength``; 4 taps soften the edge."""
    if sm is None or world is None or not len(world):
        return np.ones(0 if world is None else len(world))
    p = (world @ sm.axes.T).astype(np.float32)
    uv = (p[:, :2] - sm.origin.astype(np.float32)) * np.float32(sm.scale)
    d = p[:, 2] - np.float32(sm.bias)
    flat = sm.depth.ravel()
    iu0 = np.clip(np.floor(uv[:, 0]).astype(np.int64), 0, sm.size - 2)
    iv0 = np.clip(np.floor(uv[:, 1]).astype(np.int64), 0, sm.size - 2)
    base = iv0 * sm.size + iu0
    lit = ((d <= flat[base]).astype(np.float32) + (d <= flat[base + 1]) + (d <= flat[base + sm.size])
           + (d <= flat[base + sm.size + 1]))
    return 1 - strength * (1 - lit / 4)
