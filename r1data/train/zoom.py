"""LOVE-R1's decoupled GRPO on TRL's ``GRPOTrainer`` (recipes with ``data.zoom``).

What the released trainer does (HumanMLLM/LOVE-R1 @ aa1facb, ``trainer/grpo_trainer.py``,
``_generate_and_score_completions`` and ``_prepare_inputs``), and how it is done here:

* **Two single-step generations per rollout.** Step 1 sees the full video (and the row's zoomed
  intervals; none for a grounding row, whose prompt ends with ``"I need to zoom in on the
  video.\\n\\n"``). Step 2 sees the intervals :func:`r1data.rewards.love.step2_intervals` gives: the
  step-1 zoom appended for a multiple-choice row (its clip at the slow budget), the row's own
  intervals for a grounding row. Both are sampled with the trainer's generation config.
* **Rewards per step** (:func:`r1data.rewards.love.decoupled`), weighted by the recipe's reward
  weights: ``love.format`` is the format term, ``love.accuracy`` the accuracy term, ``love.total``
  both (the released trainer routes its two inline scores by the reward functions' names the same
  way). A multiple-choice rollout whose step 2 zooms again is masked: its completion masks are
  zeroed and it is left out of its group's mean and std.
* **Advantages per step**: ``(r - mean) / (std + 1e-4)`` over each group of ``num_generations``
  (unmasked members; NaN-aware, so a group with one unmasked member gives it 0, as upstream).
* **Which sample trains when.** Upstream runs ``num_iterations 2``: the first optimizer step of a
  generation trains on the step-1 samples, the second on the buffered step-2 samples (a
  multiple-choice row's step-2 sample carries its step-1 advantage, a grounding row's its own).
  :meth:`ZoomGRPOTrainer._prepare_inputs` keeps both batches and alternates the same way, so
  ``num_iterations`` must be even. Old log-probs are those of the generating policy (TRL computes
  them whenever ``num_iterations > 1``), so the step-2 update is clipped against it as upstream.

Frames are TRL images (one per frame), not Qwen2.5-VL videos: see docs/love.md. vLLM generation is
not supported by this trainer (the two-step rollout needs the clip of step 1's answer).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from accelerate.utils import gather
from trl import GRPOTrainer
from trl.models import unwrap_model_for_generation
from trl.models.utils import disable_gradient_checkpointing
from trl.trainer.utils import (nanstd, shuffle_sequence_dict, split_pixel_values_by_grid, split_tensor_dict,
                               unsplit_pixel_values_by_grid)

from r1data.errors import UsageError
from r1data.rewards.love import ZOOM_PREFIX, decoupled, step2_intervals
from r1data.train.recipe import ZoomSpec
from r1data.train.zoom_data import ZoomViews, first_step_intervals

# reward name -> (weight of the format term, weight of the accuracy term)
REWARD_TERMS = {"love.format": (1.0, 0.0), "love.accuracy": (0.0, 1.0), "love.total": (1.0, 1.0)}


def term_weights(names: list[str], weights: list[float]) -> tuple[float, float]:
    """The format and accuracy weights of a recipe's rewards; a reward that is not LOVE-R1's is an error."""
    fmt = acc = 0.0
    for name, w in zip(names, weights):
        if name not in REWARD_TERMS:
            raise UsageError(f"the zoom-in (LOVE-R1) trainer scores each step itself: its rewards must be among "
                             f"{', '.join(REWARD_TERMS)}, got {name!r}")
        fmt += w * REWARD_TERMS[name][0]
        acc += w * REWARD_TERMS[name][1]
    return fmt, acc


def group_advantages(rewards: torch.Tensor, masked: torch.Tensor, group: int, scale: str) -> torch.Tensor:
    """Per-group advantages of one step, masked rollouts left out of the statistics (and given 0)."""
    r = rewards.clone()
    r[masked] = torch.nan
    grouped = r.view(-1, group)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(group)
    adv = r - mean
    if scale == "group":
        std = nanstd(grouped, dim=1).view(-1).repeat_interleave(group) if group > 1 else torch.zeros_like(r)
        adv = adv / (std + 1e-4)
    elif scale == "batch":
        adv = adv / (nanstd(r).expand_as(r) + 1e-4)
    return torch.nan_to_num(adv, nan=0.0)


class ZoomGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose rollouts are LOVE-R1's two zoom-in steps (see the module docstring).

    Its dataset rows are :meth:`r1data.train.zoom_data.ZoomFormatter.grpo`'s: the question, the video,
    the zoom and reward columns; ``zoom`` is the recipe's ``data.zoom``."""

    def __init__(self, *args: Any, zoom: ZoomSpec, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.num_iterations % 2:
            raise UsageError(f"grpo.config.num_iterations must be even for LOVE-R1's decoupled GRPO (one "
                             f"iteration on each step's samples; the paper: 2), got {self.num_iterations}")
        if self.use_vllm or getattr(self, "use_transformers_continuous_batching", False):
            raise UsageError("the zoom-in trainer generates with transformers: set use_vllm: false")
        self.zoom = zoom
        self.views = ZoomViews(zoom, keep_videos=max(4, self.args.per_device_train_batch_size))
        self.w_format, self.w_accuracy = term_weights(list(self.reward_func_names), self.reward_weights.tolist())
        self._zoom_buffers: tuple[list, list] | None = None

    # -- the schedule: step-1 samples, then step-2 samples -----------------------------------------
    def _prepare_inputs(self, generation_batch: Any) -> dict[str, Any]:
        mode = "train" if self.model.training else "eval"
        if mode == "eval":
            return self._zoom_rollout(generation_batch)[0]
        spg = self.args.steps_per_generation
        every = spg * self.num_iterations
        if self._step % every == 0 or self._zoom_buffers is None:
            first, second = self._zoom_rollout(generation_batch)
            self._zoom_buffers = (self._chunks(first), self._chunks(second))
        k = self._step % every
        return self._zoom_buffers[(k // spg) % 2][k % spg]

    def _chunks(self, batch: dict) -> list[dict]:
        batch = shuffle_sequence_dict(split_pixel_values_by_grid(batch))
        return [unsplit_pixel_values_by_grid(b) for b in split_tensor_dict(batch, self.args.steps_per_generation)]

    # -- one rollout batch -------------------------------------------------------------------------
    def _zoom_rollout(self, inputs: list[dict]) -> tuple[dict, dict]:
        mode = "train" if self.model.training else "eval"
        group = self.num_generations if mode == "train" else self.num_generations_eval
        z = self.zoom
        prefixes = [ZOOM_PREFIX if x.get(z.tgt) is not None else "" for x in inputs]
        enc1 = self._encode(inputs, [first_step_intervals(x, z) for x in inputs], prefixes)
        ids1, mask1, texts1 = self._sample(enc1)
        shown = [step2_intervals(t, float(x[z.duration]), x.get(z.intervals), x.get(z.tgt))
                 for t, x in zip(texts1, inputs)]
        enc2 = self._encode(inputs, shown, prefixes)
        ids2, mask2, texts2 = self._sample(enc2)
        scores = [decoupled(t1, t2, x[z.duration], x.get(z.intervals), x.get("answer"), x.get(z.tgt))
                  for t1, t2, x in zip(texts1, texts2, inputs)]

        device = self.accelerator.device
        masked = torch.tensor([s.masked for s in scores], dtype=torch.bool, device=device)
        terms = torch.tensor([[*s.first, *s.second] for s in scores], dtype=torch.float32, device=device)
        r1 = self.w_format * terms[:, 0] + self.w_accuracy * terms[:, 1]
        r2 = self.w_format * terms[:, 2] + self.w_accuracy * terms[:, 3]
        all_masked, all_r1, all_r2 = gather(masked), gather(r1), gather(r2)
        adv1 = group_advantages(all_r1, all_masked, group, self.scale_rewards)
        adv2 = group_advantages(all_r2, all_masked, group, self.scale_rewards)
        part = slice(self.accelerator.process_index * len(inputs), (self.accelerator.process_index + 1) * len(inputs))
        adv1, adv2 = adv1[part], adv2[part]
        grounding = torch.tensor([x.get(z.tgt) is not None for x in inputs], dtype=torch.bool, device=device)
        adv2 = torch.where(grounding, adv2, adv1)   # a multiple-choice answer step trains on step 1's advantage

        self._log_rollout(mode, gather(terms), all_masked, all_r1, gather(grounding),
                          [s.zoomed for s in scores], mask1, mask2)
        return (self._batch(enc1, ids1, mask1, adv1, masked), self._batch(enc2, ids2, mask2, adv2, masked))

    def _encode(self, inputs: list[dict], intervals: list[list[list[int]]], prefixes: list[str]) -> Any:
        """The processor's tensors for one step's prompts (left-padded), prefixes after the generation prompt."""
        texts, images = [], []
        for x, shown, prefix in zip(inputs, intervals, prefixes):
            parts, frames = self.views.content(x["zoom_video"], x["zoom_question"], shown)
            turns = ([{"role": "system", "content": [{"type": "text", "text": x["zoom_system"]}]}]
                     if x.get("zoom_system") else [])
            turns.append({"role": "user", "content": parts})
            texts.append(self.processing_class.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
                         + prefix)
            images.append(frames)
        enc = self.processing_class(text=texts, images=images, padding=True, padding_side="left",
                                    return_tensors="pt", add_special_tokens=False)
        enc["num_images"] = [len(f) for f in images]
        return enc

    def _sample(self, enc: Any) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """One completion per prompt; ids after the first EOS padded and masked; the decoded texts."""
        device = self.accelerator.device
        inputs = {k: v.to(device) for k, v in enc.items() if isinstance(v, torch.Tensor)}
        with (unwrap_model_for_generation(self.model_wrapped, self.accelerator,
                                          gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                                          generation_kwargs=self.generation_kwargs,
                                          gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs)
              as unwrapped, torch.no_grad()):
            out = unwrapped.generate(**inputs, generation_config=self.generation_config)
        completion = out[:, inputs["input_ids"].size(1):]
        is_eos = torch.isin(completion, torch.tensor(self.eos_token_ids, device=device))
        eos_idx = torch.full((is_eos.size(0),), is_eos.size(1), dtype=torch.long, device=device)
        eos_idx[is_eos.any(dim=1)] = is_eos.int().argmax(dim=1)[is_eos.any(dim=1)]
        positions = torch.arange(is_eos.size(1), device=device).expand(is_eos.size(0), -1)
        mask = (positions <= eos_idx.unsqueeze(1)).int()
        completion = completion.masked_fill(mask == 0, self._tokenizer.pad_token_id)
        texts = self.processing_class.batch_decode(completion, skip_special_tokens=True)
        return completion, mask, texts

    def _batch(self, enc: Any, completion_ids: torch.Tensor, completion_mask: torch.Tensor,
               advantages: torch.Tensor, masked: torch.Tensor) -> dict[str, Any]:
        """TRL's training batch for one step's samples (old and reference log-probs included)."""
        device = self.accelerator.device
        completion_mask = completion_mask.clone()
        completion_mask[masked] = 0
        prompt_ids, prompt_mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention = torch.cat([prompt_mask, completion_mask], dim=1)
        keep = completion_ids.size(1)
        forward: dict[str, Any] = {k: enc[k].to(device) for k in ("pixel_values", "image_grid_thw") if k in enc}
        if "mm_token_type_ids" in enc:
            mm = enc["mm_token_type_ids"].to(device)
            forward["mm_token_type_ids"] = torch.cat([mm, mm.new_zeros(completion_ids.shape)], dim=1)
        num_images = list(enc["num_images"])
        out: dict[str, Any] = {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "completion_ids": completion_ids,
                               "completion_mask": completion_mask, "advantages": advantages,
                               "num_items_in_batch": gather(completion_mask.sum()).sum(), "num_images": num_images,
                               **forward}
        batch_size = self.args.per_device_train_batch_size
        with torch.no_grad(), disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs):
            if self.args.gradient_accumulation_steps % (self.args.steps_per_generation * self.num_iterations):
                out["old_per_token_logps"] = self._get_per_token_logps_and_entropies(
                    self.model, ids, attention, keep, batch_size=batch_size, num_images=num_images, **forward)[0]
            if self.beta != 0.0 and self.ref_model is not None:
                out["ref_per_token_logps"] = self._get_per_token_logps_and_entropies(
                    self.ref_model, ids, attention, keep, batch_size=batch_size, num_images=num_images, **forward)[0]
            elif self.beta != 0.0:
                raise UsageError("beta != 0 with LoRA is not supported by the zoom-in trainer (LOVE-R1: beta 0)")
        return out

    def _log_rollout(self, mode: str, terms: torch.Tensor, masked: torch.Tensor, rewards: torch.Tensor,
                     grounding: torch.Tensor, zoomed: list[bool], mask1: torch.Tensor, mask2: torch.Tensor) -> None:
        m = self._metrics[mode]
        for name in self.reward_func_names:       # step 1's terms, as upstream logs them
            wf, wa = REWARD_TERMS[name]
            values = wf * terms[:, 0] + wa * terms[:, 1]
            m[f"rewards/{name}/mean"].append(values.mean().item())
            m[f"rewards/{name}/std"].append(values.std().item() if values.numel() > 1 else 0.0)
        m["reward"].append(rewards.mean().item())
        m["zoom/masked_fraction"].append(masked.float().mean().item())
        m["zoom/grounding_fraction"].append(grounding.float().mean().item())
        m["zoom/step1_zoom_fraction"].append(float(sum(zoomed)) / max(1, len(zoomed)))
        m["zoom/step2_accuracy"].append(terms[:, 3].mean().item())
        m["completions/mean_length"].append(gather(mask1.sum(1).float()).mean().item())
        m["completions/step2_mean_length"].append(gather(mask2.sum(1).float()).mean().item())
        if not math.isfinite(m["reward"][-1]):
            m["reward"][-1] = 0.0
