"""Referring expressions of a procedural audio-visual video, and Omni-R1's prompts.

Two families, as Omni-R1 trains on (aim-uofa/Omni-R1 @ 1de42f8, ``load_datasets/refavs.py`` and
``revos.py``):

* ``audio`` (RefAVS-style): the object is named by its sound, "the object that beeps twice"; no
  frame tells it apart, the audio does. Keyframes: the middle of each of its calls.
* ``video`` (ReVOS/MeVIS-style): the object is named by what it does or when, "the object that
  enters last", "the object that gets pushed"; the frames alone tell. Keyframes: four moments
  spread over its time on screen.

Each expression refers to exactly one object; its ``reference`` is the static description a
grounding model can find in one frame ("the red circle"), what System 1 should write in ``<answer>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from r1data.corpora.omni.scene import SOUNDS, AVScript

FAMILIES = ("audio", "video")
PROBLEM_TYPES = {"audio": "refavs", "video": "video-segmentation"}

# Omni-R1's prompts (load_datasets/refavs.py REFAVS_TEMPLATE; revos.py VIDEO_TIMESTAMP_FORCE_TEMPLATE), verbatim
REFAVS_TEMPLATE = (
    "Given a 10-second audio and a reference instruction: [ref_prompt], which involves temporal and audio-related "
    "behavior, first analyze the objects in the image that are producing sound — including both human voices and "
    "instrument sounds. Then, based on the audio content, identify the exact object [ref_prompt] in the image that "
    "matches the audio. Next, simplify the identified object into a short and clear visual grounding description, so "
    "that it can be unambiguously recognized in a single image without relying on audio. Avoid using temporal "
    "expressions (such as 'playing', or 'moving'), and instead describe direct visible visual cues such as clothing, "
    "pose, position, or grouping. Write your reasoning in <think>...</think> and the final result in "
    "<answer>...</answer>."
)
_MOMENT = ('{\n  "start_time": "00:[start%s]",\n  "end_time": "00:[end%s]",\n'
           '  "description": "direct description of referred object(s) at this moment"\n}\n')
VIDEO_FORCE_TEMPLATE = (
    "Given a [frames] seconds video and a reference instruction: [ref_prompt] that may involve temporal behavior, "
    "identify the exact object(s) [ref_prompt] in the video that matches the description. Select about 4 most relevant "
    "moments that contain the referred object(s) with the best view. Then, simplify the identified object into a short "
    "and clear visual grounding description that can be used for single-image reference at each moment. Avoid temporal "
    "phrases and comparison phrases like 'walking', 'moving', 'approaching', 'bigger' or 'smaller', but instead describe "
    "visible visual cues like clothing, pose, position, or grouping. Try to select moments that are **temporally "
    "well-distributed across the video**, rather than clustered in the same part of the timeline. Avoid selecting "
    "multiple timestamps that are adjacent or overlapping; instead, prefer clearly distinct moments that each offer "
    "unique visual information. It's better to choose the most relevant and highly representative moments **spanning "
    "the entire video**, rather than picking all from the beginning. Explain your reasoning in <think>...</think> and "
    "output the final result in <answer>...</answer>. Your final answer should be a JSON object in the following format, "
    "which is an answer containing 4 moments:\n<think> your analysis about the video and reference instruction </think>\n"
    "<answer>\n" + "".join(_MOMENT % (k, k) for k in ("", "1", "2", "3")) + "</answer>\n"
)


def refavs_prompt(expression: str) -> str:
    return REFAVS_TEMPLATE.replace("[ref_prompt]", f"[{expression}]")


def video_prompt(expression: str, n_frames: int, rng: np.random.Generator) -> str:
    """revos.py's forced prompt: the video is ``n_frames / 2`` seconds (Omni-R1 assumes 2 fps over
    the sampled frames) and the example moments are random frame times (start = end, as upstream)."""
    text = VIDEO_FORCE_TEMPLATE.replace("[ref_prompt]", f"[{expression}]").replace("[frames]", str(n_frames / 2))
    for k in ("", "1", "2", "3"):
        start = int(rng.integers(0, max(1, n_frames - 1))) * 0.5
        text = text.replace(f"[start{k}]", f"{start:05.2f}").replace(f"[end{k}]", f"{start:05.2f}")
    return text


@dataclass(frozen=True)
class Expression:
    family: str
    text: str                    # "the object that beeps twice"
    target: int                  # object id
    reference: str               # "the red circle"
    times: tuple[float, ...]     # keyframe times (seconds)
    kind: str                    # which rule made it


def audio_expressions(script: AVScript) -> list[Expression]:
    out = []
    for o in script.motion.objects:
        calls = script.calls_of(o.id)
        if not calls:
            continue
        kind = script.sounds[o.id]
        times = tuple(round((c.start + c.end(kind)) / 2, 3) for c in calls[:4])
        out.append(Expression("audio", f"the object that {SOUNDS[kind][0]}", o.id, script.name(o.id), times,
                              f"sound_{kind}"))
    return out


def spread_times(script: AVScript, oid: int, n: int = 4) -> tuple[float, ...]:
    """``n`` moments spread over an object's time fully on screen (after it entered, before it leaves)."""
    motion = script.motion
    enter = next(e for e in motion.events if e.obj == oid and e.kind == "enter")
    leave = next((e for e in motion.events if e.obj == oid and e.kind == "leave"), None)
    lo, hi = enter.end, (leave.start if leave else motion.duration - 0.5)
    return tuple(round(float(t), 3) for t in np.linspace(lo, hi, n + 2)[1:-1])


def video_expressions(script: AVScript) -> list[Expression]:
    motion = script.motion
    events = motion.events
    out: list[Expression] = []

    def add(text: str, oid: int, kind: str) -> None:
        out.append(Expression("video", text, oid, script.name(oid), spread_times(script, oid), kind))

    enters = [e for e in events if e.kind == "enter"]
    add("the object that enters first", enters[0].obj, "enters_first")
    add("the object that enters last", enters[-1].obj, "enters_last")
    push = next((e for e in events if e.kind == "push"), None)
    if push is not None:
        add("the object that pushes another object", push.obj, "pusher")
        add("the object that gets pushed", push.other, "pushed")  # type: ignore[arg-type]
    leaves = [e for e in events if e.kind == "leave"]
    if leaves:
        add("the object that leaves the frame first", leaves[0].obj, "leaves_first")
    movers = {}
    for e in events:
        if e.kind == "move":
            movers[e.obj] = movers.get(e.obj, 0) + 1
    for count, word in ((1, "once"), (2, "twice")):
        who = [o for o, n in movers.items() if n == count]
        if len(who) == 1:             # unique, or it would refer to several objects
            add(f"the object that moves on its own exactly {word}", who[0], f"moves_{word}")
    return out


def expressions(script: AVScript, family: str) -> list[Expression]:
    if family == "audio":
        return audio_expressions(script)
    if family == "video":
        return video_expressions(script)
    raise ValueError(f"unknown family {family!r} (known: {', '.join(FAMILIES)})")
