"""Prompt files: T2I-CompBench's ``*.txt`` (one prompt a line) or JSONL, read into prompt plans.

``got_prompts`` reads ``DIR/*.txt`` as T2I-CompBench releases them (``examples/dataset/`` of
``Karine-Huang/T2I-CompBench``: ``color_train.txt``, ``numeracy_val.txt``, ``spatial_train.txt``,
``complex_val.txt``...; the category comes from the file name: color, shape and texture are
attribute binding, numeracy counting, spatial and 3d_spatial spatial, complex complex, others
``other``) and ``DIR/*.jsonl`` with ``{"prompt", "category"?}`` per line.

:func:`parse_prompt` reads a prompt in T2I-CompBench's wording into object groups and at most one
relation: phrases joined by "and" or commas, each an optional article or number word, optional
attributes (a colour word becomes the colour) and a noun; relation words "on the left of",
"on the right of", "in front of", "behind", "on (the) top of", "on the bottom of", "next to",
"near", "on side of". A prompt in which no object can be read ("", "three", a line of
punctuation) is rejected ``no_object``. Prompts with other wording (T2I-CompBench's non-spatial
actions, long complex sentences) are read as well as these rules allow; the row keeps the prompt
as written, and only the objects found are checked.

These rows have no picture; :func:`plan_boxes` gives each instance a box that keeps the relations
(a column per related pair, columns left to right), from which the reference chain is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from r1data.corpora.got.plans import NUMBER_WORDS
from r1data.errors import UsageError
from r1data.sourcefiles import BadRecord, decode_line, is_regular_file, jsonl_records, printable, text_field
from r1data.steps.base import Reject, Source, StepContext, source

FILE_CATEGORIES = {"color": "attribute_binding", "shape": "attribute_binding", "texture": "attribute_binding",
                   "numeracy": "counting", "spatial": "spatial", "3d_spatial": "spatial", "complex": "complex"}
COLOR_WORDS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray",
               "grey", "cyan", "teal", "beige", "golden", "silver")
RELATION_WORDS = [("on the left of", "left"), ("on the right of", "right"), ("in front of", "front"),
                  ("on the top of", "top"), ("on top of", "top"), ("on the bottom of", "bottom"),
                  ("behind", "behind"), ("next to", "next_to"), ("near", "next_to"), ("on side of", "next_to")]
_ARTICLES = {"a", "an", "the", "some"}
_VERBS = {"is", "are", "was", "were", "sits", "sit", "stands", "stand", "lies", "lie", "placed", "resting",
          "rests", "hung", "hangs", "being"}
_NUMBERS = {w: i for i, w in enumerate(NUMBER_WORDS)} | {"seven": 7, "eight": 8, "nine": 9, "ten": 10}


def singular(noun: str) -> str:
    for end, repl in (("ies", "y"), ("ves", "fe"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("ses", "s")):
        if noun.endswith(end) and len(noun) > len(end) + 1:
            return noun[: -len(end)] + repl
    if noun.endswith("s") and not noun.endswith("ss") and len(noun) > 3:
        return noun[:-1]
    return noun


def parse_phrase(text: str) -> dict | None:
    """One object phrase -> ``{"name", "category", "color", "count"}``; None when no noun is left."""
    words = re.findall(r"[a-z][a-z'-]*|\d+", text.lower())
    while words and words[-1] in _VERBS:
        words.pop()
    words = [w for w in words if w not in _VERBS]
    count = 1
    if words and words[0] in _ARTICLES:
        words = words[1:]
    if words and (words[0] in _NUMBERS or words[0].isdigit()):
        count = int(words[0]) if words[0].isdigit() else _NUMBERS[words[0]]
        words = words[1:]
    words = [w for w in words if not w.isdigit()]
    if not words or count < 1:
        return None
    color = next((w for w in words if w in COLOR_WORDS), "")
    rest = [w for w in words if w != color]
    if not rest:                  # "an orange": the colour word is the noun
        color, rest = "", words
    if count > 1:
        rest[-1] = singular(rest[-1])
    category = " ".join(rest)
    return {"name": f"{color} {category}".strip(), "category": category, "color": color, "count": min(count, 10)}


def _phrases(text: str) -> list[str]:
    return [p for p in re.split(r",\s*(?:and\s+)?|\s+and\s+", text) if p.strip()]


def parse_prompt(prompt: str) -> tuple[list[dict], list[dict]]:
    """``(prompt_objects, relations)`` of a T2I-CompBench-style prompt (see the module docstring)."""
    text = " ".join(prompt.strip().rstrip(".!").split())
    lowered = text.lower()
    for words, rel in RELATION_WORDS:
        m = re.search(rf"(?<![a-z]){re.escape(words)}(?![a-z])", lowered)
        if not m:
            continue
        left, right = lowered[: m.start()], lowered[m.end():]
        subjects = [g for g in map(parse_phrase, _phrases(left)) if g]
        objects = [g for g in map(parse_phrase, _phrases(right)) if g]
        if subjects and objects:
            groups = [subjects[-1], objects[0]] + subjects[:-1] + objects[1:]
            return groups, [{"subject": 0, "relation": rel, "object": 1}]
    return [g for g in map(parse_phrase, _phrases(lowered)) if g], []


def plan_boxes(groups: list[dict], relations: list[dict], rng: np.random.Generator) -> list[dict]:
    """A box on the 0-1000 grid for every instance, keeping the relations: a related pair shares a
    column (front/behind/top/bottom) or takes neighbouring ones (left/right/next_to)."""
    vertical = {r["subject"]: (r["relation"], r["object"]) for r in relations
                if r["relation"] in ("front", "behind", "top", "bottom")}
    paired = {o for _, o in vertical.values()}
    order = [g for g in rng.permutation(len(groups)).tolist() if g not in paired]
    for r in relations:
        if r["relation"] in ("left", "right", "next_to") and r["subject"] in order and r["object"] in order:
            s, o = r["subject"], r["object"]
            order.remove(s)
            at = order.index(o)
            order.insert(at if r["relation"] != "right" else at + 1, s)
    columns = [(g, vertical.get(g)) for g in order]
    slots = sum(max(groups[g]["count"], groups[v[1]]["count"] if v else 0) for g, v in columns)
    width = 1000 / max(slots, 1)
    x, out = 0.0, []
    for g, link in columns:
        n = max(groups[g]["count"], groups[link[1]]["count"] if link else 0)
        w = min(width * 0.8, 260)
        for k in range(groups[g]["count"]):
            cx = x + width * (k + 0.5)
            y1, y2 = {None: (480, 760), "front": (640, 920), "behind": (300, 520), "top": (420, 640),
                      "bottom": (700, 940)}[link[0] if link else None]
            half = w / 2 if not link or link[0] != "top" else w / 4
            out.append({"group": g, "box": [round(cx - half), y1, round(cx + half), y2]})
        if link:
            rel, o = link
            y1, y2 = {"front": (380, 600), "behind": (560, 800), "top": (600, 760), "bottom": (300, 560)}[rel]
            if groups[o]["count"] == 1:       # one object under or behind the whole column
                out.append({"group": o, "box": [round(x + width * 0.1), y1, round(x + width * (n - 0.1)), y2]})
            for k in range(groups[o]["count"] if groups[o]["count"] > 1 else 0):
                cx = x + width * (k + 0.5)
                out.append({"group": o, "box": [round(cx - w / 2), y1, round(cx + w / 2), y2]})
        x += width * n
    for inst in out:
        grp = groups[inst["group"]]
        inst.update(name=grp["name"], category=grp["category"], color=grp["color"])
    out.sort(key=lambda i: (i["group"], i["box"][0]))
    return out


def file_category(path: Path) -> str:
    stem = re.sub(r"_(train|val|test|val_seen|val_unseen|train_\w+|val_\w+)$", "", path.stem.lower())
    return FILE_CATEGORIES.get(stem, "other")


@source("got_prompts")
class GoTPrompts(Source):
    """Prompts from ``DIR/*.txt`` (T2I-CompBench, one a line) and ``DIR/*.jsonl`` (``{"prompt",
    "category"?}``), files in name order; see the module docstring."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, files: list[str] | None = None):
        self.ctx = ctx
        self.root = Path(dir).expanduser()
        if not self.root.is_dir():
            raise UsageError(f"--source-dir {dir}: not a directory (expected T2I-CompBench's *.txt prompt files "
                             "or *.jsonl)")
        paths = [self.root / f for f in files] if files else sorted(
            p for p in self.root.iterdir() if p.suffix in (".txt", ".jsonl"))
        self.files = [p for p in paths if is_regular_file(p)]
        if not self.files:
            raise UsageError(f"--source-dir {dir}: no *.txt or *.jsonl prompt file")

    def _records(self) -> Iterator[tuple[str, str, str | BadRecord]]:
        for path in self.files:
            self.ctx.record_file(path)
            name = printable(path.name)
            if path.suffix == ".jsonl":
                for lineno, rec in jsonl_records(path):
                    where = f"{name}:{lineno}"
                    if isinstance(rec, BadRecord):
                        yield where, "other", rec
                        continue
                    try:
                        prompt = text_field(rec, "prompt", where)
                    except BadRecord as e:
                        yield where, "other", e
                        continue
                    yield where, str(rec.get("category") or "other"), prompt
                continue
            category = file_category(path)
            with open(path, "rb") as f:
                for lineno, raw in enumerate(f, 1):
                    where = f"{name}:{lineno}"
                    try:
                        yield where, category, decode_line(raw, where).strip()
                    except BadRecord as e:
                        yield where, category, e

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for n, (where, category, prompt) in enumerate(self._records()):
            if n < start:
                continue
            row = {"id": where.replace(":", "-"), "source": "prompts", "category": category, "caption": ""}
            if isinstance(prompt, BadRecord):
                yield Reject(row, prompt.reason, prompt.detail)
                continue
            groups, relations = parse_prompt(prompt)
            row["caption"] = prompt
            if not groups:
                yield Reject(row, "no_object", f"{where}: no object in the prompt {prompt!r:.80}")
                continue
            rng = self.ctx.rng("plan_boxes", where)
            yield {**row, "prompt_objects": groups, "relations": relations,
                   "layout": plan_boxes(groups, relations, rng), "reference_image": None, "boxes": [],
                   "width": None, "height": None, "setting": "a plain background"}
