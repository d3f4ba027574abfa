"""VQA-Verify's view of a procedural scene drawn by the shared generator ``r1data.corpora.tabletop``.

The generator lays out and renders tabletop and indoor (kitchen) scenes with an instance map,
so every object's *visible* box is the extent of its mask in the picture. Its full drawn
extent (``drawn_box``) is the generator's other, independent view of the same object: the
``vqa_verify_box_grounded`` verifier compares the two, so a mostly hidden object fails.

:func:`scene_objects` turns a rendered scene into the plain records the question families,
the glance-focus annotator and the verifiers read (``id, category, color, size, box,
visible``), and :func:`encode_jpeg` stores the picture (also used by earthreason).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from r1data.corpora.tabletop.catalog import COLORS, plural

if TYPE_CHECKING:
    from r1data.corpora.tabletop import Scene

__all__ = ["COLORS", "KINDS", "PLACES", "encode_jpeg", "plural", "scene_objects", "vqa_category"]

KINDS = ("tabletop", "indoor")
# where a scene's objects are, in question and caption wording
PLACES = {"tabletop": "on the table", "indoor": "in the kitchen"}
# categories renamed for questions: a plant's named colour is its pot's (its leaves are green)
_CATEGORY = {"plant": "plant pot"}


def vqa_category(category: str) -> str:
    """The generator's category as questions name it."""
    return _CATEGORY.get(category, category)


def scene_objects(scene: Scene) -> tuple[list[dict], dict[int, list[float]]]:
    """(objects, full boxes) of a rendered scene.

    ``objects``: one record per object, ``id`` (its index in the scene, also its instance
    label - 1), ``category``, ``color`` (its main part's, the one people name), ``size``,
    ``box`` (the extent of its visible mask, x1 y1 x2 y2 with x2/y2 exclusive; None when
    fully hidden) and ``visible`` (visible pixels / drawn pixels). ``full boxes``: id -> the
    extent of everything drawn for the object, hidden or not, clipped to the picture."""
    objs, full = [], {}
    for o in scene.objects:
        box = [float(v) for v in o.box] if o.box is not None else None
        objs.append({"id": int(o.id), "category": vqa_category(o.category), "color": o.color, "size": o.size,
                     "box": box, "visible": round(float(o.visible_fraction), 3)})
        b = o.drawn_box
        full[int(o.id)] = [float(np.clip(b[0], 0, scene.width)), float(np.clip(b[1], 0, scene.height)),
                           float(np.clip(b[2], 0, scene.width)), float(np.clip(b[3], 0, scene.height))]
    return objs, full


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """(H, W, 3) uint8 -> JPEG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
