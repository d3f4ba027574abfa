"""Drawing a TRANCE state with the shared renderer (:mod:`r1data.render3d`).

TRANCE renders CLEVR's shapes with Blender: a cube, a sphere and a cylinder scaled by the size's
radius (a cube by radius / sqrt(2), so that objects of one size have the same largest radius),
standing on a grey plane, from three cameras (``Camera_Left``, ``Camera_Center``,
``Camera_Right``), 320x240, each camera's position jittered by up to 0.5 and the lamps by up to
1.0 per sample. Objects outside the visible area are not drawn.

What is ours (the ``.blend`` file holding TRANCE's camera and lamp positions is binary and was
not read): the centre camera stands where CLEVR's does relative to the scene (10.1 units away
horizontally, 4.96 up, a 49.1 degree field of view, looking at the centre), on TRANCE's
``front`` side so that ``behind`` points away from it and ``right`` to its right; the left and
right cameras are the centre one turned ``view_angle`` degrees (default 45) about the vertical
axis through the centre. Scene units map to the world as ``X = y * 0.15`` (right) and
``Y = x * 0.15`` (behind), z up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from r1data.corpora.trance.world import COLORS, RADIUS, UNIT, is_visible

VIEWS = ("left", "center", "right")
CAMERA_NAMES = {"left": "Camera_Left", "center": "Camera_Center", "right": "Camera_Right"}
GROUND = (128, 128, 126)
SKY = (96, 97, 100)
# TRANCE's occlusion threshold: 150 pixels of a 320x240 segmentation map
OCCLUSION_PIXELS = 150
OCCLUSION_AREA = 320 * 240


@dataclass(frozen=True)
class Rig:
    """The cameras (by view name) and the light of one sample."""

    eyes: dict[str, tuple[float, float, float]]
    target: tuple[float, float, float]
    light: tuple[float, float]            # azimuth, elevation (degrees)
    fov_deg: float

    def camera(self, view: str, width: int, height: int):  # type: ignore[no-untyped-def]
        from r1data.render3d import Camera

        return Camera.looking_at(self.eyes[view], self.target, width, height, self.fov_deg)


def make_rig(rng: np.random.Generator, view_angle: float = 45.0, camera_jitter: float = 0.5,
             light_jitter: float = 10.0, fov_deg: float = 49.1) -> Rig:
    """The three cameras and the light of one sample (TRANCE jitters them per sample)."""
    eyes = {}
    for view, turn in (("left", -view_angle), ("center", 0.0), ("right", view_angle)):
        a = math.radians(-90.0 + turn)
        base = np.array([10.1 * math.cos(a), 10.1 * math.sin(a), 4.96])
        eye = base + rng.uniform(-camera_jitter, camera_jitter, 3)
        eyes[view] = (float(eye[0]), float(eye[1]), float(max(eye[2], 2.5)))
    light = (float(-60.0 + rng.uniform(-light_jitter, light_jitter)), float(50.0 + rng.uniform(-light_jitter, light_jitter)))
    return Rig(eyes, (0.0, 0.0, 0.0), light, fov_deg)


def world_xy(position: list[int]) -> tuple[float, float]:
    """A TRANCE grid position in world coordinates (x right, y behind as seen from the centre camera)."""
    return float(position[1]) * UNIT, float(position[0]) * UNIT


def solids(objects: list[dict]) -> list:
    """The drawn objects (those in view), each with its index as instance id."""
    import r1data.render3d as r3

    out = [r3.Solid(r3.quad([(-40, -40, 0), (40, -40, 0), (40, 40, 0), (-40, 40, 0)]), r3.Material(GROUND),
                    cast_shadow=False)]
    for i, o in enumerate(objects):
        if not is_visible(o["position"]):
            continue
        x, y = world_xy(o["position"])
        r = RADIUS[o["size"]]
        if o["shape"] == "cube":
            half = r / math.sqrt(2)
            mesh = r3.box((x, y, half), (2 * half, 2 * half, 2 * half), float(o.get("rotation", 0.0)))
        elif o["shape"] == "sphere":
            mesh = r3.sphere((x, y, r), r)
        else:
            mesh = r3.cylinder((x, y, r), r, 2 * r)
        out.append(r3.Solid(mesh, r3.Material(COLORS[o["color"]], o["material"]), instance=i))
    return out


def render_views(objects: list[dict], rig: Rig, views: tuple[str, ...], width: int, height: int,
                 shadows: bool = True) -> dict:
    """``{view: Render}`` of a state (image, instance buffer, visible pixels per object index)."""
    import r1data.render3d as r3

    light = r3.elevation_light(*rig.light, fill=0.15, shadows=0.45 if shadows else 0.0)
    scene = r3.Scene3D(solids(objects), light=light, background=SKY)
    return {v: r3.render(scene, rig.camera(v, width, height)) for v in views}


def min_pixels(width: int, height: int) -> int:
    """TRANCE's occlusion threshold scaled to an image of ``width`` x ``height``."""
    return max(1, round(OCCLUSION_PIXELS * width * height / OCCLUSION_AREA))


def hidden(render, objects: list[int], threshold: int) -> list[int]:  # type: ignore[no-untyped-def]
    """The objects among ``objects`` with fewer than ``threshold`` visible pixels in ``render``."""
    return [i for i in objects if (render.visible.get(i).pixels if render.visible.get(i) else 0) < threshold]
