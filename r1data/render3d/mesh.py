"""Triangle meshes of the primitives: closed solids whose faces wind counter-clockwise seen
from outside, so every face normal points out of its solid (back faces are the far side).

Boxes, cylinders and spheres are closed; ``room`` is an open shell (a floor and four walls
facing inwards) that a camera outside sees into, because the walls between it and the room
face away from it. Rounded surfaces carry smooth vertex normals; flat faces use their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross`` of (..., 3) arrays, the same arithmetic without its per-call overhead
    (tens of microseconds, paid per solid and per view)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


@dataclass(eq=False)
class Mesh:
    """``vertices`` (V, 3) and ``faces`` (F, 3) vertex indices, counter-clockwise seen from
    outside; ``normals`` (V, 3) smooth vertex normals, or None for flat faces."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray | None = None

    def triangles(self) -> np.ndarray:
        """(F, 3, 3) corner coordinates."""
        return self.vertices[self.faces]

    def face_normals(self) -> np.ndarray:
        t = self.triangles()
        n = cross3(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        length = np.linalg.norm(n, axis=1, keepdims=True)
        return n / np.where(length == 0, 1, length)

    def is_finite(self) -> bool:
        return bool(np.isfinite(self.vertices).all())


def _rotate_z(points: np.ndarray, yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return points @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


# corners 0-3 bottom, 4-7 top, counter-clockwise seen from above
_BOX_FACES = np.array([[0, 2, 1], [0, 3, 2],        # bottom (normal -z)
                       [4, 5, 6], [4, 6, 7],        # top (+z)
                       [0, 1, 5], [0, 5, 4],        # -y side
                       [1, 2, 6], [1, 6, 5],        # +x side
                       [2, 3, 7], [2, 7, 6],        # +y side
                       [3, 0, 4], [3, 4, 7]])       # -x side


def box_corners(center: tuple[float, float, float] | np.ndarray, size: tuple[float, float, float] | np.ndarray,
                yaw: float = 0.0) -> np.ndarray:
    """The 8 corners (8, 3) of a box of ``size`` (dx, dy, dz along its own axes) at ``center``,
    turned ``yaw`` radians counter-clockwise about +z; 0-3 bottom, 4-7 top, counter-clockwise."""
    dx, dy, dz = (float(v) / 2 for v in size)
    local = np.array([[-dx, -dy, -dz], [dx, -dy, -dz], [dx, dy, -dz], [-dx, dy, -dz],
                      [-dx, -dy, dz], [dx, -dy, dz], [dx, dy, dz], [-dx, dy, dz]])
    return _rotate_z(local, yaw) + np.asarray(center, dtype=np.float64)


def box(center: tuple[float, float, float] | np.ndarray, size: tuple[float, float, float] | np.ndarray,
        yaw: float = 0.0) -> Mesh:
    """A closed box (12 triangles, flat faces)."""
    return Mesh(box_corners(center, size, yaw), _BOX_FACES.copy())


def cylinder(center: tuple[float, float, float] | np.ndarray, radius: float, height: float,
             segments: int = 32, top_radius: float | None = None) -> Mesh:
    """A closed upright cylinder (a frustum with ``top_radius``) centred at ``center``: smooth
    sides, flat caps (their own vertices, so the rim stays sharp)."""
    r0, r1 = float(radius), float(radius if top_radius is None else top_radius)
    h = float(height) / 2
    a = np.linspace(0, 2 * math.pi, segments, endpoint=False)
    ca, sa = np.cos(a), np.sin(a)
    bottom = np.stack([r0 * ca, r0 * sa, np.full(segments, -h)], axis=1)
    top = np.stack([r1 * ca, r1 * sa, np.full(segments, h)], axis=1)
    slope = (r0 - r1) / (2 * h) if h > 0 else 0.0
    side_n = np.stack([ca, sa, np.full(segments, slope)], axis=1)
    side_n /= np.linalg.norm(side_n, axis=1, keepdims=True)
    k = np.arange(segments)
    k1 = (k + 1) % segments
    # side: bottom ring 0..S-1, top ring S..2S-1
    side_faces = np.concatenate([np.stack([k, k1, segments + k1], 1), np.stack([k, segments + k1, segments + k], 1)])
    # caps: centre vertices and their own rings
    base = 2 * segments
    cap_v = np.concatenate([bottom, top, [[0, 0, -h]], [[0, 0, h]]])
    cb, ct = base + 2 * segments, base + 2 * segments + 1
    bottom_faces = np.stack([np.full(segments, cb), base + k1, base + k], 1)
    top_faces = np.stack([np.full(segments, ct), base + segments + k, base + segments + k1], 1)
    vertices = np.concatenate([bottom, top, cap_v]) + np.asarray(center, dtype=np.float64)
    normals = np.concatenate([side_n, side_n, np.tile([0.0, 0, -1], (segments, 1)), np.tile([0.0, 0, 1], (segments, 1)),
                              [[0, 0, -1.0]], [[0, 0, 1.0]]])
    return Mesh(vertices, np.concatenate([side_faces, bottom_faces, top_faces]).astype(np.int64), normals)


def sphere(center: tuple[float, float, float] | np.ndarray, radius: float, rings: int = 16,
           segments: int = 32) -> Mesh:
    """A closed UV sphere with smooth normals."""
    theta = np.linspace(0, math.pi, rings + 1)[1:-1]           # latitude rings, poles apart
    phi = np.linspace(0, 2 * math.pi, segments, endpoint=False)
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    ring = np.stack([st * np.cos(phi), st * np.sin(phi), np.broadcast_to(ct, (len(theta), segments))], axis=-1)
    unit = np.concatenate([[[0, 0, 1.0]], ring.reshape(-1, 3), [[0, 0, -1.0]]])
    n_ring = len(theta)
    faces = []
    k = np.arange(segments)
    k1 = (k + 1) % segments
    faces.append(np.stack([np.zeros(segments, int), 1 + k, 1 + k1], 1))            # north cap
    for i in range(n_ring - 1):
        a, b = 1 + i * segments, 1 + (i + 1) * segments
        faces.append(np.stack([a + k, b + k, b + k1], 1))
        faces.append(np.stack([a + k, b + k1, a + k1], 1))
    south = len(unit) - 1
    last = 1 + (n_ring - 1) * segments
    faces.append(np.stack([np.full(segments, south), last + k1, last + k], 1))         # south cap
    return Mesh(unit * float(radius) + np.asarray(center, dtype=np.float64), np.concatenate(faces), unit.copy())


def quad(corners: np.ndarray) -> Mesh:
    """A flat quadrilateral (4, 3), counter-clockwise seen from the side it faces."""
    return Mesh(np.asarray(corners, dtype=np.float64), np.array([[0, 1, 2], [0, 2, 3]]))


def room(x0: float, y0: float, x1: float, y1: float, height: float) -> tuple[Mesh, Mesh]:
    """(floor, walls) of a room: the floor faces up, the four walls face into the room.

    Seen from outside, the walls between the camera and the room face away and are culled:
    a cut-away view into the room, the near walls open, the far walls standing."""
    floor = quad(np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]], dtype=np.float64))
    h = float(height)
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    verts, faces = [], []
    for i in range(4):
        (ax, ay), (bx, by) = corners[i], corners[(i + 1) % 4]
        # counter-clockwise seen from inside: the room is on the left of a -> b walking the floor
        base = len(verts)
        verts += [(bx, by, 0.0), (ax, ay, 0.0), (ax, ay, h), (bx, by, h)]
        faces += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    return floor, Mesh(np.array(verts, dtype=np.float64), np.array(faces))


def merge(meshes: list[Mesh]) -> Mesh:
    """One mesh of several (normals kept only when every part has them)."""
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    normals = None
    if all(m.normals is not None for m in meshes):
        normals = np.concatenate([m.normals for m in meshes])  # type: ignore[misc]
    return Mesh(np.concatenate([m.vertices for m in meshes]),
                np.concatenate([m.faces + o for m, o in zip(meshes, offsets)]), normals)
