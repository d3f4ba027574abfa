"""Omni-R1's System 2: the policy's ``<answer>`` grounded by another model, scored by box IoU.

Omni-R1 (aim-uofa/Omni-R1 @ 1de42f8, ``reward.py`` ``refavs_reward`` and ``load_datasets/refavs.py``)
does not reward a box the policy writes. The policy (System 1) rewrites the audio-visual expression
as a short static description in ``<answer>``; a frozen grounding model (System 2: the reference
model, or a vLLM server) is asked ``Please find the bounding box of '{answer}' with json format`` on
the keyframe, the first ``{...}`` of its reply is read for ``bbox_2d``, and the reward is that box's
IoU with the ground-truth box (boxes counted in whole pixels, +1 on each side, as upstream). An empty
``<answer>`` scores 0, as does a grounder reply without a readable ``bbox_2d``.

``grounder`` names System 2:

* an annotator profile (``vllm-local`` serving Qwen2.5-VL, ``gpt-4o``, a path to a profile): asked
  through :mod:`r1data.rewards.judged` (one concurrent batch per reward call, the response cache,
  the profile's limits and timeout); a call that fails or times out scores None for that row, counted
  with its reason, never 0. Template: ``annotators/templates/omni_grounding.jinja``. ``coords``:
  ``original`` when the model answers in the image's pixels, ``resized`` for Qwen2.5-VL's
  smart-resized frame (what Omni-R1 compares against);
* ``standin``: **the offline stand-in grounder, not a model**. It finds the object whose colour and
  shape words the description names among the procedural scene's objects (the row's
  ``keyframe_objects``) and returns its box; anything else (no object or several) is no box. It
  exists so that tests and offline builds can run the reward; it says nothing about a real grounder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from r1data.errors import UsageError
from r1data.geometry import smart_resize
from r1data.rewards._core import column, optional_column, reward, texts

PAPER = "Omni-R1 (aim-uofa/Omni-R1 @ 1de42f8), src/omni_r1/reward.py refavs_reward, load_datasets/refavs.py"
TEMPLATE = "omni_grounding"
STANDIN = "standin"
NO_BOX = [-1.0, -1.0, -1.0, -1.0]
_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)
_JSON = re.compile(r"({[\s\S]*?})")


def extract_answer(text: str) -> str:
    """reward.py ``extract_answer``: the stripped text of the first ``<answer>``, "" without one."""
    m = _ANSWER.search(text)
    return m.group(1).strip() if m else ""


def grounding_text(description: str) -> str:
    """refavs_grounding_prompt's request for the grounder."""
    return "Please find the bounding box of '{}' with json format".format(description.lower().strip())


def read_bbox(reply: str) -> list[float]:
    """The ``bbox_2d`` of the first ``{...}`` of a grounder's reply; :data:`NO_BOX` when there is none."""
    m = _JSON.search(reply or "")
    try:
        value = json.loads(m.group(0))["bbox_2d"] if m else None
    except (ValueError, KeyError, TypeError):
        value = None
    if not (isinstance(value, list) and len(value) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        return list(NO_BOX)
    return [float(v) for v in value]


def iou_plus_one(pred: list[float], gt: list[float]) -> float:
    """refavs.py ``iou``: inclusive pixel boxes, widths ``x2 - x1 + 1``."""
    iw = max(0.0, min(pred[2], gt[2]) - max(pred[0], gt[0]) + 1)
    ih = max(0.0, min(pred[3], gt[3]) - max(pred[1], gt[1]) + 1)
    inter = iw * ih
    union = (pred[2] - pred[0] + 1) * (pred[3] - pred[1] + 1) + (gt[2] - gt[0] + 1) * (gt[3] - gt[1] + 1) - inter
    return float(inter / union) if union > 0 else 0.0


class StandInGrounder:
    """The offline stand-in for System 2 (see the module docstring): words against the scene's objects."""

    what = "r1data stand-in grounder (rule-based: colour and shape words against the procedural scene's objects; not a model)"

    def ground(self, items: list[tuple[Any, str, Any]]) -> list[list[float] | None]:
        """``(image, description, objects)`` -> a box in the image's pixels, or :data:`NO_BOX`."""
        out = []
        for _, description, objects in items:
            words = set(re.findall(r"[a-z]+", description.lower()))
            hits = [o for o in objects or [] if set(str(o["name"]).split()[1:]) <= words]
            if len(hits) != 1:
                out.append(list(NO_BOX))
                continue
            x1, y1, x2, y2 = (float(v) for v in hits[0]["box"])
            out.append([x1, y1, x2 - 1, y2 - 1])     # on the last pixel, as refavs.py's generate_bbox
        return out


class ProfileGrounder:
    """System 2 behind an annotator profile, asked through :func:`r1data.rewards.judged.judge_for`."""

    def __init__(self, profile: str | Path):
        from r1data.rewards.judged import judge_for

        self.model = judge_for(profile, what="omni grounder")
        self.model.template(TEMPLATE)          # a missing template fails now, not at the first batch
        self.what = f"grounding model {self.model.profile.model} (profile {self.model.profile.name})"

    def ground(self, items: list[tuple[Any, str, Any]]) -> list[list[float] | None]:
        from r1data.rewards.judged import Ask

        asks = [Ask(TEMPLATE, {"image": image, "request": grounding_text(description)})
                for image, description, _ in items]
        return self.model.ask(asks, lambda parsed: read_bbox(parsed if isinstance(parsed, str) else json.dumps(parsed)))


_GROUNDERS: dict[str, Any] = {}


def grounder_for(name: Any) -> Any:
    """``standin``, an annotator profile name or path, or an object with ``ground(items)``."""
    if hasattr(name, "ground"):
        return name
    if not isinstance(name, str) or not name:
        raise UsageError(f"omni grounder: expected 'standin' or an annotator profile, got {name!r}")
    if name == STANDIN:
        return StandInGrounder()
    if name not in _GROUNDERS:
        _GROUNDERS[name] = ProfileGrounder(name)
    return _GROUNDERS[name]


def _backend(params: dict[str, Any]) -> str:
    name = params.get("grounder", STANDIN)
    if name == STANDIN:
        return StandInGrounder.what
    return f"grounding model behind the annotator profile {name!r}"


@reward("omni.grounded_iou", columns=("problem_type", "keyframe_image", "bbox", "width", "height", "keyframe_objects"),
        paper=PAPER, rule_based=False, backend=_backend)
def grounded_iou(prompts: Any = None, completions: Any = (), *, problem_type: Any = None, keyframe_image: Any = None,
                 bbox: Any = None, width: Any = None, height: Any = None, keyframe_objects: Any = None,
                 grounder: Any = STANDIN, coords: str = "original", min_pixels: int = 3136,
                 max_pixels: int = 12845056, **_: Any) -> list[float | None]:
    """IoU of what System 2 grounds the ``<answer>`` to on the keyframe with the target's box (RefAVS
    rows, ``problem_type`` refavs; None for the others). 0 for an empty answer or a reply without a box;
    None where the grounder could not be asked (counted)."""
    if coords not in ("original", "resized"):
        raise ValueError(f"coords must be 'original' or 'resized', got {coords!r}")
    t = texts(completions)
    n = len(t)
    kinds = column(problem_type, n, "problem_type", "omni.grounded_iou")
    gts = column(bbox, n, "bbox", "omni.grounded_iou")
    images = optional_column(keyframe_image, n, "keyframe_image", "omni.grounded_iou")
    objects = optional_column(keyframe_objects, n, "keyframe_objects", "omni.grounded_iou")
    ws, hs = optional_column(width, n, "width", "omni.grounded_iou"), optional_column(height, n, "height", "omni.grounded_iou")
    out: list[float | None] = [None] * n
    asked, items = [], []
    for i, text in enumerate(t):
        if kinds[i] != "refavs" or gts[i] is None:
            continue
        answer = extract_answer(text)
        if not answer:
            out[i] = 0.0
            continue
        asked.append(i)
        items.append((images[i], answer, objects[i]))
    if not items:
        return out
    system2 = grounder_for(grounder)
    for i, box in zip(asked, system2.ground(items)):
        if box is None:
            continue                       # the grounder was not reachable: counted by judged.py
        gt = [float(v) for v in gts[i]]
        if coords == "resized" and box != NO_BOX:
            h_bar, w_bar = smart_resize(int(hs[i]), int(ws[i]), 28, min_pixels, max_pixels)
            box = [box[0] * ws[i] / w_bar, box[1] * hs[i] / h_bar, box[2] * ws[i] / w_bar, box[3] * hs[i] / h_bar]
        # our boxes end one past the last pixel, refavs.py's on it; NO_BOX overlaps nothing
        out[i] = iou_plus_one(box, [gt[0], gt[1], gt[2] - 1, gt[3] - 1])
    return out
