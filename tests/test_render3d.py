"""The shared 3D renderer: solids are solid, depth decides occlusion, the near plane clips,
the instance buffer agrees with the pixels, bad input draws something (never a crash)."""

from __future__ import annotations

import math

import numpy as np

import r1data.render3d as r3
from r1data.render3d import Camera, Material, OrthoCamera, PointSet, Scene3D, Solid, render

NO_SHADOW = r3.Light((0.3, -0.4, 0.87), ambient=0.4, diffuse=0.6, shadows=0.0)
SKY = (230, 235, 240)


def test_public_api_is_documented() -> None:
    for name in r3.__all__:
        assert hasattr(r3, name) and name in r3.__doc__, name


def test_a_box_seen_from_above_shows_three_flat_faces_not_its_inside() -> None:
    """The bug this renderer replaces: inside-out boxes showed their far walls and floor."""
    solid = Solid(r3.box((0, 0, 0.5), (1.0, 0.8, 1.0), yaw=0.4), Material((196, 48, 43)), 0)
    cam = Camera.looking_at((2.5, -2.0, 2.6), (0, 0, 0.5), 160, 160, 50)
    out = render(Scene3D([solid], light=NO_SHADOW, background=SKY), cam)
    pix = out.image[out.instance == 0]
    colours, counts = np.unique(pix.reshape(-1, 3), axis=0, return_counts=True)
    assert len(colours) == 3                           # three faces, each one flat colour
    top = np.array([196, 48, 43]) * (0.4 + 0.6 * 0.87)  # the lit top: ambient + diffuse * n.l
    assert np.abs(colours.astype(float) - top).sum(axis=1).min() < 4
    assert counts.min() > 200


def test_the_near_box_hides_the_far_one_and_the_instance_buffer_says_so() -> None:
    near = Solid(r3.box((0, -1, 0.5), (1, 1, 1)), Material((200, 40, 40)), 1)
    far = Solid(r3.box((0.4, 1.5, 0.5), (1, 1, 1)), Material((40, 40, 200)), 2)
    cam = Camera.looking_at((0, -5, 0.6), (0, 0, 0.5), 200, 150, 60)
    for order in ([near, far], [far, near]):          # the order of the solids does not matter
        out = render(Scene3D(order, light=NO_SHADOW, background=SKY), cam)
        v = out.visible
        assert 0 < v[2].fraction < 0.7 and v[1].fraction > 0.99
        for oid in (1, 2):
            ys, xs = np.nonzero(out.instance == oid)
            assert v[oid].pixels == len(xs)
            assert v[oid].box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert (out.depth[out.instance == 1].max() < out.depth[out.instance == 2].min())


def test_a_floor_crossing_the_near_plane_is_clipped_not_dropped() -> None:
    """A camera 1.6 m above a floor, looking level: every row below the horizon is floor."""
    floor = Solid(r3.quad(np.array([[-50, -50, 0], [50, -50, 0], [50, 50, 0], [-50, 50, 0]], float)),
                  Material((120, 120, 120)), -1)
    cam = Camera.looking_at((0, 0, 1.6), (0, 10, 1.6), 120, 90, 70)
    out = render(Scene3D([floor], light=NO_SHADOW, background=SKY), cam)
    horizon = cam.intrinsic[1, 2]
    far_edge = horizon + cam.intrinsic[1, 1] * 1.6 / 50    # the row of the floor's far edge, 50 m ahead
    drawn = np.isfinite(out.depth)
    assert drawn[int(far_edge) + 2:].all()             # the near rows too, though the quad starts behind us
    assert not drawn[: int(horizon) - 1].any()


def test_primitives_are_closed_with_outward_normals() -> None:
    for mesh in (r3.box((1, 2, 3), (1, 2, 0.5), 0.7), r3.cylinder((0, 0, 1), 0.5, 2.0), r3.sphere((0, 0, 0), 1.0)):
        tri = mesh.triangles()
        centre = mesh.vertices.mean(axis=0)
        normals = mesh.face_normals()
        assert (np.einsum("ij,ij->i", normals, tri.mean(axis=1) - centre) > 0).all()
        # closed: every edge is shared by exactly two faces, in opposite directions
        edges = np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]])
        pos = {tuple(p) for p in np.round(mesh.vertices, 9)}
        key = [tuple(np.round(mesh.vertices[a], 9)) + tuple(np.round(mesh.vertices[b], 9)) for a, b in edges]
        back = [tuple(np.round(mesh.vertices[b], 9)) + tuple(np.round(mesh.vertices[a], 9)) for a, b in edges]
        assert set(key) == set(back) and len(pos) > 0


def test_materials_look_different_and_glass_shows_what_is_behind() -> None:
    cam = Camera.looking_at((0, -4, 1.5), (0, 0, 0.5), 160, 120, 50)
    floor = Solid(r3.quad(np.array([[-5, -5, 0], [5, -5, 0], [5, 5, 0], [-5, 5, 0]], float)), Material((200, 200, 200)))
    looks = {}
    for finish in ("matte", "rubber", "metal"):
        s = Solid(r3.sphere((0, 0, 0.5), 0.5), Material((60, 90, 180), finish), 0)
        out = render(Scene3D([floor, s], background=SKY), cam)
        looks[finish] = out.image[out.instance == 0].astype(int)
    assert looks["metal"].sum(axis=1).max() > looks["matte"].sum(axis=1).max() + 60     # a highlight
    behind = Solid(r3.box((0, 2, 0.5), (3, 0.2, 1)), Material((230, 30, 30)), 1)
    glass = Solid(r3.box((0, 0, 0.5), (0.8, 0.8, 0.8)), Material((40, 160, 60), "glass"), 0)
    out = render(Scene3D([floor, behind, glass], background=SKY), cam)
    seen = out.image[out.instance == 0].astype(int)
    assert (seen[:, 0] > seen[:, 1]).any()             # red from behind through the green glass
    assert out.visible[0].pixels > 0


def test_bad_input_draws_the_rest_and_reports_it() -> None:
    good = Solid(r3.box((0, 0, 0.5), (1, 1, 1)), Material((200, 40, 40)), 0)
    nan = Solid(r3.box((math.nan, 0, 0.5), (1, 1, 1)), Material((40, 40, 200)), 1)
    flat = Solid(r3.box((2, 0, 0.5), (0.0, 1, 1)), Material((40, 200, 40)), 2)
    scene = Scene3D([good, nan, flat], light=NO_SHADOW, background=SKY)
    assert scene.skipped == [1]
    out = render(scene, Camera.looking_at((0, -4, 2), (0, 0, 0.5), 64, 64, 60))
    assert out.visible[0].pixels > 0 and 1 not in out.visible
    # a camera inside a solid sees through it (its faces all face away): no crash, not black
    inside = render(scene, Camera.looking_at((0, 0, 0.5), (0, 5, 0.5), 64, 64, 60))
    assert inside.visible[0].pixels == 0 and inside.image.mean() > 100


def test_points_splat_with_their_colours_and_instances() -> None:
    rng = np.random.default_rng(0)
    xyz = np.column_stack([rng.uniform(-1, 1, 4000), rng.uniform(-1, 1, 4000), np.zeros(4000)])
    inst = (xyz[:, 0] > 0).astype(int)
    rgb = np.where(inst[:, None] == 1, [0.9, 0.1, 0.1], [0.1, 0.1, 0.9])
    cam = OrthoCamera(100, 100, -1.2, 1.2, 100 / 2.4)
    out = render(Scene3D(points=PointSet(xyz, rgb, 0.02, inst), background=SKY), cam)
    assert out.visible[0].pixels > 2000 and out.visible[1].pixels > 2000
    assert (out.image[out.instance == 1][:, 0] > 200).all()
    assert out.visible[0].box[2] <= 52 <= out.visible[1].box[0] + 2


def test_cameras_round_trip_and_follow_opencv_axes() -> None:
    cam = Camera.looking_at((1, 2, 3), (1, 5, 3), 640, 480, 60)
    rec = cam.to_record()
    again = Camera.from_record(rec, 640, 480)
    uv, z = again.project(np.array([[1, 5, 3], [2, 5, 3], [1, 5, 2]], float))
    assert z[0] == 3 and abs(uv[0, 0] - 319.5) < 1e-6 and abs(uv[0, 1] - 239.5) < 1e-6
    assert uv[1, 0] > uv[0, 0]                          # world +x is to the right here
    assert uv[2, 1] > uv[0, 1]                          # lower in the world is lower in the image (y down)
    cams = r3.orbit_cameras((0, 0, 0), 5, 8, (1, 3), 64, 64)
    angles = sorted(round(math.degrees(math.atan2(c.position[1], c.position[0])) % 360) for c in cams)
    assert angles == [0, 45, 90, 135, 180, 225, 270, 315]
    assert sorted(round(c.position[2], 3) for c in cams) == sorted(np.round(np.linspace(1, 3, 8), 3))


def test_the_compiled_z_buffer_equals_the_numpy_reference_key_for_key() -> None:
    """kernels.raster_triangles (what render draws with) against raster.scan + resolve, the
    vectorised numpy it replaced: the same pixels, depths and winners, bit for bit."""
    from r1data.render3d import raster

    rng = np.random.default_rng(0)
    for perspective in (True, False):
        uv = rng.uniform(-40, 140, (400, 3, 2))              # overlapping, partly off screen
        uv[:40] = np.round(uv[:40])                          # corners on pixel centres: the tie rules
        q = rng.uniform(0.1, 3.0, (400, 3))
        st, _ = raster.prepare(uv, q)
        ref = raster.resolve([raster.scan(st, 100, 80, perspective, offset=5)], 100 * 80)
        got = raster.draw(st, np.full(100 * 80, raster.NONE, np.int64), 100, 80, perspective, offset=5)
        assert np.array_equal(got, ref) and (ref != raster.NONE).mean() > 0.9
        # only nearer than a limit (see-through solids in front of the opaque ones)
        limit = np.where(rng.random(100 * 80) < 0.5, ref, raster.NONE)
        ahead = raster.draw(st, np.full(100 * 80, raster.NONE, np.int64), 100, 80, perspective, limit=limit)
        assert ((ahead == raster.NONE) | (ahead < limit)).all() and (ahead != raster.NONE).any()


def test_outlines_mark_the_nearer_pixel_of_each_face_boundary_on_objects() -> None:
    """The compiled outline against the numpy rule it replaced."""
    from r1data.render3d import kernels

    rng = np.random.default_rng(1)
    h, w = 30, 40
    faces = rng.integers(-1, 4, h * w)
    instance = np.where(faces >= 0, rng.integers(-1, 3, h * w), -1)
    depth = rng.uniform(1, 5, h * w).astype(np.float32)
    image = rng.uniform(0, 255, (h * w, 3))
    got = image.copy()
    kernels.outline(got, instance, faces, depth, w, h, 0.25)
    face, inst, dep = faces.reshape(h, w), instance.reshape(h, w), depth.reshape(h, w)
    edge = np.zeros((h, w), dtype=bool)
    for a, b in (((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
                 ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
        mark = (face[a] != face[b]) & ((inst[a] >= 0) | (inst[b] >= 0))
        a_nearer = dep[a] <= dep[b]
        edge[a] |= mark & a_nearer
        edge[b] |= mark & ~a_nearer
    want = image.copy()
    want[edge.ravel()] *= 0.75
    assert np.array_equal(got, want) and edge.any()


def test_relit_scene_draws_as_one_built_with_that_light() -> None:
    solids = [Solid(r3.quad(np.array([[-3, -3, 0], [3, -3, 0], [3, 3, 0], [-3, 3, 0]], float)), Material((200, 200, 200))),
              Solid(r3.box((0, 0, 0.5), (1, 1, 1)), Material((200, 40, 40)), 0)]
    sun = r3.elevation_light(30, 40)
    cam = Camera.looking_at((3, -4, 3), (0, 0, 0.3), 96, 72, 60)
    built = render(Scene3D(solids, light=sun, background=SKY), cam, outline_strength=0.3)
    relit = render(Scene3D(solids, light=NO_SHADOW, background=(0, 0, 0)).relit(sun, SKY), cam, outline_strength=0.3)
    assert np.array_equal(built.image, relit.image) and np.array_equal(built.instance, relit.instance)
    shadowed = built.image[(built.instance == -1) & np.isfinite(built.depth)]
    assert len(np.unique(shadowed.reshape(-1, 3), axis=0)) > 2       # the box casts a shadow on the floor


def test_png_bytes_decode_to_the_same_pixels() -> None:
    import io

    import pytest
    from PIL import Image

    rng = np.random.default_rng(2)
    for img in (rng.integers(0, 255, (17, 23, 3), dtype=np.uint8), rng.integers(0, 255, (5, 9), dtype=np.uint8),
                rng.integers(0, 255, (8, 8, 4), dtype=np.uint8), np.full((224, 224, 3), 200, np.uint8)):
        data = r3.png_bytes(img)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), img)
        assert data == r3.png_bytes(img.copy())                         # deterministic
    assert len(r3.png_bytes(np.full((224, 224, 3), 200, np.uint8))) < 2000     # 150 KB of one colour
    with pytest.raises(ValueError, match="uint8"):
        r3.png_bytes(np.zeros((4, 4, 3), np.float32))
