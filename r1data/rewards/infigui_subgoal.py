"""InfiGUI-R1's sub-goal guidance: the ``infigui.subgoal`` reward and its judge.

The paper rewards "accurate intermediate sub-goals" (arXiv 2504.14239, Deliberation Enhancement)
and releases no formula, prompt or judge. Our reading: the first ``<step>`` of the completion's
reasoning against the row's reference ``sub_goal``, scored in [0, 1] either by a judge model
named by an annotator profile (``judge: gpt-4o``) or, offline, by word-overlap F1 (``judge:
rule``, the default). ``only_if_wrong`` scores only rows whose action is wrong, as some summaries
of the paper say it is applied; off by default.

The judge: one request per row, rendered from ``annotators/templates/gui_subgoal_judge.jinja`` (a
workspace copy overrides it) with the task ``goal``, the ``predicted`` and the ``reference``
sub-goal, asked through :mod:`r1data.rewards.judged` (the generic model-backed reward machinery:
one concurrent batch per reward call through the profile's annotator client, the response cache,
the profile's ``timeout_s``). The answer must be ``{"score": N}`` with N in ``[0, scale]``; the
reward is ``N / scale``; anything else, a failed or timed-out call, is None for that row and
counted with its reason (``r1data eval`` reports the counts, ``r1data train`` logs them), never a
guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from r1data.errors import UsageError
from r1data.rewards._core import column, optional_column, reward, texts
from r1data.rewards.got_judge import DEFAULT_SCALE, parse_score
from r1data.rewards.infigui import PAPER_SUBGOAL, action, sub_goal_of
from r1data.rewards.judged import Ask, judge_for

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


def subgoal_judge(profile: str | Path, scale: float = DEFAULT_SCALE) -> "SubgoalJudge":
    """The sub-goal judge of a profile name or path (its model judge is kept per process)."""
    return SubgoalJudge(profile, scale=scale)


class SubgoalJudge:
    """Scores ``(goal, predicted, reference)`` sub-goal triples in [0, 1], or None with a counted
    reason, through :func:`r1data.rewards.judged.judge_for` (one model judge per profile and
    process: batched, cached, bounded by the profile's ``timeout_s``)."""

    def __init__(self, profile: str | Path, *, scale: float = DEFAULT_SCALE):
        if not scale > 0:
            raise UsageError(f"infigui.subgoal judge: scale must be positive, got {scale}")
        self.scale = float(scale)
        self.model = judge_for(profile, what="infigui.subgoal judge")
        self.model.template(TEMPLATE)            # a missing template fails now, not at the first batch

    @property
    def usage(self) -> Any:
        """Calls, cache hits, tokens and dollars so far (:class:`~r1data.annotators.client.Usage`)."""
        return self.model.usage

    def score_many(self, items: list[tuple[str, str, str]]) -> list[float | None]:
        """Scores of ``(goal, predicted, reference)`` triples, in order, in one concurrent batch."""
        scale = str(int(self.scale)) if self.scale.is_integer() else str(self.scale)
        asks = [Ask(TEMPLATE, {"goal": goal, "predicted": pred, "reference": ref, "scale": scale})
                for goal, pred, ref in items]
        return self.model.ask(asks, lambda parsed: parse_score(parsed, self.scale))


def forget_judges() -> None:
    """Close and drop the kept judges (tests)."""
    from r1data.rewards import judged

    judged.forget_judges()
