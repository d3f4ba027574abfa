"""``rollout``: ask a model N times per row and keep the rows by how often it is right.

    steps:
      - step: rollout
        model: vllm-local          # an annotator profile, or a checkpoint folder from `r1data train`
        samples: 8
        keep_pass_rate: [0.1, 0.9] # LOVE-R1: right sometimes, not always

Each row's prompt is the one GRPO trains on (the corpus's training recipe, see
:mod:`r1data.models.prompts`); the model answers it ``samples`` times (an API model through the
annotator client: limits, retries, cache with sample k as its own entry, cost; a local checkpoint
with transformers, batched); the corpus's **accuracy reward** scores every sample, and a sample
passes when its score is at least ``pass_threshold``. The row gets:

* ``pass_rate``: passed / scored samples (None when no sample could be scored);
* ``rollout_rewards``: the accuracy reward of each sample (None for a sample not generated or
  not scored);
* ``rollout_completions``: the samples' texts (None for one the API could not give; all None
  with ``keep_completions: false``).

A recipe with LOVE-R1's zoom-in views (``data.zoom``) makes a rollout two-step: a sample that asks
validly to zoom in gets a second turn with the clip it asked for, and that answer is the sample.

With ``keep_pass_rate: [LO, HI]`` a row whose pass rate lies outside the closed range goes to the
rejects with reason ``pass_rate`` (the detail gives the rate, the record carries it); one with
no scored sample with reason ``unscored``. A row the model cannot be shown (an image missing, a
video that does not decode) is rejected with that reason; one whose samples all failed at the
API with the API's reason.

The accuracy reward is ``accuracy`` when given, else the spec's reward marked
``accuracy: true``, else the family's default (:data:`r1data.rewards.evaluation.ACCURACY`); the
recipe and rewards are those of ``corpus`` (default: this spec's corpus). Counted per step: API
calls, cache hits, tokens, dollars (``--max-cost`` applies), samples generated, scored and
passed, and the pass-rate histogram (``pass_rate_bin_K``: K=0 exactly 0, K=10 exactly 1, else
the nearest tenth).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator
from typing import Any

from r1data.errors import UsageError
from r1data.steps.base import Reject, StepContext, step

FIELDS = {
    "pass_rate": {"type": "float32", "description": "Fraction of the rollout's samples whose accuracy reward "
                                                    "passed (None: no sample could be scored)."},
    "rollout_rewards": {"type": "list<float32>", "description": "The accuracy reward of each rollout sample "
                                                               "(None: not generated or not scored)."},
    "rollout_completions": {"type": "list<string>", "description": "The rollout's samples, in order."},
}


def pass_rate_bin(rate: float) -> int:
    """The histogram bin of a pass rate: 0 for exactly 0, 10 for exactly 1, else the nearest tenth (1..9)."""
    if rate <= 0:
        return 0
    if rate >= 1:
        return 10
    return min(9, max(1, math.floor(rate * 10 + 0.5)))


def parse_pass_range(value: Any) -> tuple[float, float]:
    """``"LO:HI"`` or ``[LO, HI]`` with 0 <= LO <= HI <= 1; a one-line usage error otherwise."""
    parts = value.split(":") if isinstance(value, str) else list(value)
    try:
        lo, hi = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise UsageError(f"keep pass rate {value!r}: expected LO:HI, two numbers in [0, 1], e.g. 0.1:0.9") from None
    if not (0.0 <= lo <= 1.0 and 0.0 <= hi <= 1.0):
        raise UsageError(f"keep pass rate {value!r}: LO and HI must lie in [0, 1]")
    if lo > hi:
        raise UsageError(f"keep pass rate {value!r}: LO must not exceed HI")
    return lo, hi


@step("rollout", adds_fields=FIELDS)
class Rollout:
    """Sample a model N times per row; score the samples with the accuracy reward; keep rows by pass rate.

    See the module docstring (r1data/steps/rollout.py) and docs/models.md."""

    def __init__(self, ctx: StepContext, *, model: str, samples: int = 8, keep_pass_rate: list[float] | str | None = None,
                 accuracy: str | None = None, pass_threshold: float = 0.5, temperature: float | None = None,
                 max_new_tokens: int | None = None, corpus: str | None = None, recipe: str | None = None,
                 batch_size: int = 8, keep_completions: bool = True):
        from r1data.models import PromptBuilder, generation_settings, open_generator, resolve_model
        from r1data.models.evaluate import model_takes_audio, model_takes_images
        from r1data.rewards import info
        from r1data.rewards.evaluation import accuracy_reward

        if samples < 1:
            raise UsageError(f"samples must be at least 1, got {samples}")
        self.keep = parse_pass_range(keep_pass_rate) if keep_pass_rate is not None else None
        self.ctx = ctx
        self.samples = samples
        self.threshold = float(pass_threshold)
        self.keep_completions = keep_completions
        corpus = corpus or ctx.corpus
        workspaces = getattr(ctx.assets, "workspaces", ()) or ()
        self.accuracy = accuracy_reward(corpus, accuracy, workspaces[0] if workspaces else None)
        self.reward_fn = self.accuracy.fn()
        self.reward_columns = info(self.accuracy.name).columns
        self.ref = resolve_model(model, ctx.assets)
        schema = ctx.schema.to_dict() if ctx.schema is not None else {}
        missing = [c for c in self.reward_columns if c not in schema.get("fields", {})]
        if missing:
            raise UsageError(f"the accuracy reward {self.accuracy.name} reads columns the rows lack: {', '.join(missing)}")
        # relative video paths are under this build's folder (a render step's); built_corpus
        # rows carry absolute ones
        self.prompts = PromptBuilder(corpus, schema, ctx.output, recipe=recipe, assets=ctx.assets,
                                     vision=model_takes_images(self.ref),
                                     listens=model_takes_audio(self.ref))
        settings = generation_settings(self.ref, self.prompts, sampling=True, temperature=temperature,
                                       max_new_tokens=max_new_tokens)
        self.generator = open_generator(self.ref, self.prompts, workers=int(ctx.options.get("workers") or 1),
                                        refresh=bool(ctx.options.get("refresh")), batch_size=batch_size, **settings)
        weakref.finalize(self, self.generator.close)

    @staticmethod
    def manifest_info(params: dict, assets: Any) -> dict:
        """What the manifest records of the rollout: the model (provider, model name, server or
        checkpoint folder) beside the step's parameters."""
        from r1data.errors import R1DataError
        from r1data.models import resolve_model

        try:
            return {"model": resolve_model(params["model"], assets).describe()}
        except R1DataError as e:
            return {"model": {"model": params["model"], "error": e.message}}

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        from r1data.train.data import RowSkipped

        out: list[dict | Reject | None] = [None] * len(rows)
        asked, prompts = [], []
        for i, row in enumerate(rows):
            try:
                prompts.append(self.prompts.prompt(row, decode=self.ref.kind == "local"))
            except RowSkipped as e:
                out[i] = Reject(row, e.reason, e.detail)
                continue
            asked.append(i)
        completions = self.generator.generate(prompts, self.samples, seed=self.ctx.seed) if prompts else []
        if completions and self.prompts.formatter.zoom is not None:
            completions = self._follow_ups([rows[i] for i in asked], completions)
        self._count_usage()
        scores = self._score([rows[i] for i in asked], completions)
        for i, samples, values in zip(asked, completions, scores):
            out[i] = self._judge_row(rows[i], samples, values)
        yield from out  # type: ignore[misc]

    def _follow_ups(self, rows: list[dict], completions: list[list[Any]]) -> list[list[Any]]:
        """LOVE-R1's zoom-in (a recipe with ``data.zoom``): a sample that asks to zoom in gets a second
        turn with the clip it asked for, and its answer there is the sample's completion (scored and
        kept). Samples of a row that asked for the same clip share one prompt, sampled as many times
        (so an API model's cached samples stay separate answers)."""
        from r1data.train.data import RowSkipped

        groups: dict[tuple[int, str], tuple[Any, list[int]]] = {}
        for r, (row, samples) in enumerate(zip(rows, completions)):
            for k, text in enumerate(samples):
                if not isinstance(text, str):
                    continue
                try:
                    nxt = self.prompts.follow_up(row, text)
                except RowSkipped:
                    continue          # the clip does not decode: the zoom stands as the answer (scores 0)
                if nxt is not None:
                    groups.setdefault((r, nxt.text), (nxt, []))[1].append(k)
        by_count: dict[int, list[tuple[int, Any, list[int]]]] = {}
        for (r, _), (prompt, ks) in groups.items():
            by_count.setdefault(len(ks), []).append((r, prompt, ks))
        out = [list(s) for s in completions]
        for n, items in sorted(by_count.items()):
            answers = self.generator.generate([p for _, p, _ in items], n, seed=self.ctx.seed + 1)
            for (r, _, ks), texts in zip(items, answers):
                for k, text in zip(ks, texts):
                    out[r][k] = text
        self.ctx.stats.count(f"follow_ups:{self.ctx.step}", sum(len(ks) for _, ks in groups.values()))
        return out

    def _score(self, rows: list[dict], completions: list[list[Any]]) -> list[list[float | None]]:
        """The accuracy reward of every generated sample (one reward call for the batch)."""
        from r1data.rewards.judged import counting_unscored

        texts, cols, where = [], {c: [] for c in self.reward_columns}, []
        for r, (row, samples) in enumerate(zip(rows, completions)):
            for k, text in enumerate(samples):
                if isinstance(text, str):
                    texts.append(text)
                    for c in self.reward_columns:
                        cols[c].append(row.get(c))
                    where.append((r, k))
        scores: list[list[float | None]] = [[None] * len(s) for s in completions]
        if not texts:
            return scores
        with counting_unscored() as unscored:      # an accuracy reward may be a judge
            values = self.reward_fn(prompts=None, completions=texts, **cols)
        for reason, n in unscored.items():
            self.ctx.stats.count(f"unscored_{reason}:{self.ctx.step}", n)
        for (r, k), v in zip(where, values):
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                scores[r][k] = float(v)
        return scores

    def _judge_row(self, row: dict, samples: list[Any], values: list[float | None]) -> dict | Reject:
        name = self.ctx.step
        count = self.ctx.stats.count
        texts = [s if isinstance(s, str) else None for s in samples]
        errors = [s for s in samples if not isinstance(s, str)]
        count(f"samples:{name}", len(texts) - len(errors))
        if errors:
            count(f"samples_failed:{name}", len(errors))
        if len(errors) == len(samples):
            return Reject(row, errors[0].reason, f"all {len(samples)} samples failed: {errors[0].detail}")
        scored = [v for v in values if v is not None]
        passed = sum(1 for v in scored if v >= self.threshold)
        rate = passed / len(scored) if scored else None
        count(f"samples_scored:{name}", len(scored))
        count(f"samples_passed:{name}", passed)
        row["pass_rate"] = rate
        row["rollout_rewards"] = list(values)
        row["rollout_completions"] = texts if self.keep_completions else [None] * len(texts)
        if rate is None:
            count(f"rows_unscored:{name}")
            if self.keep is not None:
                return Reject(row, "unscored", f"none of the {len(samples)} samples could be scored by "
                                               f"{self.accuracy.name}")
            return row
        count(f"pass_rate_bin_{pass_rate_bin(rate):02d}:{name}")
        if self.keep is not None and not self.keep[0] <= rate <= self.keep[1]:
            return Reject(row, "pass_rate", f"pass rate {rate:.4g} ({passed}/{len(scored)} samples with "
                                            f"{self.accuracy.name} >= {self.threshold:g}) outside "
                                            f"[{self.keep[0]:g}, {self.keep[1]:g}]")
        return row

    def _count_usage(self) -> None:
        for key, value in self.generator.take_usage().items():
            self.ctx.stats.count(f"{key}:{self.ctx.step}", value)



def format_histogram(counters: dict[str, float], step: str = "rollout", width: int = 40) -> list[str]:
    """The pass-rate histogram a rollout counted (``pass_rate_bin_K:STEP`` counters), as text lines."""
    bins = [int(counters.get(f"pass_rate_bin_{k:02d}:{step}", 0)) for k in range(11)]
    total = sum(bins)
    if not total:
        return []
    top = max(bins)
    lines = []
    for k, n in enumerate(bins):
        label = "0" if k == 0 else "1" if k == 10 else f"~{k / 10:.1f}"
        bar = "#" * (round(n / top * width) if n else 0)
        lines.append(f"  {label:>4}  {n:>8,}  {bar}")
    return lines
