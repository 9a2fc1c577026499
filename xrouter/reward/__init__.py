"""Reward: quality scorers, the code sandbox, THE cost-aware reward formula and the reward frontier.

    from xrouter.reward import RewardConfig, compute_score, shape_reward
    shape_reward(1.0, 0.05, RewardConfig(shaping="xrouter", cost_lambda=3.0))   # 0.85

verl: `reward.custom_reward_function.path=pkg://xrouter.reward`, `.name=compute_score`, and the
reward parameters under `+reward.custom_reward_function.reward_kwargs.{shaping,cost_lambda,reward_K,...}`.
"""

from __future__ import annotations

from xrouter.reward.compute import compute_score
from xrouter.reward.config import SHAPINGS, RewardConfig
from xrouter.reward.shaping import shape_reward

__all__ = ["SHAPINGS", "RewardConfig", "compute_score", "shape_reward"]
