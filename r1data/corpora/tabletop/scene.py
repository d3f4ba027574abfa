"""The scene graph of a procedural tabletop or indoor scene, in image pixels.

A :class:`Scene` holds objects (category, color, size, parts such as handles, lids and knobs,
what they rest on), the surfaces they stand on and the free regions where something could be
put. After :func:`r1data.corpora.tabletop.render.render_scene` it also holds the image and
the label maps from which every object and part mask is read, so ground truth and pixels
can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from r1data.corpora.tabletop.shapes import bounds


@dataclass
class Part:
    """One drawn piece of an object. Pieces with the same ``name`` form one part mask."""

    name: str                     # body, handle, lid, knob, cap, spout, blade, screen, ...
    polygon: np.ndarray           # (K, 2) vertices in pixels
    color: str                    # a name in COLORS
    shade: str = "cyl"            # cyl | flat | sphere | inner | light | dark


@dataclass
class SceneObject:
    id: int
    category: str
    color: str                    # the color of its main part, the one people name
    size: str                     # small | medium | large, relative to its category
    parts: list[Part]
    base: tuple[float, float]     # where it touches its surface (x, y)
    surface: str                  # table | counter | shelf | front (drawers, doors)
    support: int | None = None    # id of the object it rests on (a plate), None: the surface
    graspable: bool = True
    is_support: bool = False      # other objects may rest on it
    carries: list[int] = field(default_factory=list)   # ids of the objects resting on it
    # filled by the renderer
    box: tuple[float, float, float, float] | None = None    # visible extent, pixels
    area: int = 0                 # visible pixels
    drawn_area: int = 0           # pixels it would cover if nothing hid it

    @property
    def drawn_box(self) -> np.ndarray:
        return bounds([p.polygon for p in self.parts])

    @property
    def part_names(self) -> list[str]:
        return list(dict.fromkeys(p.name for p in self.parts))

    def part_color(self, name: str) -> str:
        return next(p.color for p in self.parts if p.name == name)

    @property
    def visible_fraction(self) -> float:
        return self.area / self.drawn_area if self.drawn_area else 0.0


@dataclass
class Surface:
    """A horizontal band where objects stand: bases lie in ``y0..y1`` and ``x0..x1``.

    ``scale(y)`` gives the perspective scale of an object standing at row ``y``.
    """

    name: str                     # table | counter | shelf
    x0: float
    x1: float
    y0: float
    y1: float
    s0: float                     # scale at y0 (far)
    s1: float                     # scale at y1 (near)
    polygon: np.ndarray | None = None   # the visible top face (free regions must lie inside)

    def scale(self, y: float) -> float:
        if self.y1 <= self.y0:
            return self.s0
        t = (y - self.y0) / (self.y1 - self.y0)
        return self.s0 + (self.s1 - self.s0) * float(np.clip(t, 0, 1))


@dataclass
class FreeRegion:
    """Empty surface where an object could be put, described relative to other objects."""

    relation: str                 # left_of | right_of | in_front_of | between | on
    anchors: tuple[int, ...]      # the objects it is described by
    polygon: np.ndarray           # its outline (a rectangle, or an ellipse on a plate)
    surface: str

    @property
    def box(self) -> tuple[float, float, float, float]:
        b = bounds([self.polygon])
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


@dataclass
class Scene:
    id: str
    kind: str                     # tabletop | indoor
    width: int
    height: int
    objects: list[SceneObject]
    surfaces: list[Surface]
    style: dict = field(default_factory=dict)       # background colors and textures
    regions: list[FreeRegion] = field(default_factory=list)
    # filled by the renderer
    image: np.ndarray | None = None                 # (H, W, 3) uint8
    instance_map: np.ndarray | None = None          # (H, W) int16: object id + 1, 0 background
    part_map: np.ndarray | None = None              # (H, W) int16: index in part_keys + 1
    part_keys: list[tuple[int, str]] = field(default_factory=list)   # (object id, part name)

    def obj(self, oid: int) -> SceneObject:
        return self.objects[oid]

    def mask(self, oid: int) -> np.ndarray:
        """The visible pixels of object ``oid``."""
        assert self.instance_map is not None, "render the scene first"
        return self.instance_map == oid + 1

    def part_mask(self, oid: int, part: str) -> np.ndarray:
        """The visible pixels of a part (every piece of that name)."""
        assert self.part_map is not None, "render the scene first"
        key = self.part_keys.index((oid, part)) + 1
        return self.part_map == key

    def region_mask(self, region: FreeRegion) -> np.ndarray:
        from r1data.corpora.tabletop.outline import polygon_to_mask

        return polygon_to_mask(region.polygon, self.width, self.height)

    def by_category(self, category: str) -> list[SceneObject]:
        return [o for o in self.objects if o.category == category]

    def summary(self) -> list[dict]:
        """The objects as plain records (id, category, color, size, box, parts, support)."""
        out = []
        for o in self.objects:
            out.append({"id": o.id, "category": o.category, "color": o.color, "size": o.size,
                        "box": [float(v) for v in (o.box or o.drawn_box)], "parts": o.part_names,
                        "support": -1 if o.support is None else o.support, "surface": o.surface})
        return out


def generate_scene(rng: np.random.Generator, scene_id: str, kind: str = "tabletop", width: int = 640,
                   height: int = 480, n_objects: tuple[int, int] = (4, 8)) -> Scene:
    """Lay out and render one scene: a pure function of ``rng`` and the arguments.

    ``kind`` is ``tabletop`` (objects on a table) or ``indoor`` (shelf, counter, drawers and
    cabinet doors). The returned scene has its image, masks, parts and free regions filled.
    """
    from r1data.corpora.tabletop.layout import make_scene
    from r1data.corpora.tabletop.render import render_scene

    scene = make_scene(rng, scene_id, kind, width, height, n_objects)
    return render_scene(scene, rng)
