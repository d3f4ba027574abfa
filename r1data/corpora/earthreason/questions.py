"""Implicit questions about an aerial scene: they ask for a region by what it is for, never
by its name (EarthReason's "implicit queries"), and the words that would give it away.

``SYNONYMS`` is the leakage list: a question about a class must contain none of these words
(or their plurals). ``earthreason_question`` is the offline annotator; the prompt template
``earthreason_question.jinja`` asks an LLM for the same thing from the same context.
"""

from __future__ import annotations

import re

import numpy as np

from r1data.corpora.earthreason.landcover import CLASSES
from r1data.steps.annotate import programmatic_annotator
from r1data.steps.base import StepContext

EMPTY_ANSWER = "There is no target object in the image."   # SegEarth-R1's text for empty targets

SYNONYMS: dict[str, tuple[str, ...]] = {
    "grassland": ("grassland", "grass", "lawn", "meadow", "pasture", "turf"),
    "farmland": ("farmland", "farm", "field", "crop", "cropland", "agricultural", "agriculture", "plantation",
                 "paddy"),
    "forest": ("forest", "tree", "trees", "wood", "woods", "woodland", "grove", "canopy", "vegetation"),
    "water": ("water", "lake", "river", "pond", "reservoir", "stream", "waterbody", "sea", "canal"),
    "road": ("road", "street", "highway", "lane", "avenue", "roadway", "motorway"),
    "building": ("building", "house", "roof", "rooftop", "structure", "residence", "dwelling", "home"),
    "vehicle": ("vehicle", "car", "truck", "bus", "automobile", "van", "lorry"),
}

# what each class is for, phrased without naming it; {where} is filled with a position
PURPOSES: dict[str, tuple[str, ...]] = {
    "grassland": ("Which open areas could animals graze on{where}?",
                  "Where is the low, open ground cover that a picnic could be held on{where}?",
                  "Which unbuilt green ground would be easiest to walk across{where}?"),
    "farmland": ("Where are food and grain grown{where}?",
                 "Which areas would a harvester work on{where}?",
                 "Which land is ploughed and sown each season{where}?"),
    "forest": ("Which areas provide shade and habitat for wildlife{where}?",
               "Where could timber be cut{where}?",
               "Which dense green areas absorb the most carbon{where}?"),
    "water": ("Where could a boat sail{where}?",
              "Which area could supply irrigation for nearby crops{where}?",
              "Where might fish live in this image{where}?"),
    "road": ("Which paths do vehicles use to travel{where}?",
             "What connects the houses to the rest of the area{where}?",
             "Where would traffic flow in this image{where}?"),
    "building": ("Where do people live or work{where}?",
                 "Which places offer shelter from the rain{where}?",
                 "Which places would a census taker visit to count households{where}?"),
    "vehicle": ("What is moving along the paved lanes{where}?",
                "Which objects could carry passengers from place to place{where}?",
                "What would a traffic survey count in this image{where}?"),
}

# what the answer calls the region
NAMES = {"grassland": "grassland", "farmland": "farmland", "forest": "forest", "water": "water",
         "road": "roads", "building": "buildings", "vehicle": "vehicles"}


def leaked_words(question: str, target_class: str) -> list[str]:
    """The words of ``question`` that name ``target_class`` or a synonym (plurals too)."""
    words = SYNONYMS.get(target_class, (target_class,))
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                         + r")(s|es)?\b", re.I)
    return [m.group(0) for m in pattern.finditer(question)]


def where_phrase(position: str) -> str:
    """"upper left" -> "in the upper left of the image", "top" -> "at the top of the image"."""
    if position == "center":
        return "near the center of the image"
    if position in ("top", "bottom"):
        return f"at the {position} of the image"
    if position.endswith("side"):
        return f"on the {position} of the image"
    return f"in the {position} of the image"


def _where(position: str, rng: np.random.Generator) -> str:
    if not position or rng.random() < 0.4:
        return ""
    return " " + where_phrase(position)


def make_questions(target_class: str, position: str, rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct implicit questions about ``target_class`` (at most the bank's size)."""
    bank = list(PURPOSES[target_class])
    order = rng.permutation(len(bank))[:n]
    return [bank[i].format(where=_where(position, rng)) for i in order]


def answer_text(target_class: str, empty: bool, position: str, share: float, layout: dict) -> str:
    """SegEarth-R1-style answer: the region named and located, or the empty-target sentence."""
    if empty:
        return EMPTY_ANSWER
    name = layout.get("water", "water") if target_class == "water" else NAMES[target_class]
    where = "across the image" if share > 0.25 else where_phrase(position)
    return f"The {name} {where}, covering about {max(1, round(share * 100))}% of the scene."


@programmatic_annotator("earthreason_question")
def earthreason_question(row: dict, ctx: StepContext) -> dict:
    """Questions and answer from the row's ``target_class``, ``empty``, position and area.

    Rows that already have their questions (the released data) are left as they are."""
    if row.get("questions"):
        return {}
    cls = row["target_class"]
    if cls not in PURPOSES:
        raise ValueError(f"{row['id']}: no question bank for class {cls!r} (known: {', '.join(CLASSES)})")
    rng = ctx.rng(row["id"])
    position = "" if row["empty"] else row.get("position", "")
    questions = make_questions(cls, position, rng, int(row.get("n_questions", 3)))
    return {"question": questions[0], "questions": questions,
            "answer": answer_text(cls, row["empty"], position, row.get("share", 0.0), row.get("layout") or {})}
