"""The row's own λ: `compute_score` uses `extra_info["cost_lambda"]` when present, the kwarg otherwise.

Run: .venv/bin/python -m pytest -q tests/reward/test_row_lambda_on_cpu.py
"""

from __future__ import annotations

import numpy as np
import pytest

from xrouter.reward import compute_score

GT = "Janet sells 9 eggs at $2 each. #### 18"
TRAJECTORY = {"xrouter_answer": "#### 18", "xrouter_cost_usd": 0.02, "xrouter_valid": True,
              "xrouter_finish": "select_response", "xrouter_num_turns": 2, "xrouter_mode": "agent",
              "xrouter_calls": [{"model": "gpt-5-mini", "cost_usd": 0.02, "success": True}]}  # fmt: skip
KWARGS = {"shaping": "xrouter", "cost_lambda": 3.0, "reward_K": 1.0, "cost_max": 0.8}


@pytest.mark.parametrize("row_lambda", [1.0, 20.0])
def test_the_same_trajectory_at_two_row_lambdas_gets_the_rewards_of_those_lambdas(row_lambda):
    """A row at λ scores exactly like the config at λ: 1 - λ * 0.02 for this right answer."""
    row = compute_score("openai/gsm8k", "", GT, {**TRAJECTORY, "cost_lambda": row_lambda}, **KWARGS)
    configured = compute_score("openai/gsm8k", "", GT, TRAJECTORY, **{**KWARGS, "cost_lambda": row_lambda})
    assert row == configured
    assert row["score"] == pytest.approx(1.0 - row_lambda * 0.02) and row["cost_lambda"] == row_lambda


@pytest.mark.parametrize("absent", [None, float("nan")])
def test_rows_without_lambda_use_the_configured_one(absent):
    """No λ in the row (or a null read back from parquet): the kwarg's λ, reported as cost_lambda."""
    extra = dict(TRAJECTORY) if absent is None else {**TRAJECTORY, "cost_lambda": absent}
    out = compute_score("openai/gsm8k", "", GT, extra, **KWARGS)
    assert out["score"] == pytest.approx(1.0 - 3.0 * 0.02) and out["cost_lambda"] == 3.0


def test_a_numpy_lambda_from_a_parquet_column_is_read():
    """verl hands parquet numbers over as numpy scalars."""
    out = compute_score("openai/gsm8k", "", GT, {**TRAJECTORY, "cost_lambda": np.float64(10.0)}, **KWARGS)
    assert out["score"] == pytest.approx(0.8) and isinstance(out["cost_lambda"], float)


@pytest.mark.parametrize("bad", [-1.0, "3", float("inf"), True])
def test_a_bad_row_lambda_is_an_error_naming_the_field(bad):
    """A broken λ in the data fails loudly instead of training at a wrong cost weight."""
    with pytest.raises(ValueError, match=r"extra_info\['cost_lambda'\]"):
        compute_score("openai/gsm8k", "", GT, {**TRAJECTORY, "cost_lambda": bad}, **KWARGS)
