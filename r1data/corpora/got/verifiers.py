"""The verifiers of ``got``: the reference chain against its prompt and its picture.

* ``got_prompt_objects``: the prompt names at least one object;
* ``got_chain_format``: the chain is in GoT-R1's token format, every ``<|obj_start|>..<|obj_end|>``
  span followed by one ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>``;
* ``got_objects_in_chain``: every object of the prompt appears in the chain with a box;
* ``got_counts_match``: as many boxes as the prompt counts;
* ``got_boxes_in_grid``: every box lies on the 0-1000 grid with positive size;
* ``got_relations_hold``: the boxes keep the prompt's relations (r1data.rewards.got_layout);
* ``got_chain_matches_layout``: the chain's boxes are the row's layout, and (rows with a picture)
  the layout is what the picture shows: each box the measured visible box of its object.
"""

from __future__ import annotations

import re

from r1data.corpora.got.layout import to_grid
from r1data.parsing import parse_got_plan
from r1data.rewards.got_layout import (assign, bad_boxes, broken_relations, count_mismatches, loads,
                                       missing_objects)
from r1data.steps.checks import verifier


def _plan(row: dict, field: str):  # type: ignore[no-untyped-def]
    return parse_got_plan(row.get(field) or "")


def _result(problems: list[str]) -> bool | tuple[bool, str]:
    return True if not problems else (False, "; ".join(problems[:3]))


@verifier("got_prompt_objects")
def prompt_objects(row: dict) -> bool | tuple[bool, str]:
    """The prompt names at least one object."""
    return True if loads(row.get("prompt_objects")) else (False, f"no object in the prompt {row.get('caption')!r:.80}")


@verifier("got_chain_format")
def chain_format(row: dict, field: str = "reasoning") -> bool | tuple[bool, str]:
    """Every span is ``<|obj_start|>name<|obj_end|> <|box_start|>(x1,y1),(x2,y2)<|box_end|>``."""
    text = row.get(field) or ""
    plan = parse_got_plan(text)
    if not plan:
        return False, f"{field} has no <|obj_start|>..<|obj_end|> <|box_start|>..<|box_end|> span"
    counts = {tok: len(re.findall(re.escape(tok), text)) for tok in
              ("<|obj_start|>", "<|obj_end|>", "<|box_start|>", "<|box_end|>")}
    if len(set(counts.values())) != 1 or counts["<|box_start|>"] != len(plan):
        return False, f"unbalanced or unread tokens: {counts}, {len(plan)} spans read"
    return True


@verifier("got_objects_in_chain")
def objects_in_chain(row: dict, field: str = "reasoning") -> bool | tuple[bool, str]:
    """Every object of the prompt appears in the chain with a box."""
    groups = loads(row.get("prompt_objects"))
    return _result(missing_objects(assign(_plan(row, field), groups), groups))


@verifier("got_counts_match")
def counts_match(row: dict, field: str = "reasoning") -> bool | tuple[bool, str]:
    """Each object has as many boxes as the prompt counts."""
    groups = loads(row.get("prompt_objects"))
    return _result(count_mismatches(assign(_plan(row, field), groups), groups))


@verifier("got_boxes_in_grid")
def boxes_in_grid(row: dict, field: str = "reasoning") -> bool | tuple[bool, str]:
    """Every planned box lies on the 0-1000 grid with positive size."""
    return _result(bad_boxes(_plan(row, field)))


@verifier("got_relations_hold")
def relations_hold(row: dict, field: str = "reasoning") -> bool | tuple[bool, str]:
    """The planned boxes keep the prompt's relations."""
    groups = loads(row.get("prompt_objects"))
    return _result(broken_relations(assign(_plan(row, field), groups), groups, loads(row.get("relations"))))


@verifier("got_chain_matches_layout")
def chain_matches_layout(row: dict, field: str = "reasoning") -> bool | tuple[bool, str]:
    """The chain's boxes are the layout's, in order; with a picture, each layout box is the
    measured visible box of its object (``boxes``, pixels) on the grid."""
    layout = loads(row.get("layout"))
    planned = [[int(v) for v in b] for _, b in _plan(row, field)]
    want = sorted([int(v) for v in i["box"]] for i in layout)
    if sorted(planned) != want:
        return False, f"the chain's {len(planned)} boxes are not the layout's {len(layout)}"
    if row.get("reference_image") is not None:
        measured = [to_grid(b, row["width"], row["height"]) for b in row.get("boxes") or []]
        if sorted(measured) != want:
            return False, "the layout's boxes are not the ones measured in the picture"
    return True
