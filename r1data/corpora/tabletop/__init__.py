"""Procedural tabletop and indoor scenes rendered to real images, with pixel-exact ground truth.

Shared by the image corpora (Embodied-Points, VQA-Verify). Not a corpus itself: it registers
no source or step. Everything is a pure function of the generator passed in, so a scene is
deterministic by seed. Coordinates are image pixels, x to the right, y down.

Public API (stable; import from ``r1data.corpora.tabletop``):

Scenes
    ``generate_scene(rng, scene_id, kind="tabletop", width=640, height=480, n_objects=(4, 8)) -> Scene``
        lay out and render one scene (``kind``: ``tabletop`` or ``indoor``).
    ``make_scene(rng, scene_id, kind, width, height, n_objects) -> Scene``  layout only (no pixels)
    ``render_scene(scene, rng) -> Scene``  fill ``image``, ``instance_map``, ``part_map``, boxes, areas
    ``empty_tabletop(rng, scene_id, width, height) -> Scene``, ``place_object(rng, scene, category, color)``,
    ``rest_object_on(rng, scene, support, category, color)``, ``finish_scene(scene)``  a scene composed
        object by object (chosen categories and colours)
    ``Scene``  ``.image`` (H, W, 3) uint8, ``.objects``, ``.regions``, ``.surfaces``,
        ``.mask(oid)``, ``.part_mask(oid, part)``, ``.region_mask(region)``, ``.obj(oid)``,
        ``.by_category(c)``, ``.summary()`` (plain records: id, category, color, size, box, parts, ...)
    ``SceneObject``  ``id, category, color, size, parts, base, surface, support, graspable,
        is_support, carries, box`` (visible, x1 y1 x2 y2), ``area``, ``part_names``, ``visible_fraction``
    ``Part``  ``name`` (body, handle, lid, knob, cap, spout, blade, screen, ...), ``polygon``, ``color``
    ``FreeRegion``  ``relation`` (left_of, right_of, in_front_of, between, on), ``anchors``, ``polygon``, ``box``
    ``Surface``  a table, counter or shelf band
Catalog
    ``KINDS`` (category -> Kind), ``FRONTS`` (drawer, cabinet door), ``COLORS`` (name -> RGB), ``plural(c)``
Words
    ``refer(scene, obj, rng=None) -> str | None``  a unique referring expression, "the red mug"
    ``referring_expressions(scene, obj) -> list[str]``, ``object_name(obj)``,
    ``region_phrase(scene, region) -> str | None``  "to the left of the red mug"
Masks and points
    ``polygon_to_mask(polygon, width, height)``, ``polygons_to_mask(polygons, width, height)``,
    ``mask_outline(mask) -> [[x, y], ...]``, ``interior_points(mask, n, rng, polygon=None)``,
    ``anchor_point(mask) -> (x, y)``, ``lift_trace(start, end, n=8, ...) -> [[x, y], ...]``
"""

from r1data.corpora.tabletop.catalog import COLORS, FRONTS, KINDS, Kind, plural
from r1data.corpora.tabletop.describe import object_name, refer, referring_expressions, region_phrase
from r1data.corpora.tabletop.layout import empty_tabletop, finish_scene, make_scene, place_object, rest_object_on
from r1data.corpora.tabletop.outline import interior_points, mask_outline, polygon_to_mask, polygons_to_mask
from r1data.corpora.tabletop.render import render_scene
from r1data.corpora.tabletop.scene import FreeRegion, Part, Scene, SceneObject, Surface, generate_scene
from r1data.corpora.tabletop.trajectory import anchor_point, lift_trace

__all__ = [
    "COLORS", "FRONTS", "KINDS", "FreeRegion", "Kind", "Part", "Scene", "SceneObject", "Surface",
    "anchor_point", "empty_tabletop", "finish_scene", "generate_scene", "place_object", "rest_object_on", "interior_points", "lift_trace", "make_scene", "mask_outline",
    "object_name", "plural", "polygon_to_mask", "polygons_to_mask", "refer", "referring_expressions",
    "region_phrase", "render_scene",
]
