"""``r1data eval --model``: a model answers the rows of a build, then the usual report scores it.

:func:`generate_predictions` writes the model's completions as a predictions file (``{"id",
"completion"}`` per line, in row order) that ``r1data eval --predictions`` reads; the report is
then the same as for any predictions file, plus what the model was and what it cost. A row the
model could not be asked about (an image missing, a video that does not decode) or whose
request failed past the retries gets no prediction: it is counted as missing, and its reason is
listed under ``model.failed``.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from r1data.errors import BudgetExhausted, UsageError

# rows per round of generation: bounded memory (images) and a cost check between rounds
CHUNK_ROWS = 256


def model_takes_images(ref: Any) -> bool:
    """Whether the model sees images: an API model is assumed to (a recipe with ``images: none``
    sends none); a local one when its config has a vision tower."""
    if ref.kind == "api":
        return True
    from r1data.train.models import is_vision_model

    return is_vision_model(str(ref.path))


def model_takes_audio(ref: Any) -> bool:
    """Whether the model hears a prompt's audio parts: a local Qwen2.5-Omni (its processor decodes
    them, r1data.train.omni); API models are sent no audio."""
    if ref.kind == "api":
        return False
    from r1data.train.models import is_omni_model

    return is_omni_model(str(ref.path))


def generate_predictions(corpus: str, data: Path, model: str, out_path: Path, *, split: str | None = None,
                         limit: int | None = None, recipe: str | None = None, temperature: float | None = None,
                         max_new_tokens: int | None = None, batch_size: int = 8, refresh: bool = False,
                         max_cost: float | None = None, progress: bool = False,
                         workspace: str | None = None) -> dict[str, Any]:
    """Ask ``model`` about the rows of ``data`` (one ``split``, the first ``limit`` rows) and write
    its completions to ``out_path``. Returns what the report says of the model.

    Everything that can be wrong with the arguments fails before ``out_path`` is written."""
    from r1data import open_corpus
    from r1data.assets import Assets
    from r1data.models import PromptBuilder, generation_settings, open_generator, resolve_model
    from r1data.train.data import RowSkipped

    if limit is not None and limit <= 0:
        raise UsageError(f"--limit must be positive, got {limit}")
    assets = Assets.from_workspace(workspace)
    ref = resolve_model(model, assets)
    built = open_corpus(data)
    if split is not None and split not in built.splits:
        raise UsageError(f"{data} has no split {split!r} (splits: {', '.join(built.splits)})")
    builder = PromptBuilder(corpus, built.manifest.get("schema", {}), built.path, recipe=recipe, assets=assets,
                            vision=model_takes_images(ref), listens=model_takes_audio(ref))
    missing = [c for c in builder.columns if c not in built.schema.names]
    if missing:
        raise UsageError(f"{data}: the recipe's prompt reads columns the build lacks: {', '.join(missing)}")
    settings = generation_settings(ref, builder, sampling=False, temperature=temperature,
                                   max_new_tokens=max_new_tokens)
    table = built.table(split, columns=builder.columns)
    if limit is not None:
        table = table.slice(0, limit)
    generator = open_generator(ref, builder, batch_size=batch_size, refresh=refresh, **settings)
    failed: Counter = Counter()
    usage: Counter = Counter()
    generated = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=table.num_rows, desc=f"generate {Path(model).name}", unit=" rows", file=sys.stderr,
                   dynamic_ncols=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    stopped = None
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for start in range(0, table.num_rows, CHUNK_ROWS):
                rows = table.slice(start, CHUNK_ROWS).to_pylist()
                prompts, asked = [], []
                for row in rows:
                    try:
                        prompts.append(builder.prompt(row, decode=ref.kind == "local"))
                    except RowSkipped as e:
                        failed[e.reason] += 1
                        continue
                    asked.append(row)
                answers = [a for (a,) in generator.generate(prompts, 1)] if prompts else []
                answers = follow_ups(builder, generator, asked, answers)
                for prompt, completion in zip(prompts, answers):
                    if isinstance(completion, str):
                        f.write(json.dumps({"id": prompt.id, "completion": completion}, ensure_ascii=False) + "\n")
                        generated += 1
                    else:
                        failed[completion.reason] += 1
                usage.update(generator.take_usage())
                if bar is not None:
                    bar.update(len(rows))
                    if usage.get("cost_usd"):
                        bar.set_postfix(cost=f"${usage['cost_usd']:.2f}", refresh=False)
                if max_cost is not None and usage.get("cost_usd", 0) >= max_cost:
                    stopped = start + len(rows)
                    break
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
        generator.close()
        if bar is not None:
            bar.close()
    if stopped is not None and stopped < table.num_rows:
        raise BudgetExhausted(f"--max-cost ${max_cost:.2f} reached (spent ${usage['cost_usd']:.2f}) after {stopped:,} "
                              f"of {table.num_rows:,} rows; the answers are cached: rerun with a higher --max-cost "
                              "to continue without paying twice")
    return {**ref.describe(), **settings, "recipe": str(builder.loaded.file), "rows_asked": table.num_rows,
            "generated": generated, "failed": dict(failed.most_common()), "usage": dict(usage)}


def follow_ups(builder: Any, generator: Any, rows: list[dict], answers: list[Any]) -> list[Any]:
    """A multi-step protocol's next turn (LOVE-R1's zoom-in: the clip a zoom request asked for, see
    :meth:`r1data.models.prompts.PromptBuilder.follow_up`); the answer there replaces the first."""
    from r1data.train.data import RowSkipped

    nxt, where = [], []
    for i, (row, answer) in enumerate(zip(rows, answers)):
        if not isinstance(answer, str):
            continue
        try:
            prompt = builder.follow_up(row, answer)
        except RowSkipped:
            continue
        if prompt is not None:
            nxt.append(prompt)
            where.append(i)
    if not nxt:
        return answers
    out = list(answers)
    for i, (second,) in zip(where, generator.generate(nxt, 1)):
        out[i] = second
    return out
