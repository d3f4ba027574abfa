"""Models in the loop: generating completions for the rows of a build.

``--model`` names an API model (an annotator profile: any OpenAI-compatible server, vLLM
included, or Gemini) or a local checkpoint folder written by ``r1data train``
(:mod:`r1data.models.resolve`). The prompt is the one the corpus's training recipe builds
(:mod:`r1data.models.prompts`); an API model generates through the annotator client
(:mod:`r1data.models.api`: limits, retries, cache, cost), a local one with transformers,
batched (:mod:`r1data.models.local`).

Used by ``r1data eval --model`` (:mod:`r1data.models.evaluate`), the ``rollout`` step and
``r1data rollout`` (:mod:`r1data.steps.rollout`). Users' guide: docs/models.md.
"""

from __future__ import annotations

from typing import Any

from r1data.models.prompts import Prompt, PromptBuilder, request_messages
from r1data.models.resolve import ModelRef, checkpoint_dir, resolve_model

# what a local model generates at most when neither --max-new-tokens nor the recipe's
# grpo.config.max_completion_length says (an API model uses its profile's max_output_tokens)
DEFAULT_MAX_NEW_TOKENS = 512


def generation_settings(ref: ModelRef, builder: PromptBuilder, *, sampling: bool,
                        temperature: float | None = None, max_new_tokens: int | None = None) -> dict[str, Any]:
    """The temperature and token limit to generate with.

    ``sampling`` (rollouts): the recipe's GRPO temperature (else 1.0), as training samples;
    otherwise (eval) greedy, temperature 0. The token limit: an API profile's
    ``max_output_tokens`` (the profile knows what its model needs, thinking included), a local
    model's GRPO ``max_completion_length`` from the recipe. Explicit values win."""
    defaults = builder.generation_defaults()
    if temperature is None:
        temperature = (defaults["temperature"] if defaults["temperature"] is not None else 1.0) if sampling else 0.0
    if max_new_tokens is None:
        if ref.kind == "api":
            max_new_tokens = ref.profile.max_output_tokens
        else:
            max_new_tokens = defaults["max_new_tokens"] or DEFAULT_MAX_NEW_TOKENS
    return {"temperature": float(temperature), "max_new_tokens": int(max_new_tokens)}


def open_generator(ref: ModelRef, builder: PromptBuilder, *, temperature: float, max_new_tokens: int,
                   workers: int = 1, refresh: bool = False, batch_size: int = 8) -> Any:
    """The generator of a resolved model: ``generate(prompts, samples, seed) -> [[text | error]]``,
    ``take_usage()``, ``settings``, ``close()``."""
    if ref.kind == "api":
        from r1data.models.api import ApiGenerator

        return ApiGenerator(ref, temperature=temperature, max_new_tokens=max_new_tokens, workers=workers,
                            refresh=refresh)
    from r1data.models.local import LocalGenerator

    data = builder.recipe.data
    return LocalGenerator(ref, temperature=temperature, max_new_tokens=max_new_tokens, batch_size=batch_size,
                          dtype=builder.recipe.dtype, min_pixels=data.min_pixels, max_pixels=data.max_pixels)


__all__ = ["DEFAULT_MAX_NEW_TOKENS", "ModelRef", "Prompt", "PromptBuilder", "checkpoint_dir", "generation_settings",
           "open_generator", "request_messages", "resolve_model"]
