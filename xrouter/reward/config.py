"""Reward parameters: one frozen dataclass, validated once at construction.

The same object drives training (verl `compute_score` kwargs), benchmarks and `xrouter frontier`,
so validation ranks checkpoints with exactly the λ that training used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

Shaping = Literal["xrouter", "linear", "log"]
SHAPINGS: tuple[str, ...] = ("xrouter", "linear", "log")

# verl kwarg name -> RewardConfig field. `reward_K` keeps the upstream spelling so existing
# configs carry over; everything else uses the field name directly.
_KWARG_ALIASES = {"reward_K": "K", "reward_k": "K"}


@dataclass(frozen=True)
class RewardConfig:
    """How quality and dollar cost combine into the scalar reward.

    Args:
        shaping: "xrouter" = quality × (K − min(λ·cost, cost_max)) (upstream, for reproduction);
            "linear" = quality·K − λ·cost/cost_scale; "log" = quality·K − λ·ln(1 + cost/cost_scale).
            The last two keep a cost signal on wrong answers and never saturate.
        cost_lambda: λ, the weight of cost (per `cost_scale` dollars for linear/log, per dollar for xrouter).
        K: reward of a perfect, free answer.
        cost_max: cap on the xrouter penalty λ·cost (ignored by linear/log).
        cost_scale: dollars that count as one unit of cost in linear/log (e.g. 0.01 = one cent).
        invalid_penalty: subtracted from the reward of an invalid trajectory (no answer returned).
    """

    shaping: Shaping = "xrouter"
    cost_lambda: float = 3.0
    K: float = 1.0
    cost_max: float = 0.8
    cost_scale: float = 1.0
    invalid_penalty: float = 0.0

    def __post_init__(self) -> None:
        if self.shaping not in SHAPINGS:
            raise ValueError(f"shaping={self.shaping!r} is unknown; choose one of {', '.join(SHAPINGS)}")
        for name in ("cost_lambda", "K", "cost_max", "cost_scale", "invalid_penalty"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name}={value!r} must be a finite number")
            object.__setattr__(self, name, float(value))
        if self.cost_lambda < 0:
            raise ValueError(f"cost_lambda={self.cost_lambda} must be >= 0 (0 ignores cost)")
        if self.cost_max < 0:
            raise ValueError(f"cost_max={self.cost_max} must be >= 0")
        if self.cost_scale <= 0:
            raise ValueError(f"cost_scale={self.cost_scale} must be > 0 (dollars per cost unit, e.g. 0.01)")
        if self.invalid_penalty < 0:
            raise ValueError(f"invalid_penalty={self.invalid_penalty} must be >= 0 (it is subtracted)")

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> RewardConfig:
        """Build from verl-style kwargs (`shaping`, `cost_lambda`, `reward_K`, `cost_max`, ...); unknown keys raise."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in kwargs.items():
            name = _KWARG_ALIASES.get(key, key)
            if name not in known:
                accepted = sorted(known - {"K"} | set(_KWARG_ALIASES))
                raise ValueError(f"unknown reward parameter {key!r}; accepted: {', '.join(accepted)}")
            if name in values:
                raise ValueError(f"reward parameter {name!r} given twice (as {key!r} and an alias)")
            values[name] = value
        return cls(**values)
