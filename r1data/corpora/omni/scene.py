"""The ground truth of a procedural audio-visual video: moving objects that make distinct sounds.

An :class:`AVScript` is a longvideo :class:`~r1data.corpora.longvideo.script.Script` (objects that
enter, move, meet, push and leave, one event at a time) plus a sound for each object: a signature
no other object of the video has (beeps counted, a low or a high tone, a hiss, a rising whistle)
and the times it sounds (``calls``), each while the object is on screen. Expressions that name an
object by its sound need the audio (RefAVS-style); those that name it by what it does need only the
frames (ReVOS/MeVIS-style). Everything is exact: who sounds when, where each object is in every
frame (:mod:`r1data.corpora.omni.render` draws it and its mask).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from r1data.corpora.longvideo.script import Script, make_script

# signature kind -> (how an expression says it, the sound's length in seconds)
SOUNDS: dict[str, tuple[str, float]] = {
    "beep1": ("beeps once", 0.3),
    "beep2": ("beeps twice", 0.6),
    "beep3": ("beeps three times", 0.9),
    "low_tone": ("hums a low tone", 1.0),
    "high_tone": ("whistles a high note", 1.0),
    "hiss": ("hisses", 0.8),
    "sweep": ("makes a whistle that rises in pitch", 1.0),
}


@dataclass(frozen=True)
class Call:
    """One sound of an object, from ``start`` for the signature's length."""

    obj: int
    start: float

    def end(self, kind: str) -> float:
        return round(self.start + SOUNDS[kind][1], 3)


@dataclass
class AVScript:
    """A motion script, each object's sound signature (``sounds[i]`` is object i's) and its calls."""

    motion: Script
    sounds: list[str]
    calls: list[Call]

    @property
    def video_id(self) -> str:
        return self.motion.video_id

    @property
    def duration(self) -> float:
        return self.motion.duration

    def name(self, oid: int) -> str:
        return self.motion.obj(oid).name

    def calls_of(self, oid: int) -> list[Call]:
        return [c for c in self.calls if c.obj == oid]

    def spans(self) -> list[dict]:
        """Every call as ``{start, end, sound}`` (seconds; "the red circle: beeps twice"), in time order."""
        return [{"start": c.start, "end": c.end(self.sounds[c.obj]),
                 "sound": f"{self.name(c.obj)}: {SOUNDS[self.sounds[c.obj]][0]}"}
                for c in sorted(self.calls, key=lambda c: c.start)]

    def to_json(self) -> str:
        return json.dumps({"motion": json.loads(self.motion.to_json()), "sounds": self.sounds,
                           "calls": [asdict(c) for c in self.calls]})

    @classmethod
    def from_json(cls, text: str) -> "AVScript":
        d = json.loads(text)
        return cls(Script.from_json(json.dumps(d["motion"])), list(d["sounds"]),
                   [Call(int(c["obj"]), float(c["start"])) for c in d["calls"]])


def visible_span(script: Script, oid: int) -> tuple[float, float] | None:
    keys = script.track(oid)
    if not keys:
        return None
    return keys[0][0], keys[-1][0]


def make_av_script(rng: np.random.Generator, video_id: str, duration: float, n_objects: int,
                   calls_per_object: tuple[int, int] = (1, 3)) -> AVScript:
    """A motion script with a distinct sound for each object and 1-3 calls each, every call while
    its object is on screen (fully entered, not yet leaving) and no two calls overlapping."""
    motion = make_script(rng, video_id, duration, n_objects)
    kinds = [str(k) for k in rng.permutation(list(SOUNDS))[: len(motion.objects)]]
    taken: list[tuple[float, float]] = []
    calls: list[Call] = []
    for o in motion.objects:
        enter = next(e for e in motion.events if e.obj == o.id and e.kind == "enter")
        leave = next((e for e in motion.events if e.obj == o.id and e.kind == "leave"), None)
        lo, hi = enter.end + 0.2, (leave.start if leave else motion.duration) - SOUNDS[kinds[o.id]][1] - 0.2
        want = int(rng.integers(calls_per_object[0], calls_per_object[1] + 1))
        for _ in range(40):             # rejection sampling of free moments
            if sum(c.obj == o.id for c in calls) >= want or hi <= lo:
                break
            start = round(float(rng.uniform(lo, hi)), 2)
            end = start + SOUNDS[kinds[o.id]][1]
            if all(end + 0.3 <= s or start >= e + 0.3 for s, e in taken):
                taken.append((start, end))
                calls.append(Call(o.id, start))
    return AVScript(motion, kinds, sorted(calls, key=lambda c: c.start))


# -- the sounds ------------------------------------------------------------------------------------

def synthesize(kind: str, sr: int) -> np.ndarray:
    """One call of a signature as float32 samples in [-1, 1] (10 ms fades against clicks)."""
    n = int(round(SOUNDS[kind][1] * sr))
    t = np.arange(n, dtype=np.float32) / sr
    if kind.startswith("beep"):
        wave = np.sin(2 * np.pi * 880.0 * t)
        on = (t % 0.3) < 0.15                   # 0.15 s beeps, 0.15 s apart
        wave = wave * on
    elif kind == "low_tone":
        wave = np.sin(2 * np.pi * 220.0 * t)
    elif kind == "high_tone":
        wave = np.sin(2 * np.pi * 1320.0 * t)
    elif kind == "hiss":
        wave = np.random.default_rng(n).uniform(-1.0, 1.0, n)    # fixed noise: the same bytes every build
    elif kind == "sweep":
        f0, f1, length = 400.0, 1600.0, SOUNDS[kind][1]
        wave = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * length)))
    else:
        raise ValueError(f"unknown sound {kind!r}")
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    return (0.4 * wave * fade).astype(np.float32)


def object_track(script: AVScript, oid: int, sr: int) -> np.ndarray:
    """The whole video's samples of one object's sound (silence between its calls)."""
    out = np.zeros(int(round(script.duration * sr)) + 1, np.float32)
    one = synthesize(script.sounds[oid], sr)
    for c in script.calls_of(oid):
        i = int(round(c.start * sr))
        seg = one[: max(0, min(len(one), len(out) - i))]
        out[i:i + len(seg)] += seg
    return out
