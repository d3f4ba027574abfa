"""Cameras in ScanNet's convention, the one the ``cameras`` column of a corpus stores.

A pinhole :class:`Camera` is an ``intrinsic`` 3x3 matrix and a ``pose``: the 4x4
camera-to-world matrix, with OpenCV axes (x right, y down, z forward), exactly like a ScanNet
``pose/<frame>.txt`` and ``intrinsic/intrinsic_color.txt``. A world point ``X`` lands on
pixel ``(u, v) = (K @ Xc)[:2] / Xc[2]`` with ``Xc = inv(pose) @ X``; pixel ``(i, j)`` is the
square whose centre is at ``(u, v) = (i, j)`` (OpenCV: integer coordinates are pixel centres).

An :class:`OrthoCamera` looks straight down (-z) and draws a map: ``u = (x - x0) * scale``,
``v = (y1 - y) * scale``. It has no pinhole record (the ``cameras`` column stores ``null``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from r1data.render3d.mesh import cross3


def pinhole_intrinsic(width: int, height: int, fov_deg: float) -> np.ndarray:
    """K for a centred principal point and square pixels; ``fov_deg`` is the horizontal field of view."""
    f = (width / 2) / math.tan(math.radians(fov_deg) / 2)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def look_at(eye: np.ndarray | list[float], target: np.ndarray | list[float],
            up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """The camera-to-world pose of a camera at ``eye`` looking at ``target`` (OpenCV axes).

    ``up`` is the world direction that appears up in the image; a camera looking straight
    along it uses +y of the world as its fallback up."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    n = np.linalg.norm(forward)
    if not np.isfinite(n) or n == 0:
        raise ValueError(f"camera at {eye.tolist()} has no direction to look at")
    forward /= n
    up_v = np.asarray(up, dtype=np.float64)
    right = cross3(forward, up_v)
    if np.linalg.norm(right) < 1e-9:                      # looking along `up`
        right = cross3(forward, np.array([0.0, 1.0, 0.0]))
    right /= np.linalg.norm(right)
    down = cross3(forward, right)                       # image y points down
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
    return pose


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera: ``width`` x ``height`` pixels, ``intrinsic`` K and ``pose`` (camera-to-world)."""

    width: int
    height: int
    intrinsic: np.ndarray
    pose: np.ndarray
    near: float = 0.05

    perspective = True

    @classmethod
    def looking_at(cls, eye: np.ndarray | list[float], target: np.ndarray | list[float], width: int,
                   height: int, fov_deg: float = 60.0, near: float = 0.05) -> "Camera":
        return cls(width, height, pinhole_intrinsic(width, height, fov_deg), look_at(eye, target), near)

    @property
    def position(self) -> np.ndarray:
        return self.pose[:3, 3]

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) in camera coordinates (OpenCV axes)."""
        r, t = self.pose[:3, :3], self.pose[:3, 3]
        return (np.asarray(points, dtype=np.float64) - t) @ r

    def to_screen(self, cam: np.ndarray) -> np.ndarray:
        """Camera-space points (..., 3) with z > 0 -> (..., 2) pixel coordinates."""
        k = self.intrinsic
        z = cam[..., 2]
        return np.stack([k[0, 0] * cam[..., 0] / z + k[0, 2], k[1, 1] * cam[..., 1] / z + k[1, 2]], axis=-1)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> pixel coordinates (N, 2) and depth (N,) along the view axis.
        Points behind the camera get depth <= 0 (their pixel coordinates are meaningless)."""
        cam = self.to_camera(points)
        z = cam[..., 2]
        safe = np.where(np.abs(z) < 1e-12, 1e-12, z)
        return self.to_screen(np.concatenate([cam[..., :2], safe[..., None]], axis=-1)), z

    def rays(self, u: np.ndarray, v: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """World points at pixel coordinates ``(u, v)`` and ``depth`` (the inverse of :meth:`project`)."""
        k = self.intrinsic
        cam = np.stack([(u - k[0, 2]) / k[0, 0] * depth, (v - k[1, 2]) / k[1, 1] * depth, depth], axis=-1)
        return cam @ self.pose[:3, :3].T + self.pose[:3, 3]

    def ray_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(A, B): the world point at pixel ``(u, v)`` and ``depth`` is ``B @ h + depth * A @ h``
        with ``h = (u, v, 1)`` (:meth:`rays` as two matrices, for the compiled shading loop)."""
        a = np.ascontiguousarray(self.pose[:3, :3] @ np.linalg.inv(self.intrinsic), dtype=np.float64)
        b = np.zeros((3, 3))
        b[:, 2] = self.pose[:3, 3]
        return a, b

    def to_record(self) -> dict:
        """``{"intrinsic": 3x3, "pose": 4x4}`` as nested lists (ScanNet / OpenCV convention)."""
        return {"intrinsic": [[round(float(v), 6) for v in row] for row in self.intrinsic],
                "pose": [[round(float(v), 6) for v in row] for row in self.pose]}

    @classmethod
    def from_record(cls, record: dict, width: int, height: int) -> "Camera":
        return cls(width, height, np.asarray(record["intrinsic"], dtype=np.float64),
                   np.asarray(record["pose"], dtype=np.float64))


@dataclass(frozen=True, eq=False)
class OrthoCamera:
    """A top-down orthographic map: world ``(x, y)`` -> pixel ``((x - x0) * scale, (y1 - y) * scale)``.

    It looks down from ``top`` (world z); everything below ``top`` is drawn."""

    width: int
    height: int
    x0: float
    y1: float
    scale: float                 # pixels per metre
    top: float = 100.0

    perspective = False
    near = 0.0

    @property
    def position(self) -> np.ndarray:
        return np.array([self.x0 + self.width / 2 / self.scale, self.y1 - self.height / 2 / self.scale, self.top])

    @property
    def pose(self) -> np.ndarray:
        # x right, y down (world -y), z forward (world -z): a proper rotation
        pose = np.eye(4)
        pose[:3, :3] = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])
        pose[:3, 3] = self.position
        return pose

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        return np.stack([p[..., 0] - self.x0, self.y1 - p[..., 1], self.top - p[..., 2]], axis=-1)

    def to_screen(self, cam: np.ndarray) -> np.ndarray:
        return cam[..., :2] * self.scale

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cam = self.to_camera(points)
        return self.to_screen(cam), cam[..., 2]

    def rays(self, u: np.ndarray, v: np.ndarray, depth: np.ndarray) -> np.ndarray:
        return np.stack([self.x0 + u / self.scale, self.y1 - v / self.scale, self.top - depth], axis=-1)

    def ray_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(A, B) with world = ``B @ (u, v, 1) + depth * A @ (u, v, 1)``, as :meth:`Camera.ray_affine`."""
        a = np.zeros((3, 3))
        a[2, 2] = -1.0
        b = np.array([[1 / self.scale, 0.0, self.x0], [0.0, -1 / self.scale, self.y1], [0.0, 0.0, self.top]])
        return a, b

    def to_record(self) -> None:
        return None


def orbit_cameras(center: np.ndarray | list[float], radius: float, n: int, heights: tuple[float, float],
                  width: int, height: int, fov_deg: float = 60.0, target: np.ndarray | list[float] | None = None,
                  phase: float = 0.0) -> list[Camera]:
    """3D-R1's candidate views: ``n`` cameras evenly spaced on a circle of ``radius`` around
    ``center`` (x, y), their heights (world z) spread evenly over ``heights``, all looking at
    ``target`` (default: ``center``). 3D-R1 spaces the angles with ``linspace(0, 2*pi, n)``,
    which puts its first and last cameras at the same angle; here they are ``2*pi/n`` apart."""
    c = np.asarray(center, dtype=np.float64)
    look = c if target is None else np.asarray(target, dtype=np.float64)
    zs = np.linspace(heights[0], heights[1], n) if n > 1 else np.array([(heights[0] + heights[1]) / 2])
    # alternate low and high cameras around the circle, so neighbours differ in height too
    order = np.concatenate([np.arange(0, n, 2), np.arange(1, n, 2)[::-1]]) if n > 2 else np.arange(n)
    cams = []
    for k in range(n):
        a = phase + 2 * math.pi * k / n
        eye = np.array([c[0] + radius * math.cos(a), c[1] + radius * math.sin(a), zs[order[k]]])
        cams.append(Camera.looking_at(eye, look, width, height, fov_deg))
    return cams
