"""Omni-R1's length bonus (its trainer's ``len_control``), for recipes with ``grpo.len_control``.

What the released trainer does (aim-uofa/Omni-R1 @ 1de42f8, ``trainer/grpo_trainer.py``,
``compute_loss``; on by default, ``len_control: true`` in its scripts): after the rewards of a
group of completions are computed, if more than one completion has accuracy above 0.1, each of
those whose length (completion tokens up to and including EOS) lies in [320, 750] gets +1 on its
total reward. Its accuracy is its first reward function, ``accuracy_reward``; here the recipe names
the rewards that make up the accuracy (omni: ``omni.grounded_iou`` for RefAVS rows,
``omni.vos`` for video rows; a reward that does not apply to a row is None and counts 0).

The bonus is its own reward column, ``len_control`` (weight 1, added to the total as upstream),
so TRL logs it as ``rewards/len_control/mean`` beside the others. Upstream's batch is one prompt
per device, so its batch is the group; here each group of ``num_generations`` is taken alone.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

NAME = "len_control"


def placeholder() -> Any:
    """The reward function standing for the bonus in TRL's list (its values are filled in by
    :class:`LenControlMixin`; on its own it gives 0)."""

    def len_control(completions: list, **kwargs: Any) -> list[float]:
        return [0.0] * len(completions)

    return len_control


def length_bonus(accuracy: torch.Tensor, lengths: torch.Tensor, group: int, spec: Any) -> torch.Tensor:
    """The bonus of each completion: ``accuracy`` (completions x accuracy rewards, NaN where a
    reward does not apply), ``lengths`` in tokens, groups of ``group`` consecutive completions."""
    acc = torch.nan_to_num(accuracy.float(), nan=0.0).sum(dim=1)
    accurate = acc > spec.above
    in_range = (lengths >= spec.min_tokens) & (lengths <= spec.max_tokens)
    out = torch.zeros_like(acc)
    for start in range(0, acc.numel(), group):
        g = slice(start, start + group)
        if int(accurate[g].sum()) > 1:
            out[g] = (accurate[g] & in_range[g]).float() * spec.bonus
    return out


class LenControlMixin:
    """Fills the ``len_control`` column of a GRPOTrainer's rewards (module docstring). Put before
    ``GRPOTrainer`` in the bases; ``len_control`` is the recipe's ``LenControlSpec`` or None."""

    def __init__(self, *args: Any, len_control: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.len_control = len_control
        if len_control is not None:
            from r1data.errors import UsageError

            names = list(self.reward_func_names)
            missing = [n for n in [NAME, *len_control.accuracy] if n not in names]
            if missing:
                raise UsageError(f"grpo.len_control: the rewards of this run are {', '.join(names)}; "
                                 f"not among them: {', '.join(missing)}")
            self._len_column = names.index(NAME)
            self._accuracy_columns = [names.index(n) for n in len_control.accuracy]

    def _calculate_rewards(self, inputs: Any, prompts: Any, completions: Any, completion_ids_list: Any) -> Any:
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if self.len_control is None:
            return rewards
        from accelerate.utils import gather

        lengths = gather(torch.tensor([len(ids) for ids in completion_ids_list], device=rewards.device))
        rewards[:, self._len_column] = length_bonus(rewards[:, self._accuracy_columns], lengths,
                                                    self.num_generations, self.len_control)
        return rewards


class LenControlGRPOTrainer(LenControlMixin, GRPOTrainer):
    """TRL's GRPOTrainer with the length bonus when the recipe has one (the plain trainer otherwise)."""
