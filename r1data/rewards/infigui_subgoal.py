"""InfiGUI-R1's sub-goal guidance: the ``infigui.subgoal`` reward and its judge.

The paper rewards "accurate intermediate sub-goals" (arXiv 2504.14239, Deliberation Enhancement)
and releases no formula, prompt or judge. Our reading: the first ``<step>`` of the completion's
reasoning against the row's reference ``sub_goal``, scored in [0, 1] either by a judge model
named by an annotator profile (``judge: gpt-4o``) or, offline, by word-overlap F1 (``judge:
rule``, the default). ``only_if_wrong`` scores only rows whose action is wrong, as some summaries
of the paper say it is applied; off by default.

The judge: one request per row, rendered from ``annotators/templates/gui_subgoal_judge.jinja`` (a
workspace copy overrides it) with the task ``goal``, the ``predicted`` and the ``reference``
sub-goal. The answer must be ``{"score": N}`` with N in ``[0, scale]``; the reward is
``N / scale``, and anything else (or a failed call) is None for that row, never a guess. All
requests of a batch go through one :class:`~r1data.annotators.client.AnnotatorClient`: the
profile's concurrency, rate limits, retries, timeout and the response cache
(``$R1DATA_CACHE_DIR/annotations.sqlite``), so scoring the same completions again makes no
request; the client's usage counts calls, cache hits and dollars. Judges live for the process
(GRPO calls the reward every step). Kept small on purpose: the generic model-backed reward
machinery (``r1data/rewards/judged.py``) can take it over.
"""

from __future__ import annotations

import os
import re
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from r1data.errors import UsageError
from r1data.rewards._core import column, optional_column, reward, texts
from r1data.rewards.got_judge import DEFAULT_SCALE, parse_score
from r1data.rewards.infigui import PAPER_SUBGOAL, action, sub_goal_of

TEMPLATE = "gui_subgoal_judge"


_WORDS = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an the to of in on at for and or is it its this that then i will my me be by with "
                  "as from into so now".split())


def word_f1(pred: str, ref: str) -> float:
    """F1 of the content words (lower-cased, stop words out) of two sub-goals."""
    a = [w for w in _WORDS.findall(pred.lower()) if w not in _STOP]
    b = [w for w in _WORDS.findall(ref.lower()) if w not in _STOP]
    if not a or not b:
        return float(a == b)
    common = sum(min(a.count(w), b.count(w)) for w in set(a))
    if common == 0:
        return 0.0
    p, r = common / len(a), common / len(b)
    return 2 * p * r / (p + r)


JudgeParam = Any   # "rule" | an annotator profile name or path | a callable (items) -> scores


def resolve_subgoal_judge(judge: JudgeParam) -> Callable[[list[tuple[str, str, str]]], list[float | None]]:
    """``judge`` as a batch scorer of ``(goal, predicted, reference)`` sub-goal triples."""
    if judge is None or judge == "rule":
        return lambda items: [word_f1(p, r) for _, p, r in items]
    if isinstance(judge, str):
        return subgoal_judge(judge).score_many
    if callable(judge):
        return judge
    raise UsageError(f"infigui.subgoal: judge must be 'rule', an annotator profile name or path, or a "
                     f"callable; got {type(judge).__name__}")


@reward("infigui.subgoal", columns=("sub_goal", "goal", "gt_action", "width", "height"), paper=PAPER_SUBGOAL,
        rule_based=False)
def subgoal(prompts: Any = None, completions: Any = (), *, sub_goal: Any = None, goal: Any = None,
            gt_action: Any = None, width: Any = None, height: Any = None, judge: JudgeParam = "rule",
            only_if_wrong: bool = False, **_: Any) -> list[float | None]:
    """How well the ``<step>`` sub-goal of the reasoning states the reference ``sub_goal``, in
    [0, 1]: a judge model's score (``judge: PROFILE``) or word-overlap F1 (``rule``). 0 without
    a ``<step>``; None without a reference or where the judge gave no score. ``only_if_wrong``
    scores only rows whose action is wrong (None elsewhere), a reading some summaries give."""
    t = texts(completions)
    n = len(t)
    refs = column(sub_goal, n, "sub_goal", "infigui.subgoal")
    goals = optional_column(goal, n, "goal", "infigui.subgoal")
    out: list[float | None] = [None] * n
    asked: list[int] = []
    items: list[tuple[str, str, str]] = []
    wrong = [True] * n
    if only_if_wrong:
        acts = action(completions=t, gt_action=column(gt_action, n, "gt_action", "infigui.subgoal"),
                      width=width, height=height)
        wrong = [a is not None and a < 1.0 for a in acts]
    for i, (text, ref) in enumerate(zip(t, refs)):
        if not ref or not wrong[i]:
            continue
        pred = sub_goal_of(text)
        if not pred:
            out[i] = 0.0
            continue
        asked.append(i)
        items.append((str(goals[i] or ""), pred, str(ref)))
    if items:
        for i, score in zip(asked, resolve_subgoal_judge(judge)(items)):
            out[i] = score
    return out


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
