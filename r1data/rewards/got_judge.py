"""GoT-R1's judged terms (R_sem, R_spa, R_PI) asked of an API model named by an annotator profile.

``rewards.load("got.total", judge="gpt-4o")`` (or a profile path, or ``judge: gpt-4o`` under a
reward's ``params`` in a spec or recipe) scores each judged term with one request per row:

* the prompt is ``annotators/templates/got_judge_{semantic,spatial,prompt_image}.jinja``
  (a workspace copy overrides the shipped one), rendered with ``caption``, ``reasoning`` and
  ``scale``; the spatial request carries the planned boxes drawn on a blank canvas, the
  prompt-image request the generated ``image``;
* the answer must be the JSON object ``{"score": N}`` with N a number in ``[0, scale]``
  (default 10, the top of the range the template states); the term is ``N / scale``. Anything
  else -- not JSON after the client's re-asks, no ``score``, a string, a bool, out of range,
  NaN -- scores None for that row, as does a row whose call failed (an unparsable answer is
  never a crash and never a guess);
* all requests of a batch (all three terms for ``got.total``) go through one
  :class:`~r1data.annotators.client.AnnotatorClient`: the profile's concurrency, rate limits,
  retries with backoff and the response cache (``$R1DATA_CACHE_DIR/annotations.sqlite``),
  so scoring the same completions again makes no request.

Judges are kept per (profile, scale) for the life of the process: GRPO calls the reward every
step, and the client's event loop and HTTP connections are reused.
"""

from __future__ import annotations

import math
import threading
import weakref
from pathlib import Path
from typing import Any

from r1data.errors import UsageError

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
                 refresh: bool = False, workspace: str | Path | None = None):
        from r1data.annotators import providers
        from r1data.annotators.cache import ResponseCache
        from r1data.annotators.client import AnnotatorClient
        from r1data.annotators.profile import load_profile
        from r1data.annotators.prompt import PromptTemplate
        from r1data.assets import Assets

        if not scale > 0:
            raise UsageError(f"GoT-R1 judge: scale must be positive, got {scale}")
        self.scale = float(scale)
        assets = Assets.from_workspace(workspace, plugins=False)
        self.profile = load_profile(profile, assets)
        if self.profile.provider == "programmatic":
            raise UsageError(f"GoT-R1 judge: annotator profile {self.profile.name!r} is programmatic; the judge "
                             "needs an API profile (gemini or openai), or judge='rule' for the offline stand-in")
        self.templates = {}
        for kind in _MEDIA_FIELD:
            path = assets.find("annotators", "templates/" + TEMPLATE.format(kind=kind), suffixes=(".jinja", ".j2"))
            self.templates[kind] = PromptTemplate(path)
        backend = providers.get(self.profile.provider)(self.profile)     # checks the key's env var now
        if cache == "default":
            cache = ResponseCache.default()
        elif isinstance(cache, (str, Path)):
            cache = ResponseCache(cache)
        self.client = AnnotatorClient(self.profile, backend, cache=cache, refresh=refresh)
        # one batch at a time: the client runs its own event loop, which is not re-entrant
        self._lock = threading.Lock()
        weakref.finalize(self, self.client.close)

    @property
    def usage(self) -> Any:
        """The client's :class:`~r1data.annotators.client.Usage` (calls, cache hits, cost)."""
        return self.client.usage

    def request(self, kind: str, prompt: str, reasoning: str, image: Any) -> tuple[Any, str]:
        """The request for one judged term, and its answer format; ``ValueError`` when the row
        cannot be asked (no image for ``prompt_image``, an image that is not one)."""
        if kind not in self.templates:
            raise ValueError(f"unknown judge kind {kind!r} (kinds: {', '.join(self.templates)})")
        row: dict[str, Any] = {"caption": prompt, "reasoning": reasoning, "scale": _fmt(self.scale)}
        field = _MEDIA_FIELD[kind]
        if field is not None:
            row[field] = image
        p = self.profile
        return self.templates[kind].request(row, temperature=p.temperature, max_output_tokens=p.max_output_tokens)

    def score_many(self, items: list[tuple[str, str, str, Any]]) -> list[float | None]:
        """Scores of ``(kind, prompt, reasoning, image)`` items, in order; None where the row
        could not be asked, the call failed, or the answer is not a score."""
        from r1data.annotators.request import AnnotatorCallError

        out: list[float | None] = [None] * len(items)
        asked: list[int] = []
        requests = []
        for i, (kind, prompt, reasoning, image) in enumerate(items):
            try:
                requests.append(self.request(kind, prompt, reasoning, image))
            except ValueError:
                continue                    # e.g. no generated image: the term is not judged
            asked.append(i)
        if not requests:
            return out
        with self._lock:
            answers = self.client.run(requests)
        for i, answer in zip(asked, answers):
            if not isinstance(answer, AnnotatorCallError):
                out[i] = parse_score(answer.parsed, self.scale)
        return out

    def __call__(self, kind: str, prompt: str, reasoning: str, image: Any) -> float | None:
        return self.score_many([(kind, prompt, reasoning, image)])[0]

    def close(self) -> None:
        self.client.close()


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
    with _JUDGES_LOCK:
        for judge in _JUDGES.values():
            judge.close()
        _JUDGES.clear()
