"""Zoom-in questions from a procedural video's event log: each answer lies in a short clip.

LOVE-R1 trains on questions whose evidence ("clue intervals", CG-Bench's term) is a few seconds of
a long video: too small to read from the fast view's tiny frames, clear in a zoomed clip. Each
kind below names one happening and asks for a detail of it; the clue is the happening's time span
in the log, exact by construction:

* ``destination``  where an object stopped after its k-th move
* ``next``         what happened right after an event
* ``entry_edge``   through which edge an object came in
* ``exit_edge``    through which edge an object left
* ``move_count``   how many times an object moved on its own (several clues)

Options are four; the distractors are the same kind of statement made false by one change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from r1data.corpora.longvideo.questions import area, clause
from r1data.corpora.longvideo.script import EDGES, REGIONS, Event, Script

KINDS = ("destination", "next", "entry_edge", "exit_edge", "move_count")
LETTERS = "ABCD"
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


@dataclass(frozen=True)
class Clue:
    """One clue interval (seconds) and what happens in it."""

    start: float
    end: float
    event: str


@dataclass(frozen=True)
class ZoomQuestion:
    """A question, its options (texts, in letter order), the answer letter and its clues; ``focus``
    and ``detail`` are what the offline chains of thought say before and after zooming in."""

    kind: str
    question: str
    options: tuple[str, ...]
    answer: str
    clues: tuple[Clue, ...]
    focus: str                      # what the question needs, without giving it away
    detail: str                     # what the clip shows that answers it
    coarse: str = ""                # what the fast view shows, roughly (where to zoom), no answer
    subject: str = ""               # the object asked about (for the reasoning)
    notes: dict = field(default_factory=dict)

    @property
    def answer_text(self) -> str:
        return self.options[LETTERS.index(self.answer)]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _options(rng: np.random.Generator, correct: str, distractors: list[str]) -> tuple[tuple[str, ...], str]:
    pool = list(dict.fromkeys(d for d in distractors if d != correct))
    if len(pool) < 3:
        raise ValueError(f"only {len(pool)} distinct distractors for {correct!r}")
    picked = [pool[int(i)] for i in rng.choice(len(pool), size=3, replace=False)]
    slot = int(rng.integers(4))
    return tuple(picked[:slot] + [correct] + picked[slot:]), LETTERS[slot]


def _clue(script: Script, *events: Event) -> Clue:
    return Clue(round(min(e.start for e in events), 2), round(max(e.end for e in events), 2),
                "; ".join(_cap(clause(script, e, past=True)) for e in events))


def destination(script: Script, rng: np.random.Generator) -> ZoomQuestion:
    moves: dict[int, list[Event]] = {}
    for e in script.events:
        if e.kind == "move":
            moves.setdefault(e.obj, []).append(e)
    if not moves:
        raise ValueError("no object moves on its own")
    oid = sorted(moves)[int(rng.integers(len(moves)))]
    k = int(rng.integers(len(moves[oid])))
    move = moves[oid][k]
    name = script.obj(oid).name
    nth = f" for the {ORDINALS[k]} time" if len(moves[oid]) > 1 else ""
    correct = f"In the {area(move.region)}"
    options, answer = _options(rng, correct, [f"In the {area(r)}" for r in REGIONS if r not in (move.region,)])
    return ZoomQuestion(
        "destination", f"Where did {name} stop after it moved on its own{nth}?", options, answer,
        (_clue(script, move),), focus=f"where {name} came to rest after that move",
        detail=f"{name} moves from the {area(move.origin)} and stops in the {area(move.region)}", subject=name,
        coarse=f"{name} starts moving at about the {int(move.start)}-second mark")


def next_event(script: Script, rng: np.random.Generator) -> ZoomQuestion:
    events = script.events
    i = int(rng.integers(0, len(events) - 1))
    e, nxt = events[i], events[i + 1]
    correct = _cap(clause(script, nxt, past=True))
    others = [_cap(clause(script, x, past=True)) for j, x in enumerate(events) if j not in (i, i + 1)]
    options, answer = _options(rng, correct, others)
    return ZoomQuestion(
        "next", f"What happened right after {clause(script, e, past=True)}?", options, answer,
        (_clue(script, e, nxt),), focus="what the very next happening was after that moment",
        detail=f"{clause(script, e)}, and right after that {clause(script, nxt)}",
        coarse=f"that happens at about the {int(e.start)}-second mark")


def _edge_question(script: Script, rng: np.random.Generator, kind: str) -> ZoomQuestion:
    wanted = "enter" if kind == "entry_edge" else "leave"
    events = [e for e in script.events if e.kind == wanted]
    if not events:
        raise ValueError(f"no {wanted} event")
    e = events[int(rng.integers(len(events)))]
    name = script.obj(e.obj).name
    correct = f"The {e.edge} edge"
    options, answer = _options(rng, correct, [f"The {edge} edge" for edge in EDGES if edge != e.edge])
    verb = "come into" if wanted == "enter" else "leave"
    return ZoomQuestion(
        kind, f"Through which edge of the frame did {name} {verb} the video?", options, answer,
        (_clue(script, e),), focus=f"the side of the frame {name} used to {verb} the scene",
        detail=_cap(clause(script, e)), subject=name,
        coarse=(f"{name} appears at about the {int(e.start)}-second mark" if wanted == "enter"
                else f"{name} is last seen at about the {int(e.end)}-second mark"))


def move_count(script: Script, rng: np.random.Generator) -> ZoomQuestion:
    counts = {o.id: [e for e in script.events if e.kind == "move" and e.obj == o.id] for o in script.objects}
    movers = [oid for oid, ms in counts.items() if ms]
    if not movers:
        raise ValueError("no object moves on its own")
    oid = movers[int(rng.integers(len(movers)))]
    moves = counts[oid]
    name = script.obj(oid).name
    n = len(moves)
    correct = str(n)
    options, answer = _options(rng, correct, [str(v) for v in range(max(0, n - 3), n + 4) if v != n])
    clues = tuple(_clue(script, m) for m in moves)
    return ZoomQuestion(
        "move_count", f"How many times did {name} move from one place to another on its own, not counting "
                      f"its entry and exit?", options, answer, clues,
        focus=f"every time {name} moves by itself", subject=name,
        detail="; ".join(clause(script, m) for m in moves) + f", which is {n} move{'s' if n != 1 else ''}",
        coarse=f"{name} seems to shift around between about {int(moves[0].start)} and {int(moves[-1].end)} seconds")


GENERATORS = {"destination": destination, "next": next_event,
              "entry_edge": lambda s, r: _edge_question(s, r, "entry_edge"),
              "exit_edge": lambda s, r: _edge_question(s, r, "exit_edge"), "move_count": move_count}


def question_from_log(script: Script, kind: str, rng: np.random.Generator) -> ZoomQuestion:
    """A question of ``kind``; ``ValueError`` when the log cannot support one."""
    if kind not in GENERATORS:
        raise ValueError(f"unknown question kind {kind!r} (known: {', '.join(KINDS)})")
    return GENERATORS[kind](script, rng)


def zoom_interval(clues: list[tuple[float, float]], duration: float, pad: float = 2.0,
                  max_span: float = 60.0) -> list[int]:
    """The interval a zoom step asks for: integer seconds around the clues (padded by ``pad``),
    inside [0, int(D)], at least 1 s and at most min(D / 2, ``max_span``) long (LOVE-R1's zoom
    rules); when all the clues do not fit, around the first one (cut to the limit)."""
    limit = int(min(duration / 2, max_span))
    if limit < 1:
        raise ValueError(f"a {duration:.1f} s video is too short to zoom into (LOVE-R1: e - s <= D / 2)")
    end_max = int(duration)

    def around(s: float, e: float) -> list[int]:
        lo, hi = max(0, int(np.floor(s - pad))), min(end_max, int(np.ceil(e + pad)))
        if hi - lo > limit:            # too long: from the clue's own start, cut to the limit
            lo = max(0, min(int(np.floor(s)), end_max - limit))
            hi = lo + limit
        if hi - lo < 1:
            lo, hi = max(0, hi - 1), max(1, hi)
        return [lo, hi]

    s, e = min(c[0] for c in clues), max(c[1] for c in clues)
    whole = around(s, e)
    if whole[1] >= min(end_max, int(np.ceil(e))) or len(clues) == 1:
        return whole
    return around(*clues[0])
