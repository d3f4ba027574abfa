"""One renderer of 3D scenes for every corpus: a z-buffer in numpy, its per-pixel loops compiled
with numba (:mod:`.kernels`).

Closed solids (boxes, cylinders, spheres, any triangle mesh) with outward normals and
materials (matte, rubber, metal, glass), coloured point clouds drawn as splats (a scan, as
3D-R1 renders it), screen-space sprites (the tabletop scenes' painted parts), a room's floor
and walls, a directional light with shadows. One pass gives the image, the depth, the
instance and part buffers and, per object, its visible pixels, visible fraction and the 2D
box of its visible pixels. Triangles are clipped at the near plane, never dropped.

Public API (import from ``r1data.render3d``):

Cameras (ScanNet / OpenCV convention: pose = camera-to-world, x right, y down, z forward)
    ``Camera(width, height, intrinsic, pose)``, ``Camera.looking_at(eye, target, width, height, fov_deg)``,
    ``.project(points) -> (uv, depth)``, ``.to_record() -> {"intrinsic", "pose"}``, ``Camera.from_record``
    ``OrthoCamera(width, height, x0, y1, scale)``  a top-down map (its record is None)
    ``look_at(eye, target)``, ``pinhole_intrinsic(width, height, fov_deg)``
    ``orbit_cameras(center, radius, n, heights, width, height, fov_deg, target)``  3D-R1's candidates
Geometry
    ``Mesh``, ``box(center, size, yaw)``, ``box_corners``, ``cylinder(center, radius, height)``,
    ``sphere(center, radius)``, ``quad(corners)``, ``room(x0, y0, x1, y1, height) -> (floor, walls)``, ``merge``
Scene
    ``Material(color, finish)`` (``FINISHES``: matte, rubber, metal, glass), ``Solid(mesh, material, instance)``,
    ``PointSet(xyz, rgb, radius, instance, cutaway)``, ``Sprite(polygon, depth, shade, instance, part)``,
    ``Light(direction, ambient, diffuse, shadows)``, ``elevation_light(azimuth_deg, elevation_deg)``,
    ``Scene3D(solids, points, sprites, light, background)``
Rendering
    ``render(scene, camera, outline_strength=0, height_shade=None) -> Render``
    ``Render``: ``.image`` (H, W, 3) uint8, ``.depth``, ``.instance``, ``.part``, ``.visible`` {id: ``Visibility``},
    ``.shown(min_pixels, min_fraction)``; ``Visibility(pixels, fraction, box)``, ``.to_record(id)``
    ``png_bytes(image)``
"""

from r1data.render3d.camera import Camera, OrthoCamera, look_at, orbit_cameras, pinhole_intrinsic
from r1data.render3d.encode import png_bytes
from r1data.render3d.mesh import Mesh, box, box_corners, cylinder, merge, quad, room, sphere
from r1data.render3d.render import Scene3D, render
from r1data.render3d.scene import (FINISHES, Light, Material, PointSet, Render, Solid, Sprite, Visibility,
                                   elevation_light)

__all__ = [
    "FINISHES", "Camera", "Light", "Material", "Mesh", "OrthoCamera", "PointSet", "Render", "Scene3D", "Solid",
    "Sprite", "Visibility", "box", "box_corners", "cylinder", "elevation_light", "look_at", "merge",
    "orbit_cameras", "pinhole_intrinsic", "png_bytes", "quad", "render", "room", "sphere",
]
