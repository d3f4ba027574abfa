"""Compositional prompts in T2I-CompBench's categories, planned before anything is drawn.

A :class:`Plan` is what a prompt asks for: object groups (a category, a colour or none, a count)
and relations between groups. Its caption is written in T2I-CompBench's wording
(``Karine-Huang/T2I-CompBench``, ``examples/dataset/*.txt``):

* ``attribute_binding`` (its ``color`` category): "a green bench and a blue bowl": two or three
  objects, each with its own colour;
* ``counting`` (``numeracy``): "three apples", "two mugs and four red oranges": number words, a
  colour now and then;
* ``spatial`` (``spatial`` and ``3d_spatial``): "a mug on the left of a bowl", "on the right of",
  "in front of", "behind", "next to", "on the top of" (a fruit resting on a plate or a cutting
  board), a colour now and then;
* ``complex``: colours, counts and a relation together: "two red apples on the left of a blue
  bowl, and a white plate".

The objects are the shared tabletop generator's (:mod:`r1data.corpora.tabletop`), so every plan
can be drawn and every box measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from r1data.corpora.tabletop.catalog import KINDS
from r1data.rewards.got_layout import RELATIONS, plural

CATEGORIES = ("attribute_binding", "counting", "spatial", "complex")
# table objects a prompt may name; the small ones may rest on a support (plate, cutting board)
OBJECTS = ("mug", "cup", "bowl", "plate", "bottle", "jar", "kettle", "pot", "box", "book", "apple", "orange",
           "banana", "laptop")
COUNTABLE = ("mug", "cup", "bowl", "bottle", "jar", "box", "book", "apple", "orange", "banana")
SMALL = ("apple", "orange", "banana")
SUPPORTS = ("plate", "cutting board")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six")
# the relations a tabletop picture shows unambiguously ("on the bottom of" reads as "in front of" there)
DRAWN_RELATIONS = ("left", "right", "front", "behind", "top", "next_to")


@dataclass
class Group:
    category: str
    color: str = ""
    count: int = 1

    @property
    def name(self) -> str:
        """The noun phrase without article or number: "red mug", "apple"."""
        return f"{self.color} {self.category}".strip()

    def phrase(self) -> str:
        """As a prompt says it: "a red mug", "an apple", "three red apples"."""
        noun = self.category if self.count == 1 else plural(self.category)
        words = f"{self.color} {noun}".strip()
        if self.count == 1:
            return f"{'an' if words[0] in 'aeiou' else 'a'} {words}"
        return f"{NUMBER_WORDS[self.count]} {words}"


@dataclass
class Relation:
    subject: int
    relation: str
    object: int


@dataclass
class Plan:
    category: str
    groups: list[Group]
    relations: list[Relation] = field(default_factory=list)

    def caption(self) -> str:
        """The prompt, in T2I-CompBench's wording."""
        phrases = [g.phrase() for g in self.groups]
        if not self.relations:
            return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
        r = self.relations[0]
        text = f"{phrases[r.subject]} {RELATIONS[r.relation]} {phrases[r.object]}"
        rest = [p for i, p in enumerate(phrases) if i not in (r.subject, r.object)]
        return text + (", and " + " and ".join(rest) if rest else "")

    def records(self) -> tuple[list[dict], list[dict]]:
        """``prompt_objects`` and ``relations`` as the schema stores them."""
        objs = [{"name": g.name, "category": g.category, "color": g.color, "count": g.count} for g in self.groups]
        return objs, [asdict(r) for r in self.relations]


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str], avoid: set[str] = frozenset()) -> str:
    pool = [o for o in options if o not in avoid] or list(options)
    return str(pool[int(rng.integers(len(pool)))])


def _colored(rng: np.random.Generator, category: str, taken: set[str]) -> Group:
    return Group(category, _pick(rng, KINDS[category].colors, taken))


def _colorable(category: str) -> bool:
    return len(KINDS[category].colors) > 1


def instance_name(category: str, color: str) -> str:
    """How a chain names a drawn object: "red mug"; "orange", "banana" (one colour only) bare."""
    return f"{color} {category}" if _colorable(category) else category


def sample_plan(rng: np.random.Generator, category: str) -> Plan:
    """A prompt plan of ``category`` (one of :data:`CATEGORIES`), a pure function of ``rng``."""
    if category == "attribute_binding":
        n = 2 if rng.random() < 0.7 else 3
        cats: list[str] = []
        for _ in range(n):
            cats.append(_pick(rng, [c for c in OBJECTS if _colorable(c)], set(cats)))
        colors: set[str] = set()
        groups = []
        for c in cats:
            g = _colored(rng, c, colors)
            colors.add(g.color)
            groups.append(g)
        return Plan(category, groups)
    if category == "counting":
        groups = [Group(_pick(rng, COUNTABLE), count=int(rng.integers(2, 6)))]
        for p_more, most in ((0.6, 4), (0.25, 2)):
            if rng.random() >= p_more:
                break
            groups.append(Group(_pick(rng, COUNTABLE, {g.category for g in groups}), count=int(rng.integers(1, most + 1))))
        for g in groups:         # "three red apples": a colour now and then (more distinct prompts)
            if _colorable(g.category) and rng.random() < 0.4:
                g.color = _pick(rng, KINDS[g.category].colors)
        return Plan(category, groups)
    if category == "spatial":
        rel = _pick(rng, DRAWN_RELATIONS)
        if rel == "top":
            return Plan(category, [Group(_pick(rng, SMALL)), Group(_pick(rng, SUPPORTS))], [Relation(0, "top", 1)])
        a = _pick(rng, OBJECTS)
        groups = [Group(a), Group(_pick(rng, OBJECTS, {a}))]
        for g in groups:         # "a red mug on the left of a bowl" now and then (more distinct prompts)
            if _colorable(g.category) and rng.random() < 0.35:
                g.color = _pick(rng, KINDS[g.category].colors)
        return Plan(category, groups, [Relation(0, rel, 1)])
    if category == "complex":
        rel = _pick(rng, DRAWN_RELATIONS)
        colors = set()
        if rel == "top":
            subject = _colored(rng, _pick(rng, [c for c in SMALL if _colorable(c)]), colors)
            obj = _colored(rng, _pick(rng, SUPPORTS), {subject.color})
        else:
            cat = _pick(rng, [c for c in COUNTABLE if _colorable(c)])
            # several subjects in front of (behind) one object cannot all overlap it along x
            count = int(rng.integers(1, 3)) if rel in ("left", "right", "next_to") else 1
            subject = Group(cat, _pick(rng, KINDS[cat].colors), count)
            other = _pick(rng, [c for c in OBJECTS if _colorable(c)], {cat})
            obj = _colored(rng, other, {subject.color})
        groups = [subject, obj]
        if rng.random() < 0.5:
            third = _pick(rng, [c for c in OBJECTS if _colorable(c) and c not in SUPPORTS],
                          {subject.category, obj.category})
            groups.append(_colored(rng, third, {subject.color, obj.color}))
        return Plan(category, groups, [Relation(0, rel, 1)])
    raise ValueError(f"unknown prompt category {category!r} (known: {', '.join(CATEGORIES)})")
