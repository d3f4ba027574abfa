"""The scene graph every scene30k source produces and every step reads.

Coordinates are metres in the scene's frame: x to the right, y forward (away from the
viewer of the top-down image's bottom edge), z up; the floor is z = 0. A box is its center,
its extent along its own axes (dx, dy, dz) and a yaw about z in radians.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from r1data.geometry import aabb_of_oriented


# structure codes of a scan's points (``Scene.point_labels[:, 1]``)
STRUCTURE_CODES = {"": 0, "floor": 1, "wall": 2, "ceiling": 3}


def category_rgb(category: str) -> tuple[int, int, int]:
    """A stable colour per category (real scans have no colour label): categories stay apart."""
    h = (sum(map(ord, category)) * 37) % 360 / 360
    s, v = 0.35, 0.75
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return int(r * 255), int(g * 255), int(b * 255)


@dataclass
class SceneObject:
    id: int
    category: str
    center: tuple[float, float, float]
    extent: tuple[float, float, float]
    yaw: float = 0.0
    color: str = ""           # "" when the source does not say (real scans)
    size_label: str = ""      # small | medium | large, or ""
    support: int | None = None   # id of the object this one rests on; None: the floor

    def aabb(self) -> np.ndarray:
        """Axis-aligned corners (x1, y1, z1, x2, y2, z2) around the (possibly rotated) box."""
        return aabb_of_oriented(self.center, self.extent, self.yaw)

    def to_record(self) -> dict:
        return {"id": self.id, "category": self.category, "color": self.color,
                "center": [float(v) for v in self.center], "size": [float(v) for v in self.extent],
                "yaw": float(self.yaw)}


@dataclass
class Question:
    """A question about a scene, with everything needed to answer and explain it.

    ``program`` records how the answer follows from the scene graph (the family's
    operands: the objects filtered, the relation tested, the count...). The programmatic
    annotator turns it into the reasoning chain; for questions read from a real dataset it is
    ``{"kind": "given"}`` and the reasoning is written from the referenced objects.
    """

    question_id: str
    family: str               # attribute | counting | existence | relation | situated | referring
    question: str
    answers: list[str]        # acceptable answers; the first is the canonical one
    object_ids: list[int] = field(default_factory=list)
    situation: str = ""
    target_box: list[float] | None = None     # referring questions: the answer's AABB corners
    program: dict[str, Any] = field(default_factory=dict)
    source: str = "procedural"
    # SQA3D: the agent's pose, ``released_position`` [x, y, z] and ``released_rotation``
    # [x, y, z, w] as in its file, ``position`` / ``rotation`` in the scene's frame (or None)
    agent_pose: dict[str, list[float] | None] | None = None


@dataclass
class Scene:
    scene_id: str
    room_type: str
    room_size: tuple[float, float, float]       # width (x), depth (y), height (z)
    objects: list[SceneObject]
    questions: list[Question] = field(default_factory=list)   # from a dataset; empty: generate
    points: np.ndarray | None = None            # (N, 6) xyz rgb from a scan, when there is one
    source: str = "procedural"
    # (N, 2) per point of ``points``: object id (-1: none) and structure (see STRUCTURE_CODES)
    point_labels: np.ndarray | None = None

    def by_id(self) -> dict[int, SceneObject]:
        return {o.id: o for o in self.objects}

    def of_category(self, category: str) -> list[SceneObject]:
        return [o for o in self.objects if o.category == category]

    def to_dict(self) -> dict:
        """Compact view for the rejects table."""
        return {"scene_id": self.scene_id, "room_type": self.room_type,
                "objects": [asdict(o) for o in self.objects[:64]], "questions": len(self.questions)}
