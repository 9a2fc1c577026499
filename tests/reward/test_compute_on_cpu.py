"""verl entry point tests. Run: .venv/bin/python -m pytest -q tests/reward/test_compute_on_cpu.py"""

from __future__ import annotations

import math

import pytest

from xrouter.reward import compute_score

GT = "Janet sells 9 eggs at $2 each. #### 18"
KEYS = {"score", "acc", "quality", "cost_usd", "num_calls", "num_failed_calls", "num_turns", "valid", "no_call"}


def _traj(answer="#### 18", cost=0.05, valid=True, finish="select_response", calls=None):
    calls = calls if calls is not None else [{"model": "gpt-5-mini", "tool_name": "call_gpt_5_mini", "cost_usd": cost,
                                              "success": True}]  # fmt: skip
    return {"xrouter_answer": answer, "xrouter_cost_usd": cost, "xrouter_valid": valid, "xrouter_finish": finish,
            "xrouter_calls": calls, "xrouter_num_turns": 2, "xrouter_mode": "agent"}  # fmt: skip


# (case, extra_info, kwargs, expected score, expected acc)
CASES = [
    ("correct via select_response", _traj(), {"cost_lambda": 3.0}, 0.85, 1.0),
    ("wrong answer, upstream shaping", _traj(answer="#### 17"), {"cost_lambda": 3.0}, 0.0, 0.0),
    (
        "wrong answer, linear keeps cost",
        _traj(answer="#### 17"),
        {"shaping": "linear", "cost_lambda": 0.1, "cost_scale": 0.01},
        -0.5,
        0.0,
    ),  # fmt: skip
    ("no call, direct answer", _traj(cost=0.0, finish="direct_answer", calls=[]), {}, 1.0, 1.0),
    (
        "failed call costs nothing",
        _traj(cost=0.0, calls=[{"model": "m", "cost_usd": 0.0, "success": False}]),
        {},
        1.0,
        1.0,
    ),
    ("over budget hits cost_max", _traj(cost=2.0), {"cost_lambda": 3.0, "cost_max": 0.8}, 0.2, 1.0),
    ("reward_K kwarg sets K", _traj(cost=0.1), {"reward_K": 2.0, "cost_lambda": 1.0, "shaping": "xrouter"}, 1.9, 1.0),
    (
        "log shaping by kwarg",
        _traj(cost=0.01),
        {"shaping": "log", "cost_lambda": 0.5, "cost_scale": 0.01},
        1.0 - 0.5 * math.log(2),
        1.0,
    ),  # fmt: skip
    ("invalid trajectory scores 0 even if text is right", _traj(valid=False, finish="no_answer"), {}, 0.0, 0.0),
]


@pytest.mark.parametrize("extra,kwargs,score,acc", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_compute_score_table(extra, kwargs, score, acc):
    """Shaped reward in `score`, quality (not the shaped reward) in `acc`."""
    out = compute_score("openai/gsm8k", "ignored when xrouter_answer is set", GT, extra, **kwargs)
    assert out["score"] == pytest.approx(score)
    assert out["acc"] == out["quality"] == acc
    assert KEYS <= set(out)


def test_compute_score_reports_diagnostics_as_numbers():
    """Calls, failures, turns, validity and finish type come back as numbers verl can average."""
    calls = [{"model": "a", "cost_usd": 0.01, "success": True}, {"model": "b", "cost_usd": 0.0, "success": False}]
    out = compute_score("gsm8k", "", GT, _traj(cost=0.01, calls=calls))
    assert out["num_calls"] == 2 and out["num_failed_calls"] == 1 and out["num_turns"] == 2
    assert out["finish_select_response"] == 1.0 and out["finish_direct_answer"] == 0.0
    assert all(isinstance(v, float) for v in out.values())
    assert set(out) == set(compute_score("gsm8k", "#### 18", GT))  # same keys with or without trajectory keys


def test_missing_trajectory_keys_score_solution_str_with_zero_cost():
    """A plain verl rollout (no xrouter keys): score solution_str, no calls, cost 0, valid."""
    out = compute_score("gsm8k", "so the answer is 18", GT, {"index": 3}, cost_lambda=5.0)
    assert (out["score"], out["cost_usd"], out["num_calls"], out["valid"], out["no_call"]) == (1.0, 0.0, 0.0, 1.0, 1.0)


def test_cost_falls_back_to_the_sum_of_successful_calls():
    """Without xrouter_cost_usd the cost is the sum of successful calls' cost_usd."""
    calls = [{"model": "a", "cost_usd": 0.02, "success": True}, {"model": "b", "cost_usd": 0.5, "success": False}]
    out = compute_score("gsm8k", "#### 18", GT, {"xrouter_calls": calls}, cost_lambda=1.0)
    assert out["cost_usd"] == pytest.approx(0.02)
    assert out["score"] == pytest.approx(0.98)


def test_unknown_data_source_and_unknown_kwarg_raise():
    """No silent zero: an unknown data_source or a misspelt reward parameter is an error."""
    with pytest.raises(ValueError, match="no scorer for data_source 'mystery'; known prefixes: .*gsm8k"):
        compute_score("mystery", "x", "y")
    with pytest.raises(ValueError, match="unknown reward parameter 'lambda'"):
        compute_score("gsm8k", "#### 1", "#### 1", **{"lambda": 2.0})


def test_replayed_rows_without_gold_use_recorded_correctness():
    """Rows with an empty ground truth score the returned model's recorded correctness; router text scores 0."""
    recorded = [
        {"model": "claude-v2", "score": 1.0, "cost_usd": 0.004},
        {"model": "mistralai/mistral-7b-chat", "score": 0.0},
    ]
    base = {"recorded": recorded, "xrouter_valid": True, "xrouter_cost_usd": 0.004, "xrouter_answer": "def f(): ..."}
    selected_good = compute_score("mbpp", "", "", {**base, "xrouter_answer_model": "claude-v2"})
    selected_bad = compute_score("mbpp", "", "", {**base, "xrouter_answer_model": "mistralai/mistral-7b-chat"})
    own_text = compute_score("mbpp", "", "", {**base, "xrouter_answer_model": None})
    assert (selected_good["acc"], selected_bad["acc"], own_text["acc"]) == (1.0, 0.0, 0.0)
    assert selected_good["score"] > selected_bad["score"]


def test_recorded_rows_with_a_missing_outcome_score_zero_not_nan():
    """A recorded model without a score (None/NaN, missing outcome) scores 0 instead of breaking the reward."""
    recorded = [{"model": "a", "score": float("nan")}, {"model": "b", "score": None}, {"model": "c", "score": 1.0}]
    extra = {"recorded": recorded, "xrouter_answer": "x"}
    for model, acc in (("a", 0.0), ("b", 0.0), ("c", 1.0)):
        assert compute_score("mbpp", "", "", {**extra, "xrouter_answer_model": model})["acc"] == acc


def test_code_row_without_tests_and_without_recordings_raises():
    """An empty code ground truth is not "no tests, so it passes": it raises unless recorded scores exist."""
    with pytest.raises(ValueError, match="code ground truth has no tests"):
        compute_score("mbpp", "def f():\n    return 1\n", "")


def test_array_ground_truths_from_parquet_are_scored():
    """verl hands over parquet values: an answer list as a numpy array is scored, an empty one means "no gold"."""
    import numpy as np

    golds = np.array(["1/2", "0.5"], dtype=object)
    assert compute_score("math", "so p = \\boxed{0.5}", golds)["acc"] == 1.0
    assert compute_score("mmlu_stem", "The answer is (A)", np.int64(0), {"choices": ["x", "y"]})["acc"] == 1.0
    recorded = np.array([{"model": "a", "score": 1.0, "cost_usd": 0.001}], dtype=object)
    no_gold = {"recorded": recorded, "xrouter_answer_model": "a", "xrouter_answer": "x"}
    assert compute_score("mbpp", "", np.array([], dtype=object), no_gold)["acc"] == 1.0
