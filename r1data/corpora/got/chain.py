"""The reference Generation Chain-of-Thought of a row, in GoT-R1's token format.

GoT-R1's chains (``gogoduan/GoT-R1``, ``examples/*/reasoning_chain.txt``) describe the image to
draw in prose, each object span followed by its box on the 0-1000 grid::

    A <|obj_start|>bouquet of red tulips<|obj_end|> <|box_start|>(0,60),(698,780)<|box_end|> in a
    <|obj_start|>yellow vase<|obj_end|> <|box_start|>(65,488),(582,982)<|box_end|>, ...

(the model then emits ``<begin_of_image>`` and the image tokens; the chain stored here stops
before it). One span per drawn instance, named with its colour and category, so that the
verifiers and ``got.layout`` can find every object of the prompt. The first sentence follows the
prompt (its relation, its counts); the next ones say where each object is in the picture and the
colours the prompt left open; the last one the setting. All of it comes from the layout.
"""

from __future__ import annotations

from r1data.corpora.got.plans import NUMBER_WORDS
from r1data.rewards.got_layout import RELATIONS, plural


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "next")


def span(name: str, box: list[int]) -> str:
    """``<|obj_start|>red mug<|obj_end|> <|box_start|>(x1,y1),(x2,y2)<|box_end|>``."""
    x1, y1, x2, y2 = (int(v) for v in box)
    return f"<|obj_start|>{name}<|obj_end|> <|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def group_text(group: dict, instances: list[dict]) -> str:
    """A group as the first sentence says it: "a <span>" or "three red apples (<span>, ...)"."""
    spans = [span(i["name"], i["box"]) for i in instances]
    if len(instances) == 1:
        return f"{_article(instances[0]['name'])} {spans[0]}"
    words = f"{group['color']} {plural(group['category'])}".strip()
    return f"{NUMBER_WORDS[len(instances)]} {words} ({_join(spans)})"


def where(box: list[int]) -> str:
    """Where a grid box sits in the picture: "on the left, near the front"."""
    cx, bottom = (box[0] + box[2]) / 2, box[3]
    side = "on the left" if cx < 350 else "on the right" if cx > 650 else "in the middle"
    depth = "near the front" if bottom > 780 else "towards the back" if bottom < 600 else "halfway back"
    return f"{side}, {depth}"


def reference_chain(groups: list[dict], relations: list[dict], instances: list[dict], setting: str) -> str:
    """The chain of a row: ``groups`` (prompt objects), ``relations``, ``instances`` (the layout:
    name, group, box, colour, category) and ``setting`` ("a wooden table in front of a pale wall")."""
    by_group: dict[int, list[dict]] = {}
    for inst in instances:
        by_group.setdefault(int(inst["group"]), []).append(inst)
    texts = {g: group_text(groups[g], by_group.get(g, [])) for g in range(len(groups)) if by_group.get(g)}
    if relations:
        r = relations[0]
        s, o = int(r["subject"]), int(r["object"])
        first = f"{texts[s]} {RELATIONS[r['relation']]} {texts[o]}"
        rest = [t for g, t in texts.items() if g not in (s, o)]
        first += (", and " + _join(rest) if rest else "")
    else:
        first = _join(list(texts.values()))
    sentences = [first[0].upper() + first[1:] + f", all on {setting}."]
    for items in by_group.values():
        for k, inst in enumerate(items):
            label = inst["name"]
            which = f"The {label}" if len(items) == 1 else f"The {ORDINALS[min(k, len(ORDINALS) - 1)]} {label}"
            sentences.append(f"{which} stands {where(inst['box'])} of the picture.")
    sentences.append("The table is seen from slightly above, with soft light from the side.")
    return " ".join(sentences)


def _annotator() -> None:
    from r1data.steps.annotate import programmatic_annotator
    from r1data.steps.base import StepContext

    @programmatic_annotator("got_chain")
    def got_chain(row: dict, ctx: StepContext) -> dict:
        """The reference chain of a row with a layout (``reasoning``)."""
        if not row.get("layout"):
            raise ValueError(f"{row['id']}: no layout to write a chain from")
        return {"reasoning": reference_chain(row["prompt_objects"], row.get("relations") or [], row["layout"],
                                             row.get("setting") or "a table")}


_annotator()
