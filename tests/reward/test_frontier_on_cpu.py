"""Reward frontier tests on RouterBench slices. Run: .venv/bin/python -m pytest -q tests/reward/test_frontier_on_cpu.py"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from xrouter.cli.main import main
from xrouter.data.outcomes import load_outcomes
from xrouter.reward import RewardConfig
from xrouter.reward.frontier import compute_frontier


@pytest.fixture(scope="module")
def train_csvs(shared_data: Path) -> list[Path]:
    """The three RouterBench train slices."""
    return sorted((shared_data / "routerbench_slices").glob("*_train.csv"))


def _independent_oracle(paths: list[Path]) -> tuple[float, float, int, int]:
    """Cheapest-correct oracle straight from the CSV cells (no xrouter code): accuracy, $/1k, kept, dropped."""
    correct = total_cost = 0.0
    kept = dropped = 0
    for path in paths:
        wide = pd.read_csv(path)
        models = [c[: -len("|total_cost")] for c in wide.columns if c.endswith("|total_cost")]
        for _, row in wide.iterrows():
            outcomes = [(float(row[m]), float(row[f"{m}|total_cost"])) for m in models]
            if any(math.isnan(s) or math.isnan(c) for s, c in outcomes):
                dropped += 1
                continue
            kept += 1
            right = [c for s, c in outcomes if s >= 1.0]
            correct += 1.0 if right else 0.0
            total_cost += min(right) if right else min(c for _, c in outcomes)
    return correct / kept, 1000 * total_cost / kept, kept, dropped


def test_frontier_cli_oracle_matches_independent_computation(train_csvs, tmp_path, capsys):
    """`xrouter frontier` writes frontier.csv/png; its oracle row equals a hand-rolled cheapest-correct oracle."""
    out = tmp_path / "fr"
    code = main(["frontier", "--data", *map(str, train_csvs), "--lambdas", "0,0.5,1,2,3,5", "--out", str(out)])
    assert code == 0
    with (out / "frontier.csv").open() as handle:
        reader = csv.DictReader(handle)
        assert {"policy", "lambda", "accuracy", "cost_per_1k_usd"} <= set(reader.fieldnames or [])
        rows = list(reader)
    assert (out / "frontier.png").stat().st_size > 10_000
    accuracy, per_1k, kept, dropped = _independent_oracle(train_csvs)
    assert (kept, dropped) == (2205, 20)
    printed = capsys.readouterr().out
    assert "reward frontier" in printed and f"{kept} queries x 11 models; {dropped} queries dropped" in printed
    oracle = next(r for r in rows if r["policy"] == "oracle")
    assert float(oracle["accuracy"]) == pytest.approx(accuracy, abs=1e-12)
    assert float(oracle["cost_per_1k_usd"]) == pytest.approx(per_1k, rel=1e-9)
    assert {r["policy"] for r in rows} >= {"oracle", "reward_optimal", "single:gpt-4-1106-preview"}
    assert sorted(float(r["lambda"]) for r in rows if r["policy"] == "reward_optimal") == [0, 0.5, 1, 2, 3, 5]


def test_reward_optimal_under_xrouter_shaping_is_the_oracle(train_csvs):
    """With the upstream shaping the best per-query choice is always the cheapest correct model."""
    frame = compute_frontier(load_outcomes(train_csvs), [0.0, 3.0, 50.0], RewardConfig()).frame
    oracle = frame[frame.policy == "oracle"].iloc[0]
    for _, row in frame[frame.policy == "reward_optimal"].iterrows():
        assert (row.accuracy, row.cost_per_1k_usd) == pytest.approx((oracle.accuracy, oracle.cost_per_1k_usd))


def test_linear_shaping_trades_accuracy_for_cost_as_lambda_grows(train_csvs):
    """Under linear shaping a larger λ never buys accuracy with more money: cost and accuracy fall together."""
    config = RewardConfig(shaping="linear", cost_scale=0.001)
    frame = compute_frontier(load_outcomes(train_csvs), [0.0, 0.5, 2.0, 10.0], config).frame
    optimal = frame[frame.policy == "reward_optimal"].sort_values("lambda")
    assert optimal.cost_per_1k_usd.is_monotonic_decreasing and optimal.accuracy.is_monotonic_decreasing
    assert optimal.cost_per_1k_usd.iloc[-1] < optimal.cost_per_1k_usd.iloc[0]
    best = frame[frame.policy == "best_single"].sort_values("lambda")
    assert best.model.iloc[0] == "gpt-4-1106-preview" and best.model.iloc[-1] != "gpt-4-1106-preview"
    shares = optimal[[c for c in frame.columns if c.startswith("share:")]].sum(axis=1)
    assert shares.to_numpy() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "extra,message",
    [(["--data", "{tmp}/nope.csv"], "nope.csv: no such file or folder"),
     (["--data", "{tmp}/bad.csv"], "bad.csv: missing column"),
     (["--data", "{csv}", "--lambdas", "a,b"], "--lambdas: expected comma-separated numbers"),
     (["--data", "{csv}", "--lambdas", "1,-2"], "--lambdas: values must be finite numbers >= 0"),
     (["--data", "{csv}", "--cost-scale", "0"], "cost_scale=0.0 must be > 0"),
     (["--data", "{csv}", "--lambdas", "1", "--out", "{tmp}/bad.csv"], "exists and is not a folder")],
    ids=["missing file", "not an outcome file", "lambdas not numbers", "negative lambda", "bad cost scale", "out is a file"],
)  # fmt: skip
def test_frontier_cli_rejects_bad_input(extra, message, train_csvs, tmp_path, capsys):
    """Bad --data / --lambdas / reward flags / --out: one line on stderr, exit 2, nothing written."""
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    out = tmp_path / "out"
    args = [a.format(tmp=tmp_path, csv=train_csvs[0]) for a in extra]
    code = main(["frontier", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists()


def test_frontier_on_an_xrouter_outcome_table_drops_incomplete_queries(tmp_path):
    """A JSONL outcome table works too; a query missing one model's outcome is dropped and counted."""
    rows = [
        ("q1", "cheap", 1.0, 0.001), ("q1", "big", 1.0, 0.010),
        ("q2", "cheap", 0.0, 0.001), ("q2", "big", 1.0, 0.010),
        ("q3", "cheap", 0.0, 0.001),
    ]  # fmt: skip
    path = tmp_path / "outcomes.jsonl"
    path.write_text(
        "\n".join(
            pd.Series({"query_id": q, "query_text": q, "model": m, "response": "", "score": s, "cost_usd": c}).to_json()
            for q, m, s, c in rows
        )
    )
    result = compute_frontier(load_outcomes(path), [0.0, 100.0, 200.0], RewardConfig(shaping="linear"))
    assert (result.n_queries, result.n_dropped) == (2, 1)
    frame = result.frame.set_index(["policy", "lambda"], drop=False)
    oracle = frame[frame.policy == "oracle"].iloc[0]
    assert (oracle.accuracy, oracle.cost_per_1k_usd) == pytest.approx((1.0, 5.5))
    cheap_at_high_lambda = frame[(frame.policy == "reward_optimal") & (frame["lambda"] == 100.0)].iloc[0]
    # λ=100 per dollar: the extra $0.009 of "big" (-0.9) is worth less than its +1 quality -> still big on q2
    assert cheap_at_high_lambda["share:big"] == pytest.approx(0.5)
    # λ=200: the extra cost (-1.8) outweighs the quality, so the wrong cheap answer wins on q2
    at_200 = frame[(frame.policy == "reward_optimal") & (frame["lambda"] == 200.0)].iloc[0]
    assert (at_200["share:big"], at_200.accuracy) == pytest.approx((0.0, 0.5))


def test_frontier_by_dataset_writes_one_plot_per_dataset(train_csvs, tmp_path):
    """--by-dataset gives per-dataset rows (their oracles differ) and frontier_<dataset>.png files."""
    code = main(["frontier", "--data", *map(str, train_csvs), "--lambdas", "1", "--by-dataset", "--out", str(tmp_path)])
    assert code == 0
    frame = pd.read_csv(tmp_path / "frontier.csv")
    oracles = frame[frame.policy == "oracle"].set_index("dataset")
    assert set(oracles.index) == {"arc-challenge", "mbpp", "winogrande"}
    assert oracles.loc["winogrande", "accuracy"] == pytest.approx(1.0)  # some model always gets winogrande right
    assert oracles.loc["mbpp", "accuracy"] < oracles.loc["arc-challenge", "accuracy"]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "frontier_arc-challenge.png",
        "frontier_mbpp.png",
        "frontier_winogrande.png",
    ]
