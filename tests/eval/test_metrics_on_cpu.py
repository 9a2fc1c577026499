"""Cost-quality metrics on hand-made points and outcome frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xrouter.errors import DataError
from xrouter.eval.metrics import aiq, cheapest_correct_oracle, cost_per_correct, pareto_mask, upper_hull


def test_pareto_mask_flags_dominated_points_and_keeps_ties() -> None:
    """A point with another at <= cost and >= quality (one strict) is off the frontier; exact twins both stay."""
    costs = [1.0, 2.0, 3.0, 4.0, 2.0, 3.0]
    quals = [0.5, 0.6, 0.9, 0.8, 0.55, 0.9]
    assert pareto_mask(costs, quals).tolist() == [True, True, True, False, False, True]


def test_upper_hull_drops_points_below_the_chord_and_after_the_peak() -> None:
    """(2, 0.6) lies under the chord from (1, 0.5) to (3, 0.9); (4, 0.8) is worse and dearer than (3, 0.9)."""
    hull = upper_hull([1, 2, 3, 4], [0.5, 0.6, 0.9, 0.8])
    assert hull.tolist() == [[1.0, 0.5], [3.0, 0.9]]


def test_aiq_of_a_known_hull_on_a_linear_axis() -> None:
    """Trapezoid (1..3, 0.5->0.9) has area 1.4 over width 2, so AIQ is 0.7; flat past the last vertex."""
    assert aiq([1, 2, 3], [0.5, 0.6, 0.9], log_cost=False).value == pytest.approx(0.7)
    # extend the range to 5: the hull stays at 0.9 for 2 more units -> (1.4 + 1.8) / 4
    assert aiq([1, 3], [0.5, 0.9], cost_max=5, log_cost=False).value == pytest.approx(0.8)
    # start the range at 0: nothing is achievable before the first vertex -> (0 + 1.4) / 3
    assert aiq([1, 3], [0.5, 0.9], cost_min=0, log_cost=False).value == pytest.approx(1.4 / 3)


def test_aiq_on_a_log_cost_axis_matches_numerical_integration() -> None:
    """Quality linear in cost between (1, 0.5) and (10, 1.0), integrated over log10 cost from 1 to 100."""
    result = aiq([1, 10, 100], [0.5, 1.0, 1.0])
    u = np.linspace(0.0, 2.0, 200001)
    q = np.interp(10**u, [1, 10, 100], [0.5, 1.0, 1.0])
    assert result.value == pytest.approx(np.trapezoid(q, u) / 2.0, abs=1e-7)
    assert result.log_cost and "log10" in result.describe()


def test_aiq_rejects_a_nonpositive_range_on_the_log_axis() -> None:
    """log10 of 0 is undefined, so a range starting at 0 needs the linear axis."""
    with pytest.raises(DataError, match="cost_min > 0"):
        aiq([0.0, 1.0], [0.2, 0.4])


def test_cost_per_correct() -> None:
    """Total dollars over correct answers; infinite when nothing was right."""
    assert cost_per_correct(1.5, 3) == pytest.approx(0.5)
    assert math.isinf(cost_per_correct(1.0, 0))


def test_cheapest_correct_oracle_picks_the_cheapest_right_model_or_the_cheapest_overall() -> None:
    """q1: b and c are right, b is cheaper; q2: nobody is right, a is cheapest; q3: only c is right."""
    scores = pd.DataFrame({"a": [0, 0, 0], "b": [1, 0, 0], "c": [1, 0, 1]}, index=["q1", "q2", "q3"], dtype=float)
    costs = pd.DataFrame({"a": [1, 1, 1], "b": [2, 3, 2], "c": [5, 4, 9]}, index=["q1", "q2", "q3"], dtype=float)
    oracle = cheapest_correct_oracle(scores, costs)
    assert oracle["model"].tolist() == ["b", "a", "c"]
    assert oracle["score"].tolist() == [1.0, 0.0, 1.0]
    assert oracle["cost_usd"].tolist() == [2.0, 1.0, 9.0]


def test_oracle_refuses_missing_outcomes() -> None:
    """A NaN outcome must be dropped before computing the oracle."""
    scores = pd.DataFrame({"a": [1.0, np.nan]}, index=["q1", "q2"])
    costs = pd.DataFrame({"a": [1.0, 1.0]}, index=["q1", "q2"])
    with pytest.raises(DataError, match="complete"):
        cheapest_correct_oracle(scores, costs)
