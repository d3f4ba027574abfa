"""Captions and four-option questions derived from a procedural video's event log.

What an LLM does from merged captions in LongVideo-Reason, done here from ground truth:
each clip's caption lists what happens in it, and each question category has a generator
whose answer follows from the log and whose reasons cite the clips that show it:

* ``temporal``: the order of three events, or what happened right after an event
* ``goal``:     why an object went over to another (to push it somewhere)
* ``spatial``:  where an object was while something else happened
* ``plot``:     which summary of the whole video is right

Distractors are the same kind of statement made false by one change (another order,
another region, another object), so telling them apart takes the log.
"""

from __future__ import annotations

import itertools

import numpy as np

from r1data.corpora.longvideo.qa_format import LETTERS, ParsedQA, ReasonGroup
from r1data.corpora.longvideo.script import EDGES, REGIONS, Event, Script

CATEGORIES = ("temporal", "goal", "spatial", "plot")
# The sentence LongVideo-Reason's step-4 prompt swaps per category (only the goal one is
# published verbatim; the other three follow its wording).
CATEGORY_SENTENCES = {
    "temporal": "The question should be related to Temporal Reasoning.",
    "goal": "The question should be related to Goal and Intention Reasoning.",
    "spatial": "The question should be related to Spatial Reasoning.",
    "plot": "The question should be related to Plot Understanding and Reasoning.",
}


def area(region: str) -> str:
    return "center" if region == "center" else f"{region} area"


def clause(script: Script, e: Event, past: bool = False) -> str:
    """What happens in an event, in the present (captions) or the past (questions)."""
    x = script.obj(e.obj).name
    y = script.obj(e.other).name if e.other is not None else ""

    def v(present: str, pastform: str) -> str:
        return pastform if past else present

    if e.kind == "enter":
        return f"{x} {v('enters', 'entered')} from the {e.edge} edge and {v('stops', 'stopped')} in the {area(e.region)}"
    if e.kind == "move":
        return f"{x} {v('moves', 'moved')} from the {area(e.origin)} to the {area(e.region)}"
    if e.kind == "meet":
        return f"{x} {v('goes', 'went')} over to {y} in the {area(e.region)} and {v('touches', 'touched')} it"
    if e.kind == "push":
        return f"{x} {v('pushes', 'pushed')} {y} from the {area(e.origin)} to the {area(e.region)}"
    return f"{x} {v('leaves', 'left')} the frame through the {e.edge} edge"


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:].rstrip(".") + "."


def caption_clip(script: Script, start: float, end: float) -> str:
    """The caption of clip ``[start, end)``: its events in order, then who rests where."""
    parts = []
    for e in script.events_in(start, end):
        text = clause(script, e)
        if e.start < start:
            text = "continuing from before, " + text
        parts.append(sentence(text))
    moving = {o for e in script.events_in(start, end) for o in (e.obj, e.other) if o is not None}
    resting = []
    for o in script.objects:
        if o.id in moving:
            continue
        r = script.region_at(o.id, (start + end) / 2)
        if r is not None:
            resting.append(f"{o.name} rests in the {area(r)}")
    if resting:
        parts.append(sentence(", ".join(resting)))
    if not parts:
        return "The frame is empty: a plain dark background with no objects."
    return " ".join(parts)


class _Spans:
    """Maps event times to the clip spans their reasons are grouped under."""

    def __init__(self, spans: list[tuple[float, float]]):
        self.spans = spans

    def of(self, e: Event) -> tuple[float, float]:
        first = next((s for s in self.spans if s[0] <= e.start < s[1]), self.spans[-1])
        last = next((s for s in self.spans if s[0] < e.end <= s[1]), self.spans[-1])
        return first[0], max(first[1], last[1])


def _groups(items: list[tuple[tuple[float, float], str]], conclusion: str) -> tuple[ReasonGroup, ...]:
    """Reasons grouped by span in time order; the conclusion joins the last group."""
    by_span: dict[tuple[float, float], list[str]] = {}
    for span, reason in sorted(items, key=lambda x: x[0]):
        by_span.setdefault(span, []).append(reason)
    spans = sorted(by_span)
    by_span[spans[-1]].append(conclusion)
    return tuple(ReasonGroup(s[0], s[1], tuple(sentence(r) for r in by_span[s])) for s in spans)


def _options(rng: np.random.Generator, correct: str, distractors: list[str]) -> tuple[dict[str, str], str]:
    """Four distinct options, the correct one at a random letter; ValueError when too few."""
    pool = list(dict.fromkeys(d for d in distractors if d != correct))
    if len(pool) < 3:
        raise ValueError(f"only {len(pool)} distinct distractors for {correct!r}")
    picked = [pool[int(i)] for i in rng.choice(len(pool), size=3, replace=False)]
    slot = int(rng.integers(4))
    texts = picked[:slot] + [correct] + picked[slot:]
    return dict(zip(LETTERS, texts)), LETTERS[slot]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def temporal(script: Script, spans: _Spans, rng: np.random.Generator) -> ParsedQA:
    events = script.events
    if rng.random() < 0.5:
        # what came right after an event
        i = int(rng.integers(0, len(events) - 1))
        e, nxt = events[i], events[i + 1]
        correct = _cap(clause(script, nxt, past=True))
        others = [_cap(clause(script, x, past=True)) for j, x in enumerate(events) if j not in (i, i + 1)]
        options, answer = _options(rng, correct, others)
        q = f"What happened right after {clause(script, e, past=True)}?"
        groups = _groups([(spans.of(e), clause(script, e)), (spans.of(nxt), "the next thing that happens is that "
                                                              + clause(script, nxt))],
                         "nothing else happens in between, so that is what came right after")
        return ParsedQA(q, options, answer, groups)
    # the order of three events
    picks = sorted(int(i) for i in rng.choice(len(events), size=3, replace=False))
    shown = [int(i) for i in rng.permutation(3)]          # the order they are listed in
    listed = [events[picks[k]] for k in shown]
    numbers = {id(ev): n + 1 for n, ev in enumerate(listed)}
    truth = [numbers[id(events[p])] for p in picks]

    def fmt(order: tuple[int, ...] | list[int]) -> str:
        return ", then ".join(f"({n})" for n in order)

    correct = fmt(truth)
    wrong = [fmt(p) for p in itertools.permutations((1, 2, 3)) if list(p) != truth]
    options, answer = _options(rng, correct, wrong)
    q = ("In which order did these happen in the video? "
         + "; ".join(f"({n + 1}) {clause(script, ev, past=True)}" for n, ev in enumerate(listed)) + ".")
    items = [(spans.of(events[p]), f"({numbers[id(events[p])]}) happens here: {clause(script, events[p])}")
             for p in picks]
    return ParsedQA(q, options, answer, _groups(items, f"so the order is {correct}"))


def goal(script: Script, spans: _Spans, rng: np.random.Generator) -> ParsedQA:
    pushes = [(i, e) for i, e in enumerate(script.events) if e.kind == "push"]
    if not pushes:
        raise ValueError("the log has no push event to ask about")
    i, push = pushes[int(rng.integers(len(pushes)))]
    meet = script.events[i - 1]
    x, y = script.obj(push.obj).name, script.obj(push.other).name
    correct = f"To push {y} to the {area(push.region)}"
    distractors = [f"To push {y} to the {area(r)}" for r in REGIONS if r not in (push.region, push.origin)]
    distractors += [f"To push {o.name} to the {area(push.region)}" for o in script.objects
                    if o.id not in (push.obj, push.other)]
    distractors += [f"To leave the frame through the {edge} edge" for edge in EDGES]
    distractors += [f"To hide {y} from {o.name}" for o in script.objects if o.id not in (push.obj, push.other)]
    options, answer = _options(rng, correct, distractors)
    q = f"Why did {x} go over to {y}?"
    groups = _groups([(spans.of(meet), clause(script, meet)),
                      (spans.of(push), f"right after touching it, {clause(script, push)}"),
                      (spans.of(push), f"{x} stops once {y} is in the {area(push.region)}")],
                     f"so {x} went to {y} in order to push it to the {area(push.region)}")
    return ParsedQA(q, options, answer, groups)


def spatial(script: Script, spans: _Spans, rng: np.random.Generator) -> ParsedQA:
    candidates = []
    for e in script.events:
        for o in script.objects:
            if o.id in (e.obj, e.other):
                continue
            r = script.region_at(o.id, e.middle)
            if r is not None:
                candidates.append((e, o.id, r))
    if not candidates:
        raise ValueError("no object rests while another event happens")
    e, oid, region = candidates[int(rng.integers(len(candidates)))]
    name = script.obj(oid).name
    placed = [p for p in script.events if p.end <= e.start and (p.obj == oid or (p.kind == "push" and p.other == oid))][-1]
    correct = f"In the {area(region)}"
    options, answer = _options(rng, correct, [f"In the {area(r)}" for r in REGIONS if r != region])
    q = f"Where was {name} when {clause(script, e, past=True)}?"
    how = clause(script, placed)
    groups = _groups([(spans.of(placed), how + f", so {name} is now in the {area(region)}"),
                      (spans.of(e), clause(script, e) + f", while {name} has not moved since")],
                     f"so {name} was in the {area(region)} at that moment")
    return ParsedQA(q, options, answer, groups)


def plot(script: Script, spans: _Spans, rng: np.random.Generator) -> ParsedQA:
    ev = script.events
    first = ev[0]
    push = next(e for e in ev if e.kind == "push")
    leave = next((e for e in reversed(ev) if e.kind == "leave"), ev[-1])
    entries = [e for e in ev if e.kind == "enter"]

    def summary(f: Event, p: Event, last: Event) -> str:
        return (f"{_cap(clause(script, f, past=True))}; later {clause(script, p, past=True)}; "
                f"in the end {clause(script, last, past=True)}")

    from dataclasses import replace

    correct = summary(first, push, leave)
    wrong = [summary(first, replace(push, obj=push.other, other=push.obj), leave)]
    wrong += [summary(first, replace(push, region=r), leave) for r in REGIONS if r not in (push.region, push.origin)][:3]
    wrong += [summary(replace(first, obj=e.obj), push, leave) for e in entries[1:]]
    wrong += [summary(first, push, replace(leave, edge=edge)) for edge in EDGES if edge != leave.edge]
    options, answer = _options(rng, correct, wrong)
    q = "Which of these best summarizes what happens in the video?"
    groups = _groups([(spans.of(first), f"at the start, {clause(script, first)}"),
                      (spans.of(push), f"later, {clause(script, push)}"),
                      (spans.of(leave), f"near the end, {clause(script, leave)}")],
                     "only one summary has these objects, places and order right")
    return ParsedQA(q, options, answer, groups)


GENERATORS = {"temporal": temporal, "goal": goal, "spatial": spatial, "plot": plot}


def question_from_log(script: Script, category: str, spans: list[tuple[float, float]],
                      rng: np.random.Generator) -> ParsedQA:
    """A question of ``category`` answered by the log; ``ValueError`` when the log cannot support one."""
    if category not in GENERATORS:
        raise ValueError(f"unknown category {category!r} (known: {', '.join(CATEGORIES)})")
    return GENERATORS[category](script, _Spans(spans), rng)
