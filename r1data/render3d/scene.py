"""What a renderer draws: solids with materials, coloured point clouds, screen-space sprites,
a light; and what it returns: the image with its depth, instance and part buffers and, per
object, what is visible of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from r1data.render3d.mesh import Mesh

# finish -> (diffuse, specular, shininess, metal, opacity); CLEVR's rubber / metal / glass
FINISHES: dict[str, tuple[float, float, float, float, float]] = {
    "matte": (1.0, 0.0, 1.0, 0.0, 1.0),
    "rubber": (1.0, 0.12, 10.0, 0.0, 1.0),
    "metal": (0.5, 0.85, 40.0, 1.0, 1.0),
    "glass": (0.45, 0.9, 80.0, 0.0, 0.45),
}


@dataclass(frozen=True)
class Material:
    """A colour (RGB 0-255) and a finish: ``matte`` (Lambert), ``rubber`` (a dull sheen),
    ``metal`` (tinted highlights and a sky reflection) or ``glass`` (see-through, bright highlights)."""

    color: tuple[int, int, int]
    finish: str = "matte"

    def __post_init__(self) -> None:
        if self.finish not in FINISHES:
            raise ValueError(f"unknown finish {self.finish!r} (known: {', '.join(FINISHES)})")

    @property
    def opacity(self) -> float:
        return FINISHES[self.finish][4]


@dataclass(eq=False)
class Solid:
    """A mesh drawn with a material. ``instance`` >= 0 is the object id the instance buffer
    reports; -1 marks structure (floor, walls, a table top) that is no object."""

    mesh: Mesh
    material: Material
    instance: int = -1
    part: int = 0
    cast_shadow: bool = True


@dataclass(eq=False)
class PointSet:
    """A coloured point cloud drawn as square splats of ``radius`` metres.

    ``instance`` (N,) gives each point's object id (-1: none); ``cutaway`` (N,) marks points
    (walls, ceiling) left out of a view when they stand between the camera and ``center`` of
    the scene, so that views from outside a scanned room look into it."""

    xyz: np.ndarray
    rgb: np.ndarray                               # (N, 3) floats in 0..1
    radius: float
    instance: np.ndarray | None = None
    cutaway: np.ndarray | None = None


@dataclass(eq=False)
class Sprite:
    """A flat polygon in the pixel frame of one image size, drawn at ``depth`` (larger is
    farther): the tabletop scenes' painted parts. ``shade(xs, ys)`` gives the RGB (uint8) of
    its pixels."""

    polygon: np.ndarray
    depth: float
    shade: Callable[[np.ndarray, np.ndarray], np.ndarray]
    instance: int = -1
    part: int = 0


@dataclass(frozen=True)
class Light:
    """A directional light (``direction`` points towards it), a sky-and-ground ambient term, a
    shadowless ``fill`` light from the opposite side (what the room's walls would bounce) and
    shadows (``shadows`` 0: none; else how much light a shadow takes away)."""

    direction: tuple[float, float, float] = (0.45, -0.35, 0.82)
    ambient: float = 0.42
    diffuse: float = 0.58
    shadows: float = 0.45
    fill: float = 0.0

    def fill_unit(self) -> np.ndarray:
        d = self.unit()
        f = np.array([-d[0], -d[1], abs(d[2]) * 0.5])
        return f / np.linalg.norm(f)

    def unit(self) -> np.ndarray:
        d = np.asarray(self.direction, dtype=np.float64)
        return d / np.linalg.norm(d)


@dataclass
class Visibility:
    """What a view shows of one object: ``pixels`` it owns in the instance buffer,
    ``fraction`` of its unoccluded projection that is visible (0..1), and ``box`` of its
    visible pixels ``(x1, y1, x2, y2)`` with x2/y2 exclusive (None when none is visible);
    ``projected``: the pixels of its unoccluded projection."""

    pixels: int
    fraction: float
    box: tuple[int, int, int, int] | None
    projected: float = 0.0

    def to_record(self, object_id: int) -> dict:
        return {"id": int(object_id), "pixels": int(self.pixels), "visible": round(float(self.fraction), 4),
                "box": None if self.box is None else [float(v) for v in self.box]}


@dataclass
class Render:
    """One view: ``image`` (H, W, 3) uint8, ``depth`` (H, W) float32 (inf: background),
    ``instance`` and ``part`` (H, W) int32 (-1 / 0 where no object), ``visible`` per object id."""

    image: np.ndarray
    depth: np.ndarray
    instance: np.ndarray
    part: np.ndarray
    visible: dict[int, Visibility] = field(default_factory=dict)

    def shown(self, min_pixels: int = 1, min_fraction: float = 0.0) -> list[int]:
        """Ids of the objects with at least ``min_pixels`` visible pixels and ``min_fraction`` visible."""
        return [i for i, v in sorted(self.visible.items()) if v.pixels >= min_pixels and v.fraction >= min_fraction]


def finite_solid(solid: Solid) -> bool:
    return solid.mesh.is_finite() and len(solid.mesh.faces) > 0


def default_light() -> Light:
    return Light()


def elevation_light(azimuth_deg: float, elevation_deg: float, **kw: float) -> Light:
    """A light from compass ``azimuth_deg`` (counter-clockwise from +x) at ``elevation_deg`` above the horizon."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    return Light((math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)), **kw)
