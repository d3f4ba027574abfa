"""The image a GoT-R1 completion is scored on, and the boxes a grounder finds in it.

In GoT-R1 the policy writes the reasoning chain and then the image; R_PI judges that image and
R_RI compares the chain's planned boxes with boxes grounded in it. So the image belongs to each
completion, not to the dataset: the ``got.*`` rewards take a ``generator`` that turns a
completion into its image, and a ``grounder`` that finds the planned objects in that image.

``generator``:

* ``"layout"``: the offline stand-in. It draws the completion's own plan with the shared tabletop
  painter (:mod:`r1data.corpora.tabletop`) on a ``size`` x ``size`` table: every planned object
  whose name holds a category the painter knows (mug, bowl, apple...) and its colour word, in its
  box; unknown names are not drawn. Deterministic for a (prompt, chain) pair. It is not the
  paper's image generator (the unified MLLM itself, Janus-Pro in GoT-R1, which does not run on CPU).
* a callable ``generator(prompt, chain) -> image`` (PNG/JPEG bytes, a PIL image, an array, or
  None): your model. An optional ``generate_many(items)`` gets a whole batch at once.

``grounder``:

* ``"layout"``: reads back where the ``layout`` generator drew each object (the visible extent of
  its pixels): for tests and dry runs; it cannot ground any other image;
* an annotator profile name or path (``"gpt-4o"``): its model is asked, with
  ``annotators/templates/got_ground.jinja``, for the box of each planned object name on the
  0-1000 grid, through :mod:`r1data.rewards.judged` (one concurrent batch per reward call, the
  response cache, None with a counted reason for what it cannot answer);
* a callable ``grounder(image, names) -> [box or None per name]``.

Images made in a process are kept (512 most recent) so that R_PI and R_RI of one completion, in
one reward or two, draw it once.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from r1data.errors import UsageError
from r1data.parsing import parse_got_plan

GRID = 1000
_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_SIZE = 512


@dataclass(frozen=True)
class GeneratedImage:
    """An image a generator made; ``drawn`` (the layout stand-in only): per planned object, in
    plan order, the grid box of what was drawn (None: not drawn or hidden)."""

    png: bytes
    drawn: tuple[tuple[str, tuple[float, float, float, float] | None], ...] | None = None


def _words(name: str) -> str:
    return " " + re.sub(r"[^a-z ]+", " ", name.lower()) + " "


def painter_category(name: str) -> str | None:
    """The tabletop category a planned name holds ("two red apples" -> apple), longest first."""
    from r1data.corpora.tabletop.catalog import KINDS
    from r1data.rewards.got_layout import plural

    text = _words(name)
    for cat in sorted(KINDS, key=len, reverse=True):
        if f" {cat} " in text or f" {plural(cat)} " in text:
            return cat
    return None


def layout_image(prompt: str, chain: str, size: int = 384) -> GeneratedImage:
    """The ``layout`` stand-in: the chain's plan drawn on a table (see the module docstring)."""
    import numpy as np

    from r1data.corpora.tabletop import empty_tabletop, finish_scene, render_scene
    from r1data.corpora.tabletop.catalog import COLORS, KINDS
    from r1data.corpora.tabletop.scene import SceneObject
    from r1data.render3d import png_bytes

    seed = int.from_bytes(hashlib.blake2b(f"{prompt}\x00{chain}".encode(), digest_size=8).digest(), "little")
    rng = np.random.default_rng(seed)
    scene = empty_tabletop(rng, "generated", size, size)
    plan = parse_got_plan(chain)
    drawn: list[Any] = []
    for name, (x1, y1, x2, y2) in plan:
        cat = painter_category(name)
        box = [v / GRID * size for v in (x1, y1, x2, y2)]
        if cat is None or not (0 <= box[0] < box[2] <= size and 0 <= box[1] < box[3] <= size):
            drawn.append(None)
            continue
        kind = KINDS[cat]
        text = _words(name)
        color = next((c for c in COLORS if f" {c} " in text and c in kind.colors), kind.colors[0])
        w, h = box[2] - box[0], box[3] - box[1]
        parts = kind.build((box[0] + box[2]) / 2, box[3], w, h, color, rng)
        obj = SceneObject(len(scene.objects), cat, color, "medium", parts, ((box[0] + box[2]) / 2, box[3]), "table")
        scene.objects.append(obj)
        drawn.append(obj)
    finish_scene(scene)
    render_scene(scene, rng)
    out = []
    for (name, _), obj in zip(plan, drawn):
        if obj is None or obj.box is None:
            out.append((name, None))
        else:
            out.append((name, tuple(round(float(v) / size * GRID, 1) for v in obj.box)))
    assert scene.image is not None
    return GeneratedImage(png_bytes(scene.image), tuple(out))


def _key(generator: Any, prompt: str, chain: str) -> tuple:
    return (generator if isinstance(generator, str) else id(generator), prompt, chain)


def generate_images(generator: Any, prompts: list[str], chains: list[str]) -> list[Any]:
    """One image per (prompt, chain), from ``generator`` (see the module docstring); None where
    the generator gave none."""
    if generator is None:
        raise UsageError("GoT-R1: no image generator: pass generator='layout' (the offline stand-in) or a "
                         "callable generator(prompt, chain) -> image")
    if isinstance(generator, str) and generator != "layout":
        raise UsageError(f"GoT-R1 generator must be 'layout' (the offline stand-in) or a callable "
                         f"generator(prompt, chain) -> image; got {generator!r}")
    if not isinstance(generator, str) and not callable(generator):
        raise UsageError(f"GoT-R1 generator must be 'layout' or a callable, got {type(generator).__name__}")
    out: list[Any] = [None] * len(chains)
    todo = []
    with _CACHE_LOCK:
        for i, (p, c) in enumerate(zip(prompts, chains)):
            key = _key(generator, p, c)
            if key in _CACHE:
                _CACHE.move_to_end(key)
                out[i] = _CACHE[key]
            else:
                todo.append(i)
    if todo:
        first: dict[tuple, int] = {}          # a GRPO group repeats completions: draw each once
        for i in todo:
            first.setdefault(_key(generator, prompts[i], chains[i]), i)
        unique = list(first.values())
        if generator == "layout":
            made = [layout_image(prompts[i], chains[i]) for i in unique]
        elif hasattr(generator, "generate_many"):
            made = list(generator.generate_many([(prompts[i], chains[i]) for i in unique]))
        else:
            made = [generator(prompts[i], chains[i]) for i in unique]
        with _CACHE_LOCK:
            for i, image in zip(unique, made):
                _CACHE[_key(generator, prompts[i], chains[i])] = image
                while len(_CACHE) > CACHE_SIZE:
                    _CACHE.popitem(last=False)
        by_key = dict(zip(first, made))
        for i in todo:
            out[i] = by_key[_key(generator, prompts[i], chains[i])]
    return out


def image_bytes(image: Any) -> Any:
    """What a judge is shown: a generated image's PNG bytes, anything else as it is."""
    return image.png if isinstance(image, GeneratedImage) else image


# -- grounding ----------------------------------------------------------------------------------

def parse_boxes(parsed: Any, n: int) -> list[list[float] | None] | None:
    """``{"boxes": [[x1, y1, x2, y2] | null, ...]}`` with ``n`` entries on the grid -> the boxes;
    None for anything else (a grounder's unparsable answer is not a score of 0)."""
    boxes = parsed.get("boxes") if isinstance(parsed, dict) else None
    if not isinstance(boxes, list) or len(boxes) != n:
        return None
    out: list[list[float] | None] = []
    for b in boxes:
        if b is None:
            out.append(None)
            continue
        if not (isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                             for v in b)):
            return None
        if not 0 <= b[0] < b[2] <= GRID or not 0 <= b[1] < b[3] <= GRID:
            return None
        out.append([float(v) for v in b])
    return out


class ProfileGrounder:
    """R_RI's grounding model behind an annotator profile (``got_ground.jinja``)."""

    template = "got_ground"

    def __init__(self, profile: str):
        from r1data.rewards.judged import judge_for

        self.model = judge_for(profile, what="GoT-R1 grounder")
        self.model.template(self.template)     # a missing template fails now

    def ground_many(self, items: list[tuple[Any, list[str]]]) -> list[list[list[float] | None] | None]:
        from r1data.rewards.judged import Ask

        asks = [None if image is None or not names else
                Ask(self.template, {"image": image_bytes(image), "names": list(names), "n": len(names)})
                for image, names in items]
        from r1data.rewards.judged import note_unscored

        sizes = [len(names) for _, names in items]
        out = self.model.ask(asks, lambda parsed: parsed)
        boxes = [None if a is None else parse_boxes(a, n) for a, n in zip(out, sizes)]
        # a JSON answer that is not one box (or null) per name is no grounding: counted, never a 0
        note_unscored("unparsable", sum(a is not None and b is None for a, b in zip(out, boxes)))
        return boxes


def layout_grounder(items: list[tuple[Any, list[str]]]) -> list[list[Any] | None]:
    """The ``layout`` stand-in: where the layout generator drew each object."""
    out: list[list[Any] | None] = []
    for image, _ in items:
        if image is None:
            out.append(None)
            continue
        if not isinstance(image, GeneratedImage) or image.drawn is None:
            raise UsageError("the 'layout' grounder reads only the 'layout' generator's images; name a grounding "
                             "profile (grounder='gpt-4o') or pass a callable grounder(image, names)")
        out.append([list(b) if b is not None else None for _, b in image.drawn])
    return out


_GROUNDERS: dict[str, ProfileGrounder] = {}


def resolve_grounder(grounder: Any) -> Callable[[list[tuple[Any, list[str]]]], list[Any]]:
    """A batch grounder ``items -> [boxes per item]`` for a ``grounder`` parameter."""
    if grounder == "layout":
        return layout_grounder
    if isinstance(grounder, str):
        if grounder not in _GROUNDERS:
            _GROUNDERS[grounder] = ProfileGrounder(grounder)
        return _GROUNDERS[grounder].ground_many
    if callable(grounder):
        many = getattr(grounder, "ground_many", None)
        return many if many is not None else (lambda items: [None if im is None else grounder(im, names)
                                                             for im, names in items])
    raise UsageError(f"GoT-R1 grounder must be 'layout', an annotator profile name or path, or a callable "
                     f"grounder(image, names); got {type(grounder).__name__}")


def describe(generator: Any, grounder: Any = None) -> str:
    """What makes and grounds the images (for the manifest, ``r1data eval`` and the card)."""
    gen = ("the 'layout' stand-in (the plan drawn by the tabletop painter; not an image generator)"
           if generator == "layout" else "none (an image column)" if generator is None else "your generator")
    text = f"images: {gen}"
    if grounder is not None:
        grd = ("the 'layout' stand-in (reads back what the stand-in drew)" if grounder == "layout"
               else f"profile {grounder}" if isinstance(grounder, str) else "your grounder")
        text += f"; R_RI boxes: {grd}"
    return text


def to_pil(image: Any) -> Any:
    """A PIL image of anything a generator may return (for tests and previews)."""
    from PIL import Image

    data = image_bytes(image)
    if isinstance(data, bytes):
        return Image.open(io.BytesIO(data))
    return data
