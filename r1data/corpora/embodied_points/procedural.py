"""The embedded default of embodied_points: procedural scenes, rendered, turned into tasks.

* ``tabletop_scenes`` (source): scene ``i`` is ``{scene_id, kind}``; nothing heavy happens in
  the source so the rendering runs in the workers.
* ``render_tabletop`` (step): lays out and renders the scene (``r1data.corpora.tabletop``),
  storing the image once as PNG bytes and the scene graph in the working key ``_scene``.
* ``point_tasks`` (step): expands each scene into REG / RRG / OFG / VTG rows
  (:mod:`r1data.corpora.embodied_points.tasks`).

Rows that arrive already as tasks (from a real-data reader) pass through both steps untouched.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

from r1data.corpora.embodied_points.tasks import ABILITIES, ofg_tasks, reg_tasks, rrg_tasks, vtg_tasks
from r1data.errors import UsageError
from r1data.steps.synthetic import NumberedSource
from r1data.steps.base import (NonNegativeFloat, NonNegativeInt, PositiveInt, Reject, Source, StepContext,
                              source, step)


@source("tabletop_scenes")
class TabletopScenes(NumberedSource):
    """Procedural scenes for the pointing tasks: ``kinds`` weights tabletop vs indoor scenes
    (an indoor scene has a shelf, a counter, drawers and cabinet doors with handles and knobs)."""

    def __init__(self, ctx: StepContext, *, kinds: dict[str, float] | None = None, count: int | None = None):
        self.ctx = ctx
        self.kinds = kinds or {"tabletop": 0.6, "indoor": 0.4}
        bad = set(self.kinds) - {"tabletop", "indoor"}
        if bad or not self.kinds or min(self.kinds.values()) < 0 or sum(self.kinds.values()) <= 0:
            raise UsageError(f"tabletop_scenes: kinds must weight 'tabletop' and/or 'indoor', got {self.kinds!r}")
        self.count = count

    def item(self, i: int) -> dict:
        import numpy as np

        names = list(self.kinds)
        p = np.array([self.kinds[k] for k in names], dtype=np.float64)
        kind = names[int(self.ctx.rng("kind", i).choice(len(names), p=p / p.sum()))]
        return {"scene_id": f"tt{i:07d}", "kind": kind, "source": "procedural"}


@step("render_tabletop")
def render_tabletop(rows: Iterable[dict], ctx: StepContext, *, width: int = 640, height: int = 480,
                    objects: list[int] = [4, 8]) -> Iterator[dict | Reject]:  # noqa: B006 (validated copy)
    """Lay out and render each scene at ``width`` x ``height`` with ``objects`` [min, max] loose
    objects. Embodied-R1 resizes images into 262,144..1,638,400 pixels: the default 640x480
    is inside, so the stored pixel frame is the model's frame."""
    from PIL import Image

    from r1data.corpora.tabletop import generate_scene

    if len(objects) != 2 or objects[0] < 1 or objects[1] < objects[0]:
        raise UsageError(f"render_tabletop: objects must be [min, max] with 1 <= min <= max, got {objects}")
    for row in rows:
        if "ability" in row:
            yield row
            continue
        scene = generate_scene(ctx.rng(row["scene_id"]), row["scene_id"], row.get("kind", "tabletop"), width,
                               height, (objects[0], objects[1]))
        buf = io.BytesIO()
        Image.fromarray(scene.image).save(buf, format="PNG", compress_level=1)
        ctx.stats.count("scenes_rendered")
        yield {**row, "_scene": scene, "image": buf.getvalue()}


@step("point_tasks", expands=True)
def point_tasks(rows: Iterable[dict], ctx: StepContext, *, per_scene: dict[str, NonNegativeInt] | None = None,
                ratios: dict[str, NonNegativeFloat] | None = None, tasks_per_scene: PositiveInt = 4,
                rrg_types: dict[str, float] | None = None) -> Iterator[dict | Reject]:
    """Expand each rendered scene into task rows (distinct targets). Either ``per_scene``: up to
    ``per_scene[ability]`` rows per ability; or ``ratios``: ``tasks_per_scene`` abilities drawn
    with these weights (Embodied-Points-200K's mix: REG 27 %, RRG 36 %, OFG 20 %, VTG 16 %).
    RRG rows take a ``data_type`` from ``rrg_types`` (fsd_free_point, point_ref weights)."""
    if per_scene is not None and ratios is not None:
        raise UsageError("point_tasks: give per_scene (fixed counts) or ratios (a mix), not both")
    types = rrg_types or {"fsd_free_point": 0.45, "point_ref": 0.55}
    for name, given in (("per_scene", per_scene), ("ratios", ratios)):
        if given is not None and (set(given) - set(ABILITIES) or min(given.values(), default=0) < 0):
            raise UsageError(f"point_tasks: {name} keys must be among {', '.join(ABILITIES)} with values >= 0, "
                             f"got {given}")
    if ratios is not None and (sum(ratios.values()) <= 0 or tasks_per_scene < 1):
        raise UsageError(f"point_tasks: ratios must have a positive weight and tasks_per_scene >= 1, got {ratios}")
    fixed = per_scene if per_scene is not None else (None if ratios is not None else dict.fromkeys(ABILITIES, 1))
    if set(types) - {"fsd_free_point", "point_ref"} or sum(types.values()) <= 0:
        raise UsageError(f"point_tasks: rrg_types must weight fsd_free_point / point_ref, got {types}")
    for row in rows:
        scene = row.get("_scene")
        if scene is None:
            yield row
            continue
        rng = ctx.rng(row["scene_id"])
        per = fixed if fixed is not None else _draw_mix(ratios, tasks_per_scene, ctx.rng(row["scene_id"], "mix"))
        tasks = (reg_tasks(scene, rng, per.get("REG", 0)) + rrg_tasks(scene, rng, per.get("RRG", 0), types)
                 + ofg_tasks(scene, rng, per.get("OFG", 0)) + vtg_tasks(scene, rng, per.get("VTG", 0)))
        if not tasks:
            yield Reject({"scene_id": row["scene_id"], "kind": row.get("kind")}, "no_task",
                         "no object or region could be named uniquely")
            continue
        objects = [{"id": o["id"], "category": o["category"], "color": o["color"], "box": o["box"],
                    "parts": o["parts"]} for o in scene.summary()]
        for k, task in enumerate(tasks):
            ctx.stats.count(f"ability.{task['ability']}")
            yield {"id": f"{row['scene_id']}-{task['ability'].lower()}{k}", "source": row.get("source", "procedural"),
                   "kind": row.get("kind", ""), "images": [row["image"]], "objects": objects, **task}


def _draw_mix(ratios: dict[str, float] | None, n: int, rng: "np.random.Generator") -> dict[str, int]:
    """How many tasks of each ability one scene gets: ``n`` draws with the ``ratios`` weights."""
    import numpy as np

    names = list(ratios or {})
    p = np.array([ratios[k] for k in names], dtype=np.float64)   # type: ignore[index]
    counts = np.bincount(rng.choice(len(names), n, p=p / p.sum()), minlength=len(names))
    return {k: int(c) for k, c in zip(names, counts)}
