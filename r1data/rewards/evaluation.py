"""Which rewards and metrics score a corpus, and the batch loop ``r1data eval`` runs.

The rewards come from the corpus spec's ``rewards:`` section (``pipelines/NAME.yaml``)::

    rewards:
      - {reward: scene30k.format, weight: 0.3}
      - {reward: scene30k.perception, weight: 0.4}
      - {reward: xiangqi.good, params: {margin: 50}}

and, when the spec has none, every registered reward of the corpus's family (the rewards
named ``CORPUS.*``, or ``FAMILY.*`` for the corpora whose rewards carry the paper's name,
see :data:`FAMILIES`). The metrics are the paper's evaluation numbers, one function per
family ``metrics(completions, columns) -> {name: value}`` with columns aligned to the
completions (:data:`METRICS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1data.errors import SpecError, UnknownNameError, UsageError
from r1data.rewards import embodied, infigui, longvideo, love, omni, satori, scene30k, segearth, star, xiangqi
from r1data.rewards._core import RewardFn, info, load, names
from r1data.rewards.judged import counting_unscored

Metrics = Callable[[list[str], dict[str, list[Any]]], dict[str, Any]]

# corpus name -> reward family, where the corpus is named after its dataset and the rewards after the paper
FAMILIES: dict[str, str] = {
    "vqa_verify": "satori",
    "earthreason": "segearth",
    "embodied_points": "embodied",
    "embodied_spatial": "embodied",
    "longvideo_reason": "longvideo",
    "trance": "star",
    "android_control": "infigui",
    "gui": "infigui",
}

METRICS: dict[str, tuple[Metrics, tuple[str, ...]]] = {
    "scene30k": (scene30k.metrics, ("answer", "answers", "target_box", "question_type")),
    "satori": (satori.metrics, ("possible_answers", "bboxs", "width", "height")),
    "embodied": (embodied.metrics, ("answer", "data_type")),
    "longvideo": (longvideo.metrics, ("answer", "problem_type")),
    "xiangqi": (xiangqi.metrics, ("legal_moves", "best_move", "best_score", "scored_moves", "scored_values",
                                  "side_to_move", "situation", "fen", "nodes")),
    "segearth": (segearth.metrics, ("mask",)),
    "infigui": (infigui.metrics, ("gt_action", "width", "height", "target_box", "task")),
    "star": (star.metrics, ("transformations", "objects", "final_objects", "setting", "final_view")),
    "love": (love.metrics, ("duration", "zoomin_intervals", "answer", "tgt", "question_kind")),
    "omni": (omni.metrics, ("problem_type", "frame_mask_area")),
}


def family_of(corpus: str) -> str:
    """The reward family of a corpus name (``vqa_verify`` -> ``satori``; else the name itself)."""
    return FAMILIES.get(corpus, corpus)


# the reward that says whether an answer is right, per family, where the spec flags none
# (`accuracy: true` under its `rewards:`); a rollout's pass rate counts the samples it passes.
# scene30k and embodied have no reward that judges every question type's answer: flag one.
ACCURACY: dict[str, str] = {
    "satori": "satori.answer",          # the answer is one of the possible answers (VQA accuracy)
    "longvideo": "longvideo.accuracy",  # the chosen option letter
    "xiangqi": "xiangqi.best",          # the engine's best move (best@1)
    "segearth": "segearth.iou",         # mask IoU (passes at >= the threshold, 0.5 by default)
    "star": "star.exact",               # the whole answer right (star.accuracy sums partial credits)
    "got": "got.layout",                # the chain's plan covers the prompt (the image terms need models)
    "love": "love.accuracy",
    "omni": "omni.iou",
    "infigui": "infigui.action",
}


@dataclass(frozen=True)
class RewardUse:
    """One reward as a spec uses it: the name, its GRPO weight and bound parameters; ``accuracy``
    when the spec marks it as the reward that says whether an answer is right."""

    name: str
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)
    accuracy: bool = False

    def fn(self) -> RewardFn:
        return load(self.name, **self.params)


@dataclass(frozen=True)
class CorpusEvaluation:
    """What ``r1data eval`` runs for one corpus."""

    corpus: str
    rewards: tuple[RewardUse, ...]
    metrics: Metrics | None = None
    metric_columns: tuple[str, ...] = ()
    origin: str = ""          # where the reward list came from, for the report

    def columns(self) -> list[str]:
        """Every dataset column the rewards and the metrics read."""
        cols = list(self.metric_columns)
        for r in self.rewards:
            cols.extend(info(r.name).columns)
        return list(dict.fromkeys(cols))


def spec_rewards(path: Path) -> list[RewardUse] | None:
    """The ``rewards:`` section of a spec file, checked (names registered, parameters known);
    None when the spec has no such section. Errors name the file, line and key."""
    from pydantic import ValidationError

    from r1data.spec import RewardSpec
    from r1data.yamlio import load_yaml

    data, lines = load_yaml(path)
    if not isinstance(data, dict) or not data.get("rewards"):
        return None
    items = data["rewards"]
    if not isinstance(items, list):
        raise SpecError(str(path), "rewards", "a list of {reward: NAME, weight: W, params: {...}}",
                        got=items, line=lines.line(("rewards",)))
    out: list[RewardUse] = []
    for i, item in enumerate(items):
        where = ("rewards", i)
        try:
            spec = RewardSpec.model_validate(item)
        except ValidationError as e:
            first = e.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise SpecError(str(path), f"rewards[{i}]{'.' + key if key else ''}", first["msg"].lower(),
                            line=lines.line(where)) from None
        try:
            load(spec.reward, **spec.params)
        except UsageError as e:
            raise SpecError(str(path), f"rewards[{i}]", e.message, line=lines.line(where)) from None
        out.append(RewardUse(spec.reward, spec.weight, dict(spec.params), spec.accuracy))
    flagged = [i for i, u in enumerate(out) if u.accuracy]
    if len(flagged) > 1:
        raise SpecError(str(path), f"rewards[{flagged[1]}].accuracy", "one reward marked `accuracy: true` "
                        f"(rewards[{flagged[0]}] is already)", line=lines.line(("rewards", flagged[1])))
    return out


def evaluation_for(corpus: str, rewards: Sequence[str] | None = None,
                   workspace: str | Path | None = None) -> CorpusEvaluation:
    """The evaluation of ``corpus``: explicit ``rewards`` (names), else the spec's ``rewards:``
    section, else every reward of the corpus's family. Unknown everywhere: a usage error."""
    family = family_of(corpus)
    metrics, metric_columns = METRICS.get(family, (None, ()))
    if rewards:
        uses = tuple(RewardUse(n) for n in rewards)
        for u in uses:
            info(u.name)   # an unknown name fails here, with a suggestion
        return CorpusEvaluation(corpus, uses, metrics, metric_columns, "--reward")
    from r1data.assets import Assets

    try:
        path = Assets.from_workspace(workspace).find("pipelines", corpus)
    except UnknownNameError:
        path = None
    if path is not None:
        declared = spec_rewards(path)
        if declared:
            return CorpusEvaluation(corpus, tuple(declared), metrics, metric_columns, f"{path.name} rewards:")
    prefixes = tuple(dict.fromkeys((f"{corpus}.", f"{family}.")))
    found = [n for n in names() if n.startswith(prefixes)]
    if not found:
        families = sorted({n.split(".")[0] for n in names()})
        raise UsageError(f"r1data eval: no rewards for corpus {corpus!r}: its spec has no 'rewards:' section "
                         f"and no reward is named {corpus}.* (families: {', '.join(families)}); "
                         "pass --reward NAME")
    return CorpusEvaluation(corpus, tuple(RewardUse(n) for n in found), metrics, metric_columns,
                            f"every {family}.* reward")


def accuracy_reward(corpus: str, name: str | None = None, workspace: str | Path | None = None) -> RewardUse:
    """The reward that says whether an answer of ``corpus`` is right: ``name`` when given, else the
    spec's reward marked ``accuracy: true`` (with its parameters), else the family's default
    (:data:`ACCURACY`). None of these: a usage error saying how to name one."""
    if name:
        info(name)     # an unknown name fails here, with a suggestion
        return RewardUse(name, accuracy=True)
    evaluation = None
    try:
        evaluation = evaluation_for(corpus, None, workspace)
    except UsageError:
        pass               # no spec rewards and no family rewards: fall through to the message
    if evaluation is not None:
        flagged = [u for u in evaluation.rewards if u.accuracy]
        if flagged:
            return flagged[0]
    default = ACCURACY.get(family_of(corpus))
    if default:
        same = [u for u in (evaluation.rewards if evaluation else ()) if u.name == default]
        return RewardUse(default, params=dict(same[0].params) if same else {}, accuracy=True)
    raise UsageError(f"corpus {corpus!r} has no reward for accuracy: mark one `accuracy: true` under the "
                     f"`rewards:` of pipelines/{corpus}.yaml, or pass --accuracy REWARD (e.g. "
                     f"{', '.join(sorted(ACCURACY.values())[:3])})")


def _finite(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def evaluate(evaluation: CorpusEvaluation, completions: list[Any], columns: dict[str, list[Any]],
             batch_size: int = 1024, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Score ``completions`` (aligned with ``columns``).

    Returns ``{"rewards": {name: {"mean", "rows", "not_applicable", "weight"[, "unscored"]}},
    "weighted": {...}, "skipped": {name: why}, "metrics": {...}, "backends": {name: what scored it}}``.
    ``weighted`` is what GRPO would add up per
    row (TRL: the weighted sum of the rewards that apply, None counting as nothing), averaged
    over rows where at least one reward applies. A reward that needs a column the corpus
    lacks, or a judge it was not given, is reported under ``skipped`` instead of failing. A
    model-backed reward's completions its model could not score (timeout, API error, unparsable
    answer) are counted by reason under ``unscored`` (they are among ``not_applicable``)."""
    from r1data.parsing import completion_text

    n = len(completions)
    texts = [completion_text(c) for c in completions]
    rewards: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    row_sum = [0.0] * n
    row_hit = [False] * n
    for use in evaluation.rewards:
        fn = use.fn()
        values: list[Any] = []
        try:
            # a model-backed reward counts the completions its model could not score (judged.py)
            with counting_unscored() as unscored:
                for start in range(0, n, batch_size):
                    stop = min(n, start + batch_size)
                    cols = {k: v[start:stop] for k, v in columns.items()}
                    values.extend(fn(prompts=None, completions=texts[start:stop], **cols))
                    if progress:
                        progress(stop - start)
        except UsageError as e:
            skipped[use.name] = e.message
            continue
        scored = []
        for i, v in enumerate(values):
            if _finite(v):
                scored.append(float(v))
                row_sum[i] += use.weight * float(v)
                row_hit[i] = True
        rewards[use.name] = {"mean": sum(scored) / len(scored) if scored else None, "rows": len(scored),
                             "not_applicable": n - len(scored), "weight": use.weight}
        if unscored:
            # of the rows not scored, these the reward's model could not score (not "does not apply")
            rewards[use.name]["unscored"] = dict(unscored.most_common())
    hit = [s for s, h in zip(row_sum, row_hit) if h]
    weighted = {"mean": sum(hit) / len(hit) if hit else None, "rows": len(hit)}
    metrics = evaluation.metrics(texts, columns) if evaluation.metrics and n else {}
    from r1data.rewards._core import backends

    scored_by = backends([use for use in evaluation.rewards if use.name in rewards])
    return {"rewards": rewards, "weighted": weighted, "skipped": skipped, "metrics": metrics, "backends": scored_by}
