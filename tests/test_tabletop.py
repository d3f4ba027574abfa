"""The shared tabletop scene generator: deterministic, and its ground truth matches its pixels."""

from __future__ import annotations

import numpy as np
import pytest

import r1data.corpora.tabletop as tt
from r1data.geometry import points_in_mask, points_in_polygon
from r1data.steps.base import record_rng


@pytest.fixture(scope="module")
def scenes() -> list[tt.Scene]:
    return [tt.generate_scene(record_rng(7, i), f"s{i}", "tabletop" if i % 2 else "indoor") for i in range(6)]


def test_public_api_is_importable() -> None:
    for name in tt.__all__:
        assert hasattr(tt, name), name
        assert name in tt.__doc__ or name in ("Kind",), f"{name} missing from the API docstring"


def test_same_seed_same_scene_other_seed_other_scene() -> None:
    a = tt.generate_scene(record_rng(1, 3), "a", "tabletop")
    b = tt.generate_scene(record_rng(1, 3), "a", "tabletop")
    c = tt.generate_scene(record_rng(1, 4), "a", "tabletop")
    assert np.array_equal(a.image, b.image) and np.array_equal(a.part_map, b.part_map)
    assert a.summary() == b.summary()
    assert not np.array_equal(a.image, c.image)


def test_image_and_label_maps_have_the_scene_size(scenes: list[tt.Scene]) -> None:
    for s in scenes:
        assert s.image.shape == (s.height, s.width, 3) and s.image.dtype == np.uint8
        assert s.instance_map.shape == s.part_map.shape == (s.height, s.width)


def test_every_object_is_visible_and_its_box_bounds_its_mask(scenes: list[tt.Scene]) -> None:
    for s in scenes:
        for o in s.objects:
            m = s.mask(o.id)
            assert m.sum() == o.area > 0, (s.id, o.category)
            ys, xs = np.nonzero(m)
            assert o.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            # the object is drawn in its colours, not background: its pixels differ from the wall
            for part in o.part_names:
                pm = s.part_mask(o.id, part)
                assert not (pm & ~m).any(), "a part mask leaks outside its object"


def test_functional_parts_exist_with_their_names(scenes: list[tt.Scene]) -> None:
    parts = {(o.category, p) for s in scenes for o in s.objects for p in o.part_names}
    assert ("drawer", "handle") in parts and ("cabinet door", "knob") in parts
    mugs = tt.generate_scene(record_rng(0, 1), "m", "tabletop", n_objects=(8, 8))
    assert any(p in ("handle", "lid", "cap", "knob", "spout", "blade") for o in mugs.objects for p in o.part_names)


def test_free_regions_are_empty_and_inside_the_image(scenes: list[tt.Scene]) -> None:
    n = 0
    for s in scenes:
        for r in s.regions:
            m = s.region_mask(r)
            assert m.sum() > 50
            covered = set(np.unique(s.instance_map[m]).tolist()) - {0}
            allowed = {a + 1 for a in r.anchors} if r.relation == "on" else set()   # on a plate: the plate
            assert covered <= allowed, f"{s.id}: region {r.relation} covers objects {covered - allowed}"
            x1, y1, x2, y2 = r.box
            assert 0 <= x1 < x2 <= s.width and 0 <= y1 < y2 <= s.height
            assert tt.region_phrase(s, r) is None or tt.region_phrase(s, r).split()[0] in ("to", "in", "between", "on")
            n += 1
    assert n >= len(scenes)


def test_referring_expressions_name_one_object_each(scenes: list[tt.Scene]) -> None:
    for s in scenes:
        names = {}
        for o in s.objects:
            for e in tt.referring_expressions(s, o):
                assert e not in names, f"{s.id}: {e!r} names objects {names[e]} and {o.id}"
                names[e] = o.id
        assert all("orange orange" not in e for e in names)


def test_outline_and_interior_points_lie_inside_the_mask(scenes: list[tt.Scene]) -> None:
    rng = np.random.default_rng(0)
    for s in scenes[:3]:
        for o in s.objects:
            m = s.mask(o.id)
            poly = tt.mask_outline(m)
            assert len(poly) >= 3
            pts = tt.interior_points(m, 4, rng, polygon=poly)
            assert pts and points_in_mask(pts, m).all() and points_in_polygon(pts, poly).all()


def test_lift_trace_runs_from_start_to_end_and_rises() -> None:
    trace = tt.lift_trace((100, 300), (400, 280), n=8, width=640, height=480)
    assert len(trace) == 8 and trace[0] == [100, 300] and trace[-1] == [400, 280]
    assert min(y for _, y in trace[1:-1]) < 280          # lifted above both ends
    assert all(0 <= x < 640 and 0 <= y < 480 for x, y in tt.lift_trace((5, 5), (600, 10), width=640, height=480))


def test_anchor_point_is_on_the_mask() -> None:
    m = np.zeros((50, 60), dtype=bool)
    m[10:20, 5:40] = True
    m[10:40, 30:40] = True                      # an L: its centroid is off the shape's core
    x, y = tt.anchor_point(m)
    assert m[y, x]
    with pytest.raises(ValueError):
        tt.anchor_point(np.zeros((4, 4), dtype=bool))
