"""Reward shaping table tests. Run: .venv/bin/python -m pytest -q tests/reward/test_shaping_on_cpu.py"""

from __future__ import annotations

import math

import numpy as np
import pytest

from xrouter.reward import RewardConfig, shape_reward

# (case, shaping, quality, cost_usd, λ, K, cost_max, cost_scale, valid, expected reward)
CASES = [
    ("xrouter: correct, no call", "xrouter", 1.0, 0.0, 3.0, 1.0, 0.8, 1.0, True, 1.0),
    ("xrouter: correct at $0.01", "xrouter", 1.0, 0.01, 3.0, 1.0, 0.8, 1.0, True, 0.97),
    ("xrouter: correct at $0.05", "xrouter", 1.0, 0.05, 3.0, 1.0, 0.8, 1.0, True, 0.85),
    ("xrouter: correct at $0.10", "xrouter", 1.0, 0.10, 3.0, 1.0, 0.8, 1.0, True, 0.70),
    ("xrouter: over budget hits the floor", "xrouter", 1.0, 5.0, 3.0, 1.0, 0.8, 1.0, True, 0.2),
    ("xrouter: README λ=2 floor", "xrouter", 1.0, 0.30, 2.0, 1.0, 0.6, 1.0, True, 0.4),
    ("xrouter: wrong answer is 0 whatever the cost", "xrouter", 0.0, 0.5, 3.0, 1.0, 0.8, 1.0, True, 0.0),
    ("xrouter: failed call costs 0", "xrouter", 1.0, 0.0, 3.0, 1.0, 0.8, 1.0, True, 1.0),
    ("xrouter: invalid trajectory", "xrouter", 1.0, 0.05, 3.0, 1.0, 0.8, 1.0, False, 0.0),
    ("xrouter: K scales the reward", "xrouter", 1.0, 0.1, 1.0, 2.0, 0.8, 1.0, True, 1.9),
    ("xrouter: partial credit", "xrouter", 0.5, 0.1, 1.0, 1.0, 0.8, 1.0, True, 0.45),
    ("linear: correct, no call", "linear", 1.0, 0.0, 0.1, 1.0, 0.8, 0.01, True, 1.0),
    ("linear: correct at 5 cents", "linear", 1.0, 0.05, 0.1, 1.0, 0.8, 0.01, True, 0.5),
    ("linear: wrong still pays for cost", "linear", 0.0, 0.05, 0.1, 1.0, 0.8, 0.01, True, -0.5),
    ("linear: no saturation at $5", "linear", 1.0, 5.0, 0.1, 1.0, 0.8, 0.01, True, 1.0 - 50.0),
    ("linear: invalid keeps the cost", "linear", 1.0, 0.02, 0.1, 1.0, 0.8, 0.01, False, -0.2),
    ("log: correct at one scale unit", "log", 1.0, 0.01, 0.5, 1.0, 0.8, 0.01, True, 1.0 - 0.5 * math.log(2)),
    ("log: wrong expensive < wrong cheap", "log", 0.0, 1.0, 0.5, 1.0, 0.8, 0.01, True, -0.5 * math.log(101)),
    ("λ=0 ignores cost", "linear", 1.0, 3.0, 0.0, 1.0, 0.8, 1.0, True, 1.0),
]


@pytest.mark.parametrize(
    "shaping,quality,cost,lam,k,cost_max,scale,valid,expected",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_shape_reward_table(shaping, quality, cost, lam, k, cost_max, scale, valid, expected):
    """Each (shaping, quality, cost, λ, K, cost_max) row gives the expected reward."""
    config = RewardConfig(shaping=shaping, cost_lambda=lam, K=k, cost_max=cost_max, cost_scale=scale)
    assert shape_reward(quality, cost, config, valid) == pytest.approx(expected, abs=1e-12)


def test_invalid_penalty_is_subtracted():
    """invalid_penalty lowers only invalid trajectories."""
    config = RewardConfig(shaping="xrouter", invalid_penalty=0.25)
    assert shape_reward(1.0, 0.0, config, valid=False) == pytest.approx(-0.25)
    assert shape_reward(1.0, 0.0, config, valid=True) == pytest.approx(1.0)


def test_improved_shapings_rank_cheap_wrong_above_expensive_wrong():
    """linear and log keep a cost signal on wrong answers; xrouter does not."""
    for shaping in ("linear", "log"):
        config = RewardConfig(shaping=shaping, cost_lambda=0.1, cost_scale=0.01)
        assert shape_reward(0.0, 0.001, config) > shape_reward(0.0, 1.0, config)
    upstream = RewardConfig(shaping="xrouter")
    assert shape_reward(0.0, 0.001, upstream) == shape_reward(0.0, 1.0, upstream) == 0.0


def test_improved_shapings_do_not_saturate():
    """Between $0.27 and $5 the xrouter reward is flat; linear and log keep falling."""
    upstream = RewardConfig(shaping="xrouter", cost_lambda=3.0, cost_max=0.8)
    assert shape_reward(1.0, 0.27, upstream) == shape_reward(1.0, 5.0, upstream)
    for shaping in ("linear", "log"):
        config = RewardConfig(shaping=shaping, cost_lambda=0.1, cost_scale=0.01)
        assert shape_reward(1.0, 0.27, config) > shape_reward(1.0, 5.0, config)


def test_shape_reward_vectorised_matches_scalar():
    """Arrays give the same numbers as scalar calls (the frontier relies on it)."""
    config = RewardConfig(shaping="xrouter", cost_lambda=2.0)
    q, c = np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.1, 0.1], [0.5, 0.0]])
    out = shape_reward(q, c, config)
    assert out.shape == (2, 2)
    assert out.tolist() == [
        [shape_reward(float(a), float(b), config) for a, b in zip(qr, cr, strict=False)]
        for qr, cr in zip(q, c, strict=False)
    ]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"shaping": "exp"}, "shaping='exp' is unknown"),
        ({"cost_lambda": -1}, "cost_lambda=-1.0 must be >= 0"),
        ({"cost_scale": 0}, "cost_scale=0.0 must be > 0"),
        ({"K": float("nan")}, "K=nan must be a finite number"),
        ({"cost_max": "0.8"}, "cost_max='0.8' must be a finite number"),
    ],
)
def test_config_rejects_bad_values_with_a_clear_message(kwargs, message):
    """Bad RewardConfig fields fail at construction, naming the field."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RewardConfig(**kwargs)


def test_config_from_verl_kwargs_and_unknown_names():
    """reward_K maps to K; a typo in a parameter name raises instead of silently using a default."""
    config = RewardConfig.from_kwargs({"shaping": "log", "cost_lambda": 2, "reward_K": 1.5, "cost_max": 0.6})
    assert (config.shaping, config.cost_lambda, config.K, config.cost_max) == ("log", 2.0, 1.5, 0.6)
    with pytest.raises(ValueError, match="unknown reward parameter 'cost_lamda'"):
        RewardConfig.from_kwargs({"cost_lamda": 2})


def test_shape_reward_rejects_negative_cost_and_out_of_range_quality():
    """Negative cost or quality outside [0, 1] is a caller bug, not a reward."""
    config = RewardConfig()
    with pytest.raises(ValueError, match="cost_usd must be >= 0"):
        shape_reward(1.0, -0.1, config)
    with pytest.raises(ValueError, match="quality must lie in"):
        shape_reward(1.5, 0.0, config)
