"""The event log of a procedural long video: objects that enter, move, meet, push and leave.

A :class:`Script` is the ground truth a procedural video is rendered from and its questions
are answered from. Events never overlap in time (one thing happens at a time), so "what
happened first" always has one answer. Positions are on a 3 x 3 grid of named regions;
an object's position at any time is a pure function of the log (:meth:`Script.position`).

A script is JSON-serialisable (:meth:`Script.to_json`), so a folder of videos can carry
its ground truth as ``NAME.events.json`` next to ``NAME.mp4``.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import asdict, dataclass, field

import numpy as np

# Region name -> (x, y) centre as fractions of the frame (y grows downward).
REGIONS: dict[str, tuple[float, float]] = {
    "top left": (1 / 6, 1 / 6), "top": (0.5, 1 / 6), "top right": (5 / 6, 1 / 6),
    "left": (1 / 6, 0.5), "center": (0.5, 0.5), "right": (5 / 6, 0.5),
    "bottom left": (1 / 6, 5 / 6), "bottom": (0.5, 5 / 6), "bottom right": (5 / 6, 5 / 6),
}
# Edge name -> the off-screen point an object enters from or leaves to, and the region next to it.
EDGES: dict[str, tuple[tuple[float, float], str]] = {
    "left": ((-0.15, 0.5), "left"), "right": ((1.15, 0.5), "right"),
    "top": ((0.5, -0.15), "top"), "bottom": ((0.5, 1.15), "bottom"),
}
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 50, 47), "green": (70, 180, 70), "blue": (50, 100, 230), "yellow": (235, 205, 40),
    "purple": (150, 80, 190), "orange": (240, 140, 30), "white": (240, 240, 240),
}
SHAPES = ("circle", "square", "triangle")
EVENT_KINDS = ("enter", "move", "meet", "push", "leave")


@dataclass(frozen=True)
class VideoObject:
    id: int
    color: str
    shape: str

    @property
    def name(self) -> str:
        return f"the {self.color} {self.shape}"


@dataclass(frozen=True)
class Event:
    """One scripted happening from ``start`` to ``end`` seconds.

    * ``enter``: ``obj`` comes in through ``edge`` and stops in ``region``
    * ``move``:  ``obj`` goes from ``origin`` to ``region``
    * ``meet``:  ``obj`` goes from ``origin`` to ``other``, which waits in ``region``, and touches it
    * ``push``:  ``obj`` pushes ``other`` from ``origin`` to ``region`` (they travel together)
    * ``leave``: ``obj`` goes from ``origin`` out through ``edge``
    """

    kind: str
    start: float
    end: float
    obj: int
    other: int | None = None
    origin: str | None = None
    region: str | None = None
    edge: str | None = None

    @property
    def middle(self) -> float:
        return (self.start + self.end) / 2


@dataclass
class Script:
    """A procedural video's ground truth: its size, length, objects and ordered events."""

    video_id: str
    duration: float
    objects: list[VideoObject]
    events: list[Event]
    background: tuple[int, int, int] = (30, 34, 40)
    _track_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def obj(self, oid: int) -> VideoObject:
        return self.objects[oid]

    def to_json(self) -> str:
        return json.dumps({"video_id": self.video_id, "duration": self.duration,
                           "background": list(self.background),
                           "objects": [asdict(o) for o in self.objects],
                           "events": [asdict(e) for e in self.events]})

    @classmethod
    def from_json(cls, text: str) -> "Script":
        """Parse :meth:`to_json` output; ``ValueError`` names what is wrong."""
        try:
            d = json.loads(text)
            objects = [VideoObject(int(o["id"]), str(o["color"]), str(o["shape"])) for o in d["objects"]]
            events = [Event(**e) for e in d["events"]]
            script = cls(str(d["video_id"]), float(d["duration"]), objects, events,
                         tuple(d.get("background", (30, 34, 40))))
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"not an event log ({type(e).__name__}: {e})") from None
        for e in script.events:
            if e.kind not in EVENT_KINDS or not 0 <= e.obj < len(objects) or e.end < e.start:
                raise ValueError(f"bad event {e}")
        return script

    # -- where things are -------------------------------------------------------------------
    def track(self, oid: int) -> list[tuple[float, float, float]]:
        """Keyframes ``(t, x, y)`` of an object; before its first and after its last it is off-screen."""
        if oid in self._track_cache:
            return self._track_cache[oid]
        keys: list[tuple[float, float, float]] = []
        for e in self.events:
            if e.obj == oid:
                a, b = self._endpoints(e)
            elif e.other == oid and e.kind == "push":
                # the pushed object travels alongside its pusher, offset towards the destination
                a, b = REGIONS[e.origin], REGIONS[e.region]
            else:
                continue
            if keys and e.kind != "enter":
                a = keys[-1][1:]     # start where it rests (a pusher rests beside what it pushed)
            keys += [(e.start, *a), (e.end, *b)]
        self._track_cache[oid] = keys
        return keys

    def _endpoints(self, e: Event) -> tuple[tuple[float, float], tuple[float, float]]:
        if e.kind == "enter":
            return EDGES[e.edge][0], REGIONS[e.region]
        if e.kind == "leave":
            return REGIONS[e.origin], EDGES[e.edge][0]
        if e.kind == "meet":   # stops beside the other object, touching it
            ox, oy = REGIONS[e.origin]
            tx, ty = REGIONS[e.region]
            d = np.hypot(tx - ox, ty - oy) or 1.0
            gap = 0.14
            return (ox, oy), (tx - (tx - ox) / d * gap, ty - (ty - oy) / d * gap)
        if e.kind == "push":
            ox, oy = REGIONS[e.origin]
            tx, ty = REGIONS[e.region]
            d = np.hypot(tx - ox, ty - oy) or 1.0
            gap = 0.14
            return (ox - (tx - ox) / d * gap, oy - (ty - oy) / d * gap), (tx - (tx - ox) / d * gap,
                                                                          ty - (ty - oy) / d * gap)
        return REGIONS[e.origin], REGIONS[e.region]

    def position(self, oid: int, t: float) -> tuple[float, float] | None:
        """Where an object is at ``t`` (fractions of the frame), or None when not on screen."""
        keys = self.track(oid)
        if not keys or t < keys[0][0] or t > keys[-1][0]:
            return None
        times = self._track_cache.setdefault(("times", oid), [k[0] for k in keys])
        i = max(1, bisect.bisect_left(times, t))     # keys[i - 1].t < t <= keys[i].t
        (t0, x0, y0), (t1, x1, y1) = keys[i - 1], keys[i]
        f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
        return x0 + f * (x1 - x0), y0 + f * (y1 - y0)

    def region_at(self, oid: int, t: float) -> str | None:
        """The named region an object rests in at ``t`` (None while off-screen or moving)."""
        for e in self.events:
            involved = e.obj == oid or (e.kind == "push" and e.other == oid)
            if involved and e.start < t < e.end:
                return None
        last: str | None = None
        for e in self.events:
            if e.end > t:
                break
            if e.obj == oid:
                last = None if e.kind == "leave" else e.region
            elif e.kind == "push" and e.other == oid:
                last = e.region
        return last

    def events_in(self, start: float, end: float) -> list[Event]:
        """Events that overlap ``[start, end)``."""
        return [e for e in self.events if e.start < end and e.end > start]

    def visible_at(self, t: float) -> list[int]:
        return [o.id for o in self.objects if self.position(o.id, t) is not None]


# -- generation ------------------------------------------------------------------------------

def make_script(rng: np.random.Generator, video_id: str, duration: float, n_objects: int = 3) -> Script:
    """A random script of about ``duration`` seconds with ``n_objects`` objects (3 or more).

    Every script holds at least one of each kind of event: all objects enter, one meets
    another and then pushes it somewhere (the goal questions' ground truth), some move on
    their own, and at least one leaves. Events take 3-6 s with 1-3 s of calm between them.
    """
    n_objects = max(3, n_objects)
    pairs = [(c, s) for c in COLORS for s in SHAPES]
    picks = rng.choice(len(pairs), size=n_objects, replace=False)
    colors_used: set[str] = set()
    objects: list[VideoObject] = []
    for i, k in enumerate(picks):
        c, s = pairs[int(k)]
        objects.append(VideoObject(i, c, s))
        colors_used.add(c)
    where: dict[int, str] = {}            # object -> region while on screen
    events: list[Event] = []
    t = float(rng.uniform(0.5, 2.0))

    def free_regions(exclude: int | None = None) -> list[str]:
        taken = {r for o, r in where.items() if o != exclude}
        return [r for r in REGIONS if r not in taken]

    def add(kind: str, obj: int, **kw: object) -> None:
        nonlocal t
        length = float(rng.uniform(3.0, 6.0))
        events.append(Event(kind, round(t, 2), round(t + length, 2), obj, **kw))  # type: ignore[arg-type]
        t = t + length + float(rng.uniform(1.0, 3.0))

    for o in objects:                         # entries, one after another
        edge = str(rng.choice(list(EDGES)))
        near = EDGES[edge][1]
        region = near if near in free_regions() else str(rng.choice(free_regions()))
        add("enter", o.id, edge=edge, region=region)
        where[o.id] = region
    # after the entries, moves until the meet/push pair, then more moves, then leaves
    budget_end = duration - 12.0
    pusher, pushed = (int(x) for x in rng.choice(n_objects, size=2, replace=False))
    n_before = int(rng.integers(0, 3))
    for _ in range(n_before):
        o = int(rng.integers(n_objects))
        dest = str(rng.choice(free_regions(o)))
        if dest != where[o]:
            add("move", o, origin=where[o], region=dest)
            where[o] = dest
    add("meet", pusher, other=pushed, origin=where[pusher], region=where[pushed])
    del where[pusher]                          # beside the pushed one now: its own region is free
    target = str(rng.choice([r for r in free_regions(pushed) if r != where[pushed]]))
    add("push", pusher, other=pushed, origin=where[pushed], region=target)
    where[pushed] = target
    where[pusher] = target                     # they rest together
    while t < budget_end:
        o = int(rng.choice(sorted(where)))
        options = [r for r in free_regions() if r != where[o]]
        if not options:
            break
        dest = str(rng.choice(options))
        origin = where[o]
        add("move", o, origin=origin, region=dest)
        where[o] = dest
    # one or two leave at the end
    for o in [int(x) for x in rng.permutation(sorted(where))[: int(rng.integers(1, 3))]]:
        edge = min(EDGES, key=lambda e: np.hypot(*(np.subtract(EDGES[e][0], REGIONS[where[o]]))))
        add("leave", o, origin=where[o], edge=edge)
        del where[o]
    end = max(duration, events[-1].end + 2.0)
    background = tuple(int(v) for v in rng.integers(20, 60, size=3))
    return Script(video_id, round(end, 2), objects, events, background)  # type: ignore[arg-type]
