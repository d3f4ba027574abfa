"""GoT-R1 rewards: R = R_PI x (R_sem + R_spa) x R_RI.

Source: ``gogoduan/GoT-R1`` README (no reward code, judge or prompts were released).
R_sem (prompt -> reasoning, semantic fidelity), R_spa (prompt -> reasoning, spatial layout,
judged on the planned boxes drawn on a blank canvas) and R_PI (prompt -> generated image) are
scores from a multimodal judge; R_RI (reasoning -> image) is the IoU of the planned boxes
with the boxes a grounding model finds in the generated image.

The judge is the ``judge`` parameter: ``"rule"`` (the default, offline) is :func:`rule_judge`,
a deterministic stand-in for tests and dry runs, not a quality measure; any other string is an
annotator profile name or path (``judge="gpt-4o"``), whose model is asked with the
``got_judge_*.jinja`` templates (:mod:`r1data.rewards.got_judge`); a callable following
:class:`Judge` is used as it is. A judge may return None (no score for that row: the term
and the total are None there).

The image each completion is scored on is that completion's own: ``generator`` makes it from the
completion (``"layout"``, the offline stand-in, or your model as a callable) and ``grounder`` finds
its objects for R_RI (``"layout"``, a grounding profile, or a callable); see
:mod:`r1data.rewards.got_image`. During GRPO this is how the rollout's image reaches the reward.

Columns (all optional overrides): ``image`` (an image already generated for the row, used where
given), ``grounded_boxes`` (one box per planned box, same order, on the same 0-1000 grid; None
for an object the grounder did not find), and ``caption`` (the text prompt; else the prompt
itself is used). Without a generator, R_PI and R_RI read only these columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from r1data.errors import UsageError
from r1data.geometry import box_iou, box_iou_matrix
from r1data.parsing import completion_text, parse_got_plan
from r1data.rewards._core import optional_column, reward, texts

PAPER = "GoT-R1 (gogoduan/GoT-R1 README); judge and prompts not released"
KINDS = ("semantic", "spatial", "prompt_image")
GRID = 1000


class Judge(Protocol):
    """``judge(kind, prompt, reasoning, image) -> float in [0, 1] | None``.

    ``kind`` is one of :data:`KINDS`; ``image`` is None for "semantic", the layout canvas
    (a PIL image of the planned boxes) for "spatial", and the generated image for
    "prompt_image". None means no score for that row. Errors propagate: retry inside the
    judge if it calls an API. A judge may also offer ``score_many(items)`` over
    ``(kind, prompt, reasoning, image)`` tuples; the rewards then ask it once per batch."""

    def __call__(self, kind: str, prompt: str, reasoning: str, image: Any) -> float | None: ...


_WORD = re.compile(r"[a-z]+")
_STOP = {"a", "an", "the", "of", "in", "on", "and", "with", "to", "is", "are", "at", "by", "for", "its", "it"}


def rule_judge(kind: str, prompt: str, reasoning: str, image: Any) -> float:
    """A deterministic judge: semantic = share of the prompt's content words in the reasoning;
    spatial = share of planned boxes that are valid on the grid; prompt_image = 1 when an
    image is given."""
    if kind == "semantic":
        want = {w for w in _WORD.findall(prompt.lower()) if w not in _STOP}
        have = set(_WORD.findall(reasoning.lower()))
        return len(want & have) / len(want) if want else 0.0
    if kind == "spatial":
        plan = parse_got_plan(reasoning)
        ok = [0 <= b[0] < b[2] <= GRID and 0 <= b[1] < b[3] <= GRID for _, b in plan]
        return float(np.mean(ok)) if ok else 0.0
    if kind == "prompt_image":
        return 1.0 if image is not None else 0.0
    raise ValueError(f"unknown judge kind {kind!r} (kinds: {', '.join(KINDS)})")


def layout_canvas(plan: list[tuple[str, list[float]]], size: int = 384) -> Any:
    """The planned boxes drawn with their names on a white square (what the spatial judge sees)."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(im)
    for name, (x1, y1, x2, y2) in plan:
        box = [v / GRID * size for v in (x1, y1, x2, y2)]
        if box[2] > box[0] and box[3] > box[1]:
            draw.rectangle(box, outline="red", width=2)
            draw.text((box[0] + 3, box[1] + 2), name[:30], fill="black")
    return im


def prompt_text(prompt: Any) -> str:
    """A prompt as text: a string, or the user turns of a conversation."""
    if prompt is None:
        return ""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        return " ".join(completion_text([{**m, "role": "assistant"}]) for m in prompt
                        if isinstance(m, dict) and m.get("role") == "user")
    return str(prompt)


def region_iou(reasoning: str, grounded: Any) -> float:
    """R_RI: mean over planned boxes of the IoU with its grounded box (aligned by position when
    the counts agree, else the best one-to-one pairs); 0 without a plan."""
    plan = [b for _, b in parse_got_plan(reasoning)]
    if not plan:
        return 0.0
    found = list(grounded or [])
    planned = np.asarray(plan, dtype=np.float64)
    if len(found) == len(plan):
        ious = [0.0 if g is None else float(box_iou(p, g)[0]) for p, g in zip(planned, found)]
        return float(np.mean(ious))
    real = [g for g in found if g is not None]
    if not real:
        return 0.0
    m = box_iou_matrix(planned, np.asarray(real, dtype=np.float64))
    total, used_p, used_g = 0.0, set(), set()
    for flat in np.argsort(-m, axis=None):
        i, j = divmod(int(flat), m.shape[1])
        if i not in used_p and j not in used_g:
            total += m[i, j]
            used_p.add(i)
            used_g.add(j)
    return total / len(plan)


JudgeParam = Judge | str | None


def resolve_judge(judge: JudgeParam) -> Callable:
    """The judge a ``judge`` parameter names: ``"rule"`` (or None) is :func:`rule_judge`, any
    other string an annotator profile (:func:`r1data.rewards.got_judge.profile_judge`), a
    callable itself."""
    if judge is None or judge == "rule":
        return rule_judge
    if isinstance(judge, str):
        from r1data.rewards.got_judge import profile_judge

        return profile_judge(judge)
    if not callable(judge):
        raise UsageError(f"GoT-R1 judge must be 'rule', an annotator profile name or path, or a callable "
                         f"judge(kind, prompt, reasoning, image); got {type(judge).__name__}")
    return judge


def _prompts(name: str, prompts: Any, completions: Any, caption: Any) -> tuple[list[str], list[str]]:
    """(prompt text, completion text) per completion."""
    t = texts(completions)
    n = len(t)
    prompts = list(prompts) if prompts is not None else [None] * n
    caps = optional_column(caption, n, "caption", name)
    return [caps[i] or prompt_text(prompts[i]) for i in range(n)], t


def _images(name: str, prompts: Any, completions: Any, caption: Any, image: Any, generator: Any) -> list[Any]:
    """Each completion's image: the ``image`` column where it holds one, else the generator's
    image of that completion (None without a generator)."""
    from r1data.rewards.got_image import generate_images

    ps, t = _prompts(name, prompts, completions, caption)
    imgs = optional_column(image, len(t), "image", name)
    need = [i for i, img in enumerate(imgs) if img is None]
    if need and generator is not None:
        made = generate_images(generator, [ps[i] for i in need], [t[i] for i in need])
        for i, img in zip(need, made):
            imgs[i] = img
    return imgs


def _items(kind: str, name: str, prompts: Any, completions: Any, caption: Any,
           image: Any, generator: Any = None) -> list[tuple[str, str, str, Any]]:
    """One ``(kind, prompt, reasoning, image)`` judge item per completion."""
    from r1data.rewards.got_image import image_bytes

    ps, t = _prompts(name, prompts, completions, caption)
    imgs = _images(name, prompts, completions, caption, image, generator) if kind == "prompt_image" else []
    out = []
    for i, text in enumerate(t):
        if kind == "spatial":
            img = layout_canvas(parse_got_plan(text))
        else:
            img = image_bytes(imgs[i]) if kind == "prompt_image" else None
        out.append((kind, ps[i], text, img))
    return out


def _ask(judge: JudgeParam, items: list[tuple[str, str, str, Any]]) -> list[float | None]:
    """Scores of the items, clipped to [0, 1]; one batch for a judge with ``score_many``."""
    fn = resolve_judge(judge)
    many = getattr(fn, "score_many", None)
    raw = many(items) if many is not None else [fn(*item) for item in items]
    return [None if v is None else float(np.clip(v, 0.0, 1.0)) for v in raw]


def _judged(kind: str, name: str, prompts: Any, completions: Any, judge: JudgeParam,
            caption: Any, image: Any) -> list[float | None]:
    return _ask(judge, _items(kind, name, prompts, completions, caption, image))


@reward("got.semantic", columns=("caption",), paper=PAPER, rule_based=False)
def semantic(prompts: Any = None, completions: Any = (), *, caption: Any = None, judge: JudgeParam = "rule",
             **_: Any) -> list[float | None]:
    """R_sem: the judge's score of the reasoning's fidelity to the prompt.

    ``judge``: "rule" (offline stand-in), an annotator profile name or path ("gpt-4o"), or a
    callable; None where the judge gives no score."""
    return _judged("semantic", "got.semantic", prompts, completions, judge, caption, None)


@reward("got.spatial", columns=("caption",), paper=PAPER, rule_based=False)
def spatial(prompts: Any = None, completions: Any = (), *, caption: Any = None, judge: JudgeParam = "rule",
            **_: Any) -> list[float | None]:
    """R_spa: the judge's score of the planned layout (drawn on a canvas) against the prompt.

    ``judge`` as for got.semantic; the judge sees the canvas from :func:`layout_canvas`."""
    return _judged("spatial", "got.spatial", prompts, completions, judge, caption, None)


def _region_backend(params: dict[str, Any]) -> str:
    from r1data.rewards.got_image import describe

    return describe(params.get("generator"), params.get("grounder"))


def _backend(params: dict[str, Any]) -> str:
    from r1data.rewards.got_image import describe

    judge = params.get("judge", "rule")
    who = ("the 'rule' judge (offline stand-in; not a quality measure)" if judge in (None, "rule")
           else f"judge profile {judge}" if isinstance(judge, str) else "your judge")
    return f"{who}; {describe(params.get('generator'), params.get('grounder'))}"


# `image` and `grounded_boxes` are keyword overrides, not dataset columns: the image a completion is
# scored on comes from that completion (the generator), so training never asks a build for one
@reward("got.prompt_image", columns=("caption",), paper=PAPER, rule_based=False, backend=_backend)
def prompt_image(prompts: Any = None, completions: Any = (), *, caption: Any = None, image: Any = None,
                 judge: JudgeParam = "rule", generator: Any = None, **_: Any) -> list[float | None]:
    """R_PI: the judge's score of each completion's generated image against the prompt.

    The image: the ``image`` column where given, else ``generator``'s image of the completion
    ("layout": the offline stand-in; a callable: your model). ``judge`` as for got.semantic; a
    profile judge scores None for a row without an image."""
    return _ask(judge, _items("prompt_image", "got.prompt_image", prompts, completions, caption, image, generator))


def ground(prompts: Any, completions: Any, caption: Any, image: Any, grounded_boxes: Any, generator: Any,
           grounder: Any, name: str) -> list[Any]:
    """Per completion, the boxes grounded for its planned objects: the ``grounded_boxes`` column
    where given, else ``grounder``'s boxes in the completion's image (None where neither)."""
    from r1data.rewards.got_image import resolve_grounder

    t = texts(completions)
    grounded = optional_column(grounded_boxes, len(t), "grounded_boxes", name)
    need = [i for i, g in enumerate(grounded) if g is None and parse_got_plan(t[i])]
    if not need or grounder is None or (generator is None and image is None):
        return grounded
    imgs = _images(name, prompts, completions, caption, image, generator)
    found = resolve_grounder(grounder)([(imgs[i], [n for n, _ in parse_got_plan(t[i])]) for i in need])
    for i, boxes in zip(need, found):
        grounded[i] = boxes
    return grounded


@reward("got.region", columns=(), paper=PAPER, rule_based=False, backend=_region_backend)
def region(prompts: Any = None, completions: Any = (), *, grounded_boxes: Any = None, caption: Any = None,
           image: Any = None, generator: Any = None, grounder: Any = None, **_: Any) -> list[float | None]:
    """R_RI: IoU of the planned ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` boxes (0-1000 grid)
    with the boxes grounded in the completion's image: the ``grounded_boxes`` column where given,
    else ``grounder`` ("layout", a profile, a callable) on ``generator``'s image of the
    completion. None for rows with neither."""
    t = texts(completions)
    grounded = ground(prompts, completions, caption, image, grounded_boxes, generator, grounder, "got.region")
    out: list[float | None] = []
    # the common case, one grounded box per planned box, is scored for the whole batch at once
    rows, planned, found, counts = [], [], [], []
    for i, (text, g) in enumerate(zip(t, grounded)):
        if g is None:
            out.append(None)
            continue
        plan = [b for _, b in parse_got_plan(text)]
        g = list(g)
        if plan and len(g) == len(plan):
            out.append(0.0)
            for p, box in zip(plan, g):
                rows.append(i)
                planned.append(p)
                found.append(box if box is not None else [0.0, 0.0, 0.0, 0.0])   # not found: IoU 0
            counts.append((i, len(plan)))
        else:
            out.append(region_iou(text, g))
    if rows:
        ious = box_iou(np.asarray(planned, dtype=np.float64), np.asarray(found, dtype=np.float64))
        sums = np.bincount(np.asarray(rows), weights=ious, minlength=len(out))
        for i, k in counts:
            out[i] = float(sums[i] / k)
    return out


@reward("got.total", columns=("caption",), paper=PAPER, rule_based=False, backend=_backend)
def total(prompts: Any = None, completions: Any = (), *, caption: Any = None, image: Any = None,
          grounded_boxes: Any = None, judge: JudgeParam = "rule", generator: Any = None, grounder: Any = None,
          **_: Any) -> list[float | None]:
    """R_PI x (R_sem + R_spa) x R_RI, in [0, 2]; None where R_RI does not apply or the judge
    gave no score for one of its terms.

    ``judge`` as for got.semantic; ``generator`` and ``grounder`` as for got.prompt_image and
    got.region (each completion's image is made once); the three judged terms of the batch go to
    the judge as one batch (one concurrent round of requests for a profile judge)."""
    r_ri = region(prompts, completions, grounded_boxes=grounded_boxes, caption=caption, image=image,
                  generator=generator, grounder=grounder)
    rows = [i for i, ri in enumerate(r_ri) if ri is not None]     # the judge is not asked about the rest
    per_kind = [_items(kind, f"got.{kind}", prompts, completions, caption, image, generator) for kind in KINDS]
    scores = _ask(judge, [per_kind[k][i] for k in range(len(KINDS)) for i in rows])
    m = len(rows)
    out: list[float | None] = [None] * len(r_ri)
    for j, i in enumerate(rows):
        sem, spa, pi = scores[j], scores[m + j], scores[2 * m + j]
        if sem is not None and spa is not None and pi is not None:
            out[i] = pi * (sem + spa) * r_ri[i]
    return out
