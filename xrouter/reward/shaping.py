"""THE reward formula: quality and dollar cost in, one scalar out.

Example (shaping="xrouter", λ=3, K=1, cost_max=0.8): a correct answer that cost $0.05 gets
1 × (1 − min(3·0.05, 0.8)) = 0.85; a wrong one gets 0 whatever it cost. With shaping="linear"
(cost_scale=0.01, λ=0.1) the same correct answer gets 1 − 0.1·5 = 0.5 and a wrong one −0.5,
so the policy still learns that a cheap wrong answer beats an expensive wrong answer.
"""

from __future__ import annotations

from typing import overload

import numpy as np
from numpy.typing import NDArray

from xrouter.reward.config import RewardConfig

FloatArray = NDArray[np.float64]


@overload
def shape_reward(quality: float, cost_usd: float, config: RewardConfig, valid: bool = True) -> float: ...
@overload
def shape_reward(
    quality: FloatArray, cost_usd: FloatArray, config: RewardConfig, valid: bool | NDArray[np.bool_] = True
) -> FloatArray: ...


def shape_reward(quality, cost_usd, config, valid=True):  # type: ignore[no-untyped-def]
    """Reward of a trajectory (scalars or equal-shape numpy arrays); an invalid one counts as quality 0."""
    q = np.asarray(quality, dtype=np.float64)
    c = np.asarray(cost_usd, dtype=np.float64)
    ok = np.asarray(valid, dtype=bool)
    if np.isnan(q).any() or np.isnan(c).any():
        raise ValueError("quality and cost_usd must not be NaN (drop or score the missing outcomes first)")
    if (q < 0).any() or (q > 1).any():
        raise ValueError("quality must lie in [0, 1]")
    if (c < 0).any():
        raise ValueError("cost_usd must be >= 0")
    q = np.where(ok, q, 0.0)
    lam, k = config.cost_lambda, config.K
    if config.shaping == "xrouter":
        reward = q * (k - np.minimum(lam * c, config.cost_max))
    elif config.shaping == "linear":
        reward = q * k - lam * c / config.cost_scale
    else:  # "log": ln(1 + cost/scale) keeps a gradient from cents to dollars without exploding
        reward = q * k - lam * np.log1p(c / config.cost_scale)
    reward = reward - np.where(ok, 0.0, config.invalid_penalty)
    if reward.ndim == 0:
        return float(reward)
    return reward
