"""``annotate``: fill fields of each row with text from an annotator profile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from r1data.annotators.profile import load_profile, providers
from r1data.errors import UsageError
from r1data.registry import annotator_functions
from r1data.steps.base import Reject, StepContext, step


def programmatic_annotator(name: str | None = None):
    """Register an offline annotator: ``fn(row, ctx) -> str | dict``.

    A string is stored in the step's ``output`` field; a dict is merged into the row. Raise
    ``ValueError`` to reject the row (the message becomes the reject detail).
    """
    return annotator_functions(name)


@step("annotate")
class Annotate:
    """Annotate rows with a profile (``annotators/PROFILE.yaml``) and a prompt template.

    With the ``programmatic`` provider, ``function`` names the registered Python annotator
    that derives the text from ground truth (offline, deterministic). With an API provider
    the template is rendered with the row and sent; ``--annotator`` swaps the profile.
    """

    def __init__(self, ctx: StepContext, *, profile: str = "programmatic", function: str | None = None,
                 template: str | None = None, output: str = "cot"):
        self.ctx = ctx
        self.output = output
        chosen = ctx.options.get("annotator") or profile
        self.profile = load_profile(chosen, ctx.assets)
        self.template = template
        if template is not None:
            try:
                ctx.assets.find("annotators", f"templates/{template}", suffixes=(".jinja", ".j2"))
            except Exception as e:
                raise UsageError(f"template {template!r}: {getattr(e, 'message', e)}") from None
        if self.profile.provider == "programmatic":
            if not function:
                raise UsageError("a programmatic profile needs 'function' (a registered annotator)")
            self.fn = annotator_functions.get(function)
            self.backend = None
        else:
            factory = providers.get(self.profile.provider)
            self.backend = factory(self.profile, ctx, template=template, output=output,
                                   function=function)

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        if self.backend is not None:
            yield from self.backend(rows)
            return
        for row in rows:
            try:
                result: Any = self.fn(row, self.ctx)
            except ValueError as e:
                yield Reject(row, "annotator_error", str(e))
                continue
            if isinstance(result, dict):
                row.update(result)
            else:
                row[self.output] = result
            yield row
