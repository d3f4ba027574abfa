"""GoT-R1's judged terms (R_sem, R_spa, R_PI) asked of an API model named by an annotator profile.

``rewards.load("got.total", judge="gpt-4o")`` (or a profile path, or ``judge: gpt-4o`` under a
reward's ``params`` in a spec or recipe) scores each judged term with one request per row, through
the generic model-backed reward machinery of :mod:`r1data.rewards.judged`:

* the prompt is ``annotators/templates/got_judge_{semantic,spatial,prompt_image}.jinja``
  (a workspace copy overrides the shipped one), rendered with ``caption``, ``reasoning`` and
  ``scale``; the spatial request carries the planned boxes drawn on a blank canvas, the
  prompt-image request the generated ``image``;
* the answer must be the JSON object ``{"score": N}`` with N a number in ``[0, scale]``
  (default 10, the top of the range the template states); the term is ``N / scale``. Anything
  else -- not JSON after the client's re-asks, no ``score``, a string, a bool, out of range,
  NaN -- scores None for that row, as does a row whose call failed or timed out; each such row
  is counted with its reason (:func:`r1data.rewards.judged.counting_unscored`), never a guess
  and never a crash. A prompt-image term of a row without an image is not asked (None, not counted);
* all requests of a batch (all three terms for ``got.total``) go out as one concurrent batch
  through the profile's :class:`~r1data.annotators.client.AnnotatorClient` (concurrency, rate
  limits, retries with backoff) and the response cache, so scoring the same completions again
  makes no request; the batch waits at most the profile's ``timeout_s``.

Judges are kept per (profile, scale) for the life of the process: GRPO calls the reward every
step, and the client's HTTP connections are reused.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

from r1data.errors import UsageError
from r1data.rewards.judged import Ask, ModelJudge

TEMPLATE = "got_judge_{kind}"
DEFAULT_SCALE = 10.0
# what each template gets as its image (PromptTemplate attaches the row field it names)
_MEDIA_FIELD = {"semantic": None, "spatial": "canvas", "prompt_image": "image"}


def parse_score(parsed: Any, scale: float = DEFAULT_SCALE) -> float | None:
    """``N / scale`` for a JSON answer ``{"score": N}`` with N a real number in [0, scale];
    None for anything else (a judge's unparsable answer must not become a reward)."""
    if not isinstance(parsed, dict) or "score" not in parsed:
        return None
    value = parsed["score"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= scale:
        return None
    return value / scale


class ProfileJudge:
    """A GoT-R1 judge backed by an annotator profile (see the module docstring).

    ``judge(kind, prompt, reasoning, image)`` scores one row; :meth:`score_many` scores many
    ``(kind, prompt, reasoning, image)`` items in one concurrent batch and is what the
    ``got.*`` rewards call. Scores are in [0, 1] or None."""

    def __init__(self, profile: str | Path, *, scale: float = DEFAULT_SCALE, cache: Any = "default",
                 refresh: bool = False, workspace: str | Path | None = None, timeout_s: float | None = None):
        if not scale > 0:
            raise UsageError(f"GoT-R1 judge: scale must be positive, got {scale}")
        self.scale = float(scale)
        self.model = ModelJudge(profile, timeout_s=timeout_s, cache=cache, refresh=refresh, workspace=workspace,
                                what="GoT-R1 judge")
        self.profile = self.model.profile
        for kind in _MEDIA_FIELD:      # a missing template fails now, not at the first batch
            self.model.template(TEMPLATE.format(kind=kind))

    @property
    def usage(self) -> Any:
        """The client's :class:`~r1data.annotators.client.Usage` (calls, cache hits, cost)."""
        return self.model.usage

    def ask_of(self, kind: str, prompt: str, reasoning: str, image: Any) -> Ask | None:
        """The :class:`Ask` of one judged term; None where the term does not apply (no image for
        ``prompt_image``)."""
        if kind not in _MEDIA_FIELD:
            raise ValueError(f"unknown judge kind {kind!r} (kinds: {', '.join(_MEDIA_FIELD)})")
        row: dict[str, Any] = {"caption": prompt, "reasoning": reasoning, "scale": _fmt(self.scale)}
        field = _MEDIA_FIELD[kind]
        if field is not None:
            if image is None:
                return None
            row[field] = image
        return Ask(TEMPLATE.format(kind=kind), row)

    def request(self, kind: str, prompt: str, reasoning: str, image: Any) -> tuple[Any, str]:
        """The request for one judged term, and its answer format; ``ValueError`` when the row
        cannot be asked (no image for ``prompt_image``, an image that is not one)."""
        ask = self.ask_of(kind, prompt, reasoning, image)
        if ask is None:
            raise ValueError(f"template {TEMPLATE.format(kind=kind)}: no image to judge")
        return self.model.request(ask)

    def score_many(self, items: list[tuple[str, str, str, Any]]) -> list[float | None]:
        """Scores of ``(kind, prompt, reasoning, image)`` items, in order; None where the term does
        not apply, the call failed or timed out, or the answer is not a score."""
        asks = [self.ask_of(*item) for item in items]
        return self.model.ask(asks, lambda parsed: parse_score(parsed, self.scale))

    def __call__(self, kind: str, prompt: str, reasoning: str, image: Any) -> float | None:
        return self.score_many([(kind, prompt, reasoning, image)])[0]

    def close(self) -> None:
        self.model.close()


def _fmt(scale: float) -> str:
    return str(int(scale)) if scale.is_integer() else str(scale)


_JUDGES: dict[tuple[str, float, str | None, str | None], ProfileJudge] = {}
_JUDGES_LOCK = threading.Lock()


def profile_judge(profile: str | Path, scale: float = DEFAULT_SCALE) -> ProfileJudge:
    """The process's :class:`ProfileJudge` for a profile name or path (made on first use).

    Keyed by the profile, the scale and ``$R1DATA_WORKSPACE`` / ``$R1DATA_CACHE_DIR`` (so a
    test or a run with another cache gets its own client)."""
    import os

    key = (str(profile), float(scale), os.environ.get("R1DATA_WORKSPACE"), os.environ.get("R1DATA_CACHE_DIR"))
    with _JUDGES_LOCK:
        judge = _JUDGES.get(key)
        if judge is None:
            judge = ProfileJudge(profile, scale=scale)
            _JUDGES[key] = judge
        return judge


def forget_judges() -> None:
    """Close and drop the kept judges (tests; a process that changes its key or profiles)."""
    from r1data.rewards import judged

    with _JUDGES_LOCK:
        for judge in _JUDGES.values():
            judge.close()
        _JUDGES.clear()
    judged.forget_judges()
