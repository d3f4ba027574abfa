"""Prompt templates: Jinja files in ``annotators/templates/`` rendered with a row.

The template is the whole request: its text is the user message, and it declares, with
top-level ``{% set %}`` lines, what goes with it and what must come back::

    {%- set media = "images" -%}               {# row field(s) attached as images, in order #}
    {%- set answer_format = "think_answer" -%} {# text | think_answer | json #}
    {%- set system = "You are ..." -%}         {# optional system message #}

Row fields are the template's variables (``{{ question }}``, ``{% for o in objects %}``), and
``row`` is the whole row. An undefined variable is an error naming it, so a typo rejects
the record with a reason instead of sending a prompt with a hole in it.

An answer is checked against ``answer_format`` (:func:`check_answer`); a profile's
``response_schema`` makes it ``json`` and validates the object against the schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from r1data.annotators.request import AnnotationRequest, Media, Message, to_media
from r1data.errors import UsageError

ANSWER_FORMATS = ("text", "think_answer", "json")


class PromptTemplate:
    """One template file, compiled once; :meth:`request` renders it for a row."""

    def __init__(self, path: Path):
        import jinja2

        self.path = path
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                                 autoescape=False)
        try:
            self.template = env.from_string(path.read_text())
        except jinja2.TemplateSyntaxError as e:
            raise UsageError(f"{path}:{e.lineno}: template syntax error: {e.message}") from None

    def request(self, row: dict, *, temperature: float, max_output_tokens: int,
                response_schema: dict | None = None) -> tuple[AnnotationRequest, str]:
        """The request for ``row`` and the answer format it asks for.

        Raises ``ValueError`` (a one-line reason) when the row does not fit the template."""
        import jinja2

        try:
            module = self.template.make_module({**row, "row": row})
        except jinja2.UndefinedError as e:
            raise ValueError(f"template {self.path.name}: {e.message}") from None
        text = str(module).strip()
        fmt = "json" if response_schema is not None else str(getattr(module, "answer_format", "text"))
        if fmt not in ANSWER_FORMATS:
            raise ValueError(f"template {self.path.name}: answer_format {fmt!r} is not one of {ANSWER_FORMATS}")
        media: list[Media] = []
        fields = getattr(module, "media", None) or ()
        for name in [fields] if isinstance(fields, str) else fields:
            value = row.get(name)
            if value is None:
                raise ValueError(f"template {self.path.name}: the row has no media field {name!r}")
            for item in value if isinstance(value, (list, tuple)) else [value]:
                media.append(to_media(item))
        messages = [Message("user", (text, *media))]
        system = getattr(module, "system", None)
        if system:
            messages.insert(0, Message("system", (str(system),)))
        return AnnotationRequest(tuple(messages), temperature, max_output_tokens, response_schema), fmt


def check_answer(text: str, answer_format: str, response_schema: dict | None = None) -> tuple[Any, str | None]:
    """``(parsed, None)`` for an answer in the asked format, else ``(None, what is wrong)``.

    ``think_answer`` parses to :class:`r1data.parsing.ThinkAnswer`, ``json`` to the object."""
    if not text or not text.strip():
        return None, "the answer is empty"
    if answer_format == "think_answer":
        from r1data.parsing import parse_think_answer

        parsed = parse_think_answer(text)
        if not parsed.ok:
            return None, "it lacks <think>...</think><answer>...</answer>"
        return parsed, None
    if answer_format == "json":
        try:
            obj = json.loads(_strip_fence(text))
        except json.JSONDecodeError as e:
            return None, f"it is not JSON ({e.msg} at character {e.pos})"
        if response_schema is not None:
            import jsonschema

            try:
                jsonschema.validate(obj, response_schema)
            except jsonschema.ValidationError as e:
                return None, f"the JSON does not match the schema: {e.message}"
        return obj, None
    return text, None


def _strip_fence(text: str) -> str:
    """Models often wrap JSON in a Markdown code fence; take what is inside."""
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        t = t.rsplit("```", 1)[0]
    return t
