"""Validation metrics per λ bucket (`val/acc@λ=…`, `val/cost@λ=…`) from verl's per-sample reward infos.

Run: .venv/bin/python -m pytest -q tests/verl_plugin/test_lambda_metrics_on_cpu.py
"""

from __future__ import annotations

import pytest

from xrouter.verl_plugin.lambda_metrics import lambda_bucket, lambda_bucket_metrics


def test_a_few_distinct_lambdas_are_exact_buckets():
    """Rows drawn from a list: one bucket per value with the means of its trajectories."""
    infos = {"cost_lambda": [1.0, 1.0, 30.0, 30.0, 30.0], "acc": [1.0, 0.0, 1.0, 1.0, 0.0],
             "cost_usd": [0.02, 0.04, 0.0, 0.01, 0.0], "score": [0.9, 0.0, 1.0, 0.7, 0.0],
             "num_calls": [1.0, 2.0, 0.0, 1.0, 0.0], "reward": [0.9, 0.0, 1.0, 0.7, 0.0]}  # fmt: skip
    out = lambda_bucket_metrics(infos)
    assert out["val/n@λ=1"] == 2 and out["val/n@λ=30"] == 3
    assert out["val/acc@λ=1"] == pytest.approx(0.5) and out["val/acc@λ=30"] == pytest.approx(2 / 3)
    assert out["val/cost@λ=1"] == pytest.approx(0.03) and out["val/cost@λ=30"] == pytest.approx(0.01 / 3)
    assert out["val/reward@λ=30"] == pytest.approx(1.7 / 3) and out["val/calls@λ=1"] == pytest.approx(1.5)


def test_many_distinct_lambdas_fall_into_a_log_grid():
    """A distribution's values go to the nearest of 0.1, 0.3, 1, 3, 10, 30, ... (λ = 0 keeps its own bucket)."""
    values = [0.0, 0.35, 0.28, 2.2, 2.9, 4.1, 9.0, 12.0, 29.0, 41.0]
    assert [lambda_bucket(v, exact=False) for v in values] == [0.0, 0.3, 0.3, 3.0, 3.0, 3.0, 10.0, 10.0, 30.0, 30.0]
    out = lambda_bucket_metrics({"cost_lambda": values, "acc": [1.0] * 10})
    assert {k for k in out if k.startswith("val/n@")} == {"val/n@λ=0", "val/n@λ=0.3", "val/n@λ=3", "val/n@λ=10",
                                                          "val/n@λ=30"}  # fmt: skip
    assert out["val/n@λ=3"] == 3


def test_no_lambda_column_gives_no_metrics_and_missing_values_are_skipped():
    """Old reward functions report no λ; a sample whose reward info lacks it (None) is left out."""
    assert lambda_bucket_metrics({"acc": [1.0]}) == {}
    out = lambda_bucket_metrics({"cost_lambda": [3.0, None], "acc": [1.0, 0.0]}, prefix="xrouter")
    assert out == {"xrouter/n@λ=3": 1.0, "xrouter/acc@λ=3": 1.0}
