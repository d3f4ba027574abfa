"""Verifiable rewards of the seed papers, with TRL's reward signature.

    from r1data import rewards
    rewards.names()                                   # every registered reward
    fn = rewards.load("scene30k.perception")          # a plain function
    fn = rewards.load("xiangqi.good", margin=50)      # parameters bound (a partial keeping __name__)
    fn(prompts=None, completions=["<think>..</think><answer>box: [..]</answer>"], target_box=[[...]])

    GRPOTrainer(..., reward_funcs=[rewards.load("longvideo.total")])

Every reward reads dataset columns as keyword arguments (one value per completion), takes
plain-string or conversational completions and returns ``list[float | None]`` (None: the
reward does not apply to that row). docs/rewards.md lists each formula, its source and what
is uncertain. Register your own with ``@rewards.reward("family.name", columns=(...))``.
"""

from r1data.rewards._core import RewardInfo, backends, info, load, names, reward
from r1data.rewards import (  # noqa: E402,F401 - importing registers the families
    embodied,
    format,
    got,
    got_layout,
    infigui,
    infigui_subgoal,
    longvideo,
    love,
    omni,
    omni_grounding,
    satori,
    scene30k,
    segearth,
    star,
    xiangqi,
)

__all__ = ["RewardInfo", "backends", "info", "load", "names", "reward"]
