"""InfiGUI-R1's sub-goal judge: an API model, named by an annotator profile, scores sub-goals.

``rewards.load("infigui.subgoal", judge="gpt-4o")`` (or a profile path, or ``judge: gpt-4o``
under the reward's ``params`` in a spec or recipe) asks one request per row, rendered from
``annotators/templates/gui_subgoal_judge.jinja`` (a workspace copy overrides it) with the
task ``goal``, the ``predicted`` and the ``reference`` sub-goal. The answer must be
``{"score": N}`` with N in ``[0, scale]``; the reward is ``N / scale``, and anything else (or a
failed call) is None for that row, never a guess.

All requests of a batch go through one :class:`~r1data.annotators.client.AnnotatorClient`:
the profile's concurrency, rate limits, retries, timeout and the response cache
(``$R1DATA_CACHE_DIR/annotations.sqlite``), so scoring the same completions again makes no
request; the client's usage counts calls, cache hits and dollars. Judges live for the process
(GRPO calls the reward every step). Kept small on purpose: the generic model-backed reward
machinery (``r1data/rewards/judged.py``) can take it over.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Any

from r1data.errors import UsageError
from r1data.rewards.got_judge import DEFAULT_SCALE, parse_score

TEMPLATE = "gui_subgoal_judge"


class SubgoalJudge:
    """Scores ``(goal, predicted, reference)`` sub-goal triples in [0, 1] (or None) with a profile."""

    def __init__(self, profile: str | Path, *, scale: float = DEFAULT_SCALE, cache: Any = "default",
                 refresh: bool = False, workspace: str | Path | None = None):
        from r1data.annotators import providers
        from r1data.annotators.cache import ResponseCache
        from r1data.annotators.client import AnnotatorClient
        from r1data.annotators.profile import load_profile
        from r1data.annotators.prompt import PromptTemplate
        from r1data.assets import Assets

        if not scale > 0:
            raise UsageError(f"infigui.subgoal judge: scale must be positive, got {scale}")
        self.scale = float(scale)
        assets = Assets.from_workspace(workspace, plugins=False)
        self.profile = load_profile(profile, assets)
        if self.profile.provider == "programmatic":
            raise UsageError(f"infigui.subgoal judge: annotator profile {self.profile.name!r} is programmatic; "
                             "the judge needs an API profile (gemini or openai), or judge='rule' offline")
        self.template = PromptTemplate(assets.find("annotators", f"templates/{TEMPLATE}", suffixes=(".jinja", ".j2")))
        backend = providers.get(self.profile.provider)(self.profile)     # checks the key's env var now
        if cache == "default":
            cache = ResponseCache.default()
        elif isinstance(cache, (str, Path)):
            cache = ResponseCache(cache)
        self.client = AnnotatorClient(self.profile, backend, cache=cache, refresh=refresh)
        self._lock = threading.Lock()       # the client's event loop is not re-entrant
        weakref.finalize(self, self.client.close)

    @property
    def usage(self) -> Any:
        """Calls, cache hits, tokens and dollars so far (:class:`~r1data.annotators.client.Usage`)."""
        return self.client.usage

    def score_many(self, items: list[tuple[str, str, str]]) -> list[float | None]:
        """Scores of ``(goal, predicted, reference)`` triples, in order, in one concurrent batch."""
        from r1data.annotators.request import AnnotatorCallError

        p = self.profile
        scale = str(int(self.scale)) if self.scale.is_integer() else str(self.scale)
        requests = [self.template.request({"goal": goal, "predicted": pred, "reference": ref, "scale": scale},
                                          temperature=p.temperature, max_output_tokens=p.max_output_tokens)
                    for goal, pred, ref in items]
        if not requests:
            return []
        with self._lock:
            answers = self.client.run(requests)
        return [None if isinstance(a, AnnotatorCallError) else parse_score(a.parsed, self.scale) for a in answers]

    def close(self) -> None:
        self.client.close()


_JUDGES: dict[tuple, SubgoalJudge] = {}
_LOCK = threading.Lock()


def subgoal_judge(profile: str | Path, scale: float = DEFAULT_SCALE) -> SubgoalJudge:
    """The process's judge for a profile (made on first use), keyed also by the workspace and
    cache folder so a test or a run with another cache gets its own client."""
    key = (str(profile), float(scale), os.environ.get("R1DATA_WORKSPACE"), os.environ.get("R1DATA_CACHE_DIR"))
    with _LOCK:
        judge = _JUDGES.get(key)
        if judge is None:
            judge = _JUDGES[key] = SubgoalJudge(profile, scale=scale)
        return judge


def forget_judges() -> None:
    """Close and drop the kept judges (tests)."""
    with _LOCK:
        for judge in _JUDGES.values():
            judge.close()
        _JUDGES.clear()
