"""The one set of parsers for model and annotator output, shared by verifiers and rewards.

Keep every tag and coordinate format here: a verifier that checks a built record and the
GRPO reward that scores a completion must read text the same way.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_STRICT = re.compile(r"\s*<think>(.*?)</think>\s*<answer>(.*?)</answer>\s*", re.DOTALL)
_WORD = re.compile(r"[A-Za-z0-9']+")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_BOX3D = re.compile(r"box\s*:?\s*\[([^\]]*)\]")


@dataclass(frozen=True)
class ThinkAnswer:
    think: str | None
    answer: str | None
    strict: bool          # exactly <think>...</think><answer>...</answer>, nothing around

    @property
    def ok(self) -> bool:
        return self.think is not None and self.answer is not None


def parse_think_answer(text: str | None) -> ThinkAnswer:
    """Split ``<think>...</think><answer>...</answer>``; missing parts are None."""
    if not text:
        return ThinkAnswer(None, None, False)
    m = _STRICT.fullmatch(text)
    if m:
        return ThinkAnswer(m.group(1).strip(), m.group(2).strip(), True)
    t = _THINK.search(text)
    a = _ANSWER.search(text)
    return ThinkAnswer(t.group(1).strip() if t else None, a.group(1).strip() if a else None, False)


def tag_content(text: str | None, tag: str) -> str | None:
    """The content of the first ``<tag>...</tag>``, stripped, or None."""
    if not text:
        return None
    m = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
    return m.group(1).strip() if m else None


def words(text: str | None) -> list[str]:
    """Words as 3D-R1's filters count them: runs of letters, digits and apostrophes."""
    return _WORD.findall(text or "")


def normalize_answer(text: str | None) -> str:
    """Lowercase, drop punctuation and articles, collapse spaces (VQA-style matching)."""
    text = (text or "").lower().strip()
    text = re.sub(r"[^\w\s.-]", " ", text)
    text = re.sub(r"(?<!\d)\.(?!\d)", " ", text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def parse_numbers(text: str | None) -> list[float]:
    return [float(x) for x in re.findall(_NUMBER, text or "")]


def parse_box3d(text: str | None) -> list[float] | None:
    """``box: [x1, y1, z1, x2, y2, z2]`` (3D-R1's perception format) -> six floats, or None."""
    if not text:
        return None
    m = re.search(r"box\s*:?\s*\[([^\]]*)\]", text)
    if not m:
        return None
    values = parse_numbers(m.group(1))
    return values if len(values) == 6 else None


def format_box3d(box: list[float] | tuple[float, ...], digits: int = 2) -> str:
    return "box: [" + ", ".join(f"{v:.{digits}f}" for v in box) + "]"


# -- completions --------------------------------------------------------------------------------

def completion_text(completion: object) -> str:
    """The text of one completion, plain or conversational.

    TRL passes a plain string, or for conversational data a list of messages
    ``[{"role": "assistant", "content": str}]`` whose content may also be a list of parts
    (``{"type": "text", "text": ...}``). The assistant turns' text is joined; None -> "".
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, (list, tuple)):
        texts = []
        for message in completion:
            if isinstance(message, str):
                texts.append(message)
                continue
            if not isinstance(message, dict) or message.get("role", "assistant") != "assistant":
                continue
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts.extend(p.get("text", "") for p in content
                             if isinstance(p, dict) and p.get("type", "text") == "text")
        return "".join(texts)
    return str(completion)


# -- structured values --------------------------------------------------------------------------

def parse_json_like(text: str | None) -> Any:
    """A JSON document, or failing that a Python literal (``ast.literal_eval``); None if neither.

    Models write both ``[[1, 2], [3, 4]]`` and ``[(1, 2), (3, 4)]``; rewards accept either."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


_NUMBER_TYPES = (int, float)


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def parse_boxes2d(text: str | None) -> list[list[float]] | None:
    """``[[x1, y1, x2, y2], ...]`` (or one flat ``[x1, y1, x2, y2]``) -> a list of boxes.

    None when the text is not such a list, or any element is not four numbers (SATORI's
    rule: one malformed box makes the whole answer unreadable). ``[]`` is a valid empty list."""
    value = parse_json_like(text)
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        return None
    if value and all(not isinstance(v, (list, tuple)) for v in value):
        value = [value]
    boxes = []
    for b in value:
        if not isinstance(b, (list, tuple)) or len(b) != 4 or not all(_is_number(v) for v in b):
            return None
        boxes.append([float(v) for v in b])
    return boxes


def parse_points(text: str | None, tag: str | None = "point") -> np.ndarray | None:
    """The points of the first ``<point>[[x, y], ...]</point>`` as an (N, 2) float array.

    ``tag=None`` parses ``text`` itself. None when the tag is missing or its content is not a
    JSON list of ``[x, y]`` number pairs (Embodied-R1: ``json.loads`` then a type check); an
    empty list gives a (0, 2) array."""
    content = text if tag is None else tag_content(text, tag)
    if content is None:
        return None
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    # json.loads gives exact types: int, float, bool, str, None, list, dict (type() is enough,
    # and keeps bool out); finiteness is checked on the array (hot: every Embodied-R1 reward)
    if not all(type(p) is list and len(p) == 2 and type(p[0]) in _NUMBER_TYPES and type(p[1]) in _NUMBER_TYPES
               for p in value):
        return None
    points = np.asarray(value, dtype=np.float64).reshape(-1, 2)
    return points if np.isfinite(points).all() else None


def parse_boxes3d(text: str | None) -> list[list[float]]:
    """Every ``box: [x1, y1, z1, x2, y2, z2]`` in the text (3D-R1 reads all of them)."""
    boxes = []
    for m in _BOX3D.finditer(text or ""):
        values = parse_numbers(m.group(1))
        if len(values) == 6:
            boxes.append(values)
    return boxes


def parse_boxed(text: str | None) -> str | None:
    """The content of the last ``\\boxed{...}`` (braces balanced), stripped, or None."""
    if not text:
        return None
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i = start + len("\\boxed{")
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
    return None


def choice_letter(text: str | None, letters: str = "ABCDEFGHIJ") -> str | None:
    """The option letter a short answer names: ``B``, ``(B)``, ``B.``, ``B) text``, ``b``.

    None when the text does not start with one letter standing alone."""
    if text is None:
        return None
    m = re.match(r"\s*[\(\[]?\s*([A-Za-z])\s*(?:[\)\]\.:,]|\s|$)", text)
    if not m:
        return None
    letter = m.group(1).upper()
    return letter if letter in letters else None


def parse_tool_call(text: str | None) -> dict | None:
    """The JSON object of the first ``<tool_call>...</tool_call>`` (Qwen function calling)."""
    value = parse_json_like(tag_content(text, "tool_call"))
    return value if isinstance(value, dict) else None


MOBILE_USE_OPENING = '{"name": "mobile_use", "arguments":'


def mobile_use_call_json(text: str | None, thinking: bool = True) -> str | None:
    """The text InfiGUI-R1's AndroidControl evaluation hands to ``json.loads``, cut out of a
    completion as that evaluation cuts it (``eval/android_control/android_control.py``,
    ``compute_scores``); None where it would fail before parsing.

    With ``thinking``, only what follows the *last* ``</think>`` counts. Then the text after the
    first ``<tool_call>`` (up to the next ``<tool_call>``, if any); without the tag, the text
    from ``{"name": "mobile_use", "arguments":`` (spelt exactly so) on. It ends at the first
    ``</tool_call>``, or, without one, before any ``<conclusion>`` and after the last ``}}``."""
    if text is None:
        return None
    rest = text.split("</think>")[-1] if thinking else text
    if "<tool_call>" in rest:
        rest = rest.split("<tool_call>")[1]
    elif MOBILE_USE_OPENING in rest:
        rest = MOBILE_USE_OPENING + rest.split(MOBILE_USE_OPENING, 1)[1]
    else:
        return None
    if "</tool_call>" in rest:
        rest = rest.split("</tool_call>")[0]
    else:
        rest = rest.split("<conclusion>")[0].rsplit("}}", 1)[0] + "}}"
    return rest.strip()


def parse_mobile_use_call(text: str | None, thinking: bool = True) -> Any:
    """The ``arguments`` of the tool call as InfiGUI-R1's evaluation reads them (strict JSON,
    see :func:`mobile_use_call_json`), whatever their type; None where reading fails."""
    found = mobile_use_call_json(text, thinking)
    if found is None:
        return None
    try:
        return json.loads(found)["arguments"]
    except (ValueError, RecursionError, KeyError, TypeError, IndexError):
        return None


_GOT_ITEM = re.compile(r"<\|obj_start\|>(.*?)<\|obj_end\|>\s*((?:<\|box_start\|>.*?<\|box_end\|>\s*)+)", re.DOTALL)
_GOT_BOX = re.compile(r"<\|box_start\|>\s*\(\s*(" + _NUMBER + r")\s*,\s*(" + _NUMBER + r")\s*\)\s*,\s*\(\s*("
                      + _NUMBER + r")\s*,\s*(" + _NUMBER + r")\s*\)\s*<\|box_end\|>")


def parse_got_plan(text: str | None) -> list[tuple[str, list[float]]]:
    """GoT-R1's planned layout: ``<|obj_start|>name<|obj_end|> <|box_start|>(x1,y1),(x2,y2)<|box_end|>``
    -> [(name, [x1, y1, x2, y2]), ...] on the 0-1000 grid, in order (one entry per box)."""
    plan = []
    for m in _GOT_ITEM.finditer(text or ""):
        name = m.group(1).strip()
        for b in _GOT_BOX.finditer(m.group(2)):
            plan.append((name, [float(b.group(k)) for k in range(1, 5)]))
    return plan


# -- Xiangqi moves and situations ---------------------------------------------------------------

_ICCS = re.compile(r"(?<![a-z0-9])([a-i][0-9][a-i][0-9])(?![a-z0-9])")
SITUATIONS = ("red_clear", "red_slight", "balanced", "black_slight", "black_clear")


def parse_iccs_move(text: str | None) -> str | None:
    """The move in ICCS coordinates (``h2e2``: files a-i, ranks 0-9), preferring a ``Move:`` line."""
    if not text:
        return None
    lowered = text.lower()
    m = re.search(r"move\s*[:：]\s*([a-i][0-9][a-i][0-9])(?![a-z0-9])", lowered)
    if m:
        return m.group(1)
    m = _ICCS.search(lowered)
    return m.group(1) if m else None


def parse_situation(text: str | None) -> str | None:
    """A 5-class situation label from ``red_clear``, ``Red slight advantage``, ``Balanced``...

    Reads the ``Situation:`` line when there is one, else the whole text. None when no label
    (or more than one side) is named."""
    if not text:
        return None
    lowered = text.lower()
    m = re.search(r"situation\s*[:：]\s*([^\n<]*)", lowered)
    part = m.group(1) if m else lowered
    part = re.sub(r"[_\-]+", " ", part)
    if re.search(r"\b(balanced|equal|even)\b", part):
        return "balanced"
    sides = set(re.findall(r"\b(red|black)\b", part))
    grades = set(re.findall(r"\b(clear|slight|slightly|large|small)\b", part))
    if len(sides) != 1:
        return None
    grade = {"slightly": "slight", "small": "slight", "large": "clear"}
    grades = {grade.get(g, g) for g in grades}
    if len(grades) != 1:
        return None
    return f"{sides.pop()}_{grades.pop()}"


# -- STAR-R1 transformations --------------------------------------------------------------------

_TRIPLET = re.compile(r"(\d+)\s*\.\s*([A-Za-z_]+)\s*\.\s*(\[[^\]]*\]|\([^)]*\)|[^,;\n]+)")


def normalize_value(value: object) -> str:
    """A transformation value as comparable text: ``["behind", 2]``, ``behind_2`` and TRANCE's own
    pair text ``behind.2`` -> ``behind 2``."""
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    text = str(value).lower()
    text = re.sub(r"[\[\]\(\)\"']", " ", text)
    text = re.sub(r"[\s,_:.]+", " ", text)
    return text.strip(" .")


def parse_triplets(text: str | None) -> list[tuple[int, str, str]]:
    """``index.attribute.value`` items (``2.color.cyan``, ``0.position.behind.2``, ``0.position.[behind, 2]``), separated by
    commas, semicolons or new lines -> [(2, "color", "cyan"), ...] with normalised text."""
    out = []
    for m in _TRIPLET.finditer(text or ""):
        out.append((int(m.group(1)), m.group(2).lower(), normalize_value(m.group(3))))
    return out
