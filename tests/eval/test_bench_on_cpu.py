"""`xrouter bench` end to end on a 30-query RouterBench slice through the replay server over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from xrouter.cli.main import main
from xrouter.data.outcomes import routerbench_models
from xrouter.eval.backends import build_caller
from xrouter.eval.bench import BenchConfig, load_all, run_bench

POLICIES = ["oracle", "single:gpt-4-1106-preview", "cheapest", "strongest", "random"]
LATENCY = ["latency_median_s", "latency_p95_s"]


def _independent_oracle(csv: Path) -> tuple[int, int, float, float]:
    """(complete rows, dropped rows, oracle accuracy, oracle $ per 1k) straight from the wide CSV."""
    wide = pd.read_csv(csv)
    models = routerbench_models(wide.columns)
    cost_cols = [f"{m}|total_cost" for m in models]
    complete = wide[models + cost_cols].notna().all(axis=1)
    rows = wide[complete]
    correct, spent = [], []
    for _, row in rows.iterrows():
        right = [m for m in models if row[m] >= 1.0]
        pool = right or models  # nobody right: the oracle spends as little as possible
        cheapest = min(pool, key=lambda m: row[f"{m}|total_cost"])
        correct.append(1.0 if right else 0.0)
        spent.append(row[f"{cheapest}|total_cost"])
    return len(rows), int((~complete).sum()), sum(correct) / len(rows), 1000 * sum(spent) / len(rows)


def _bench_args(slice30: Path, url: str, out: Path) -> list[str]:
    args = ["bench", "--dataset", str(slice30), "--backend", "replay", "--replay-url", url, "--out", str(out),
            "--concurrency", "4"]  # fmt: skip
    for p in POLICIES:
        args += ["--policy", p]
    return args


def test_bench_oracle_over_http_matches_an_independent_computation(slice30, replay_server, tmp_path) -> None:
    """Oracle accuracy and cost per 1k equal a direct computation from the CSV; outputs are all written."""
    out = tmp_path / "run"
    assert main(_bench_args(slice30, replay_server.url, out)) == 0
    n, dropped, acc, cost_1k = _independent_oracle(slice30)
    assert (n, dropped) == (29, 1)
    summary = pd.read_csv(out / "summary.csv")
    assert {"policy", "dataset", "n", "accuracy", "cost_per_1k_usd", "calls_per_query"} <= set(summary.columns)
    pooled = summary[summary["dataset"] == "all"].set_index("policy")
    assert list(pooled.index) == POLICIES  # spelled as on the command line, in that order
    assert pooled.at["oracle", "n"] == n
    assert pooled.at["oracle", "dropped_incomplete"] == dropped
    assert pooled.at["oracle", "accuracy"] == pytest.approx(acc, abs=1e-12)
    assert pooled.at["oracle", "cost_per_1k_usd"] == pytest.approx(cost_1k, rel=1e-7)
    assert (pooled["calls_per_query"] == 1.0).all()
    assert pooled.at["oracle", "on_pareto"]
    assert set(summary["dataset"]) == {"arc-challenge", "mbpp", "winogrande", "all"}
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == n * len(POLICIES)
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "aiq.csv").exists()


def test_bench_single_model_cost_equals_recorded_cost(slice30, replay_server, tmp_path) -> None:
    """single:gpt-4 through HTTP costs what the recording says, query by query."""
    out = tmp_path / "single"
    args = ["bench", "--dataset", str(slice30), "--replay-url", replay_server.url, "--out", str(out),
            "--policy", "single:gpt-4-1106-preview", "--no-plot"]  # fmt: skip
    assert main(args) == 0
    wide = pd.read_csv(slice30).set_index("sample_id")
    for line in (out / "samples.jsonl").read_text().splitlines():
        sample = json.loads(line)
        assert sample["cost_usd"] == pytest.approx(wide.at[sample["query_id"], "gpt-4-1106-preview|total_cost"],
                                                   abs=1e-9)  # fmt: skip
        assert sample["score"] == wide.at[sample["query_id"], "gpt-4-1106-preview"]


class _Interrupting:
    """Failure injection: forwards calls, then raises KeyboardInterrupt on call number `after + 1`."""

    def __init__(self, inner, after: int) -> None:
        self.inner, self.after, self.calls = inner, after, 0

    async def call(self, model_id, messages, **kwargs):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return await self.inner.call(model_id, messages, **kwargs)


def test_resume_after_an_interrupt_gives_the_same_summary(slice30, replay_server, tmp_path) -> None:
    """Kill a run after 37 calls, resume it: no sample is recomputed or counted twice, summary.csv is the same."""
    full = tmp_path / "full"
    assert main(_bench_args(slice30, replay_server.url, full)) == 0
    part = tmp_path / "part"
    config = BenchConfig([str(slice30)], POLICIES, out_dir=str(part), replay_url=replay_server.url, concurrency=4)
    caller = _Interrupting(build_caller(config, load_all(config)), after=37)
    with pytest.raises(KeyboardInterrupt):
        run_bench(config, caller=caller)
    kept = (part / "samples.jsonl").read_text().splitlines()
    assert 0 < len(kept) <= 37
    with (part / "samples.jsonl").open("a") as fh:
        fh.write('{"policy": "oracle", "dataset": "mb')  # a line cut off mid-write by the kill
    assert main([*_bench_args(slice30, replay_server.url, part), "--resume"]) == 0
    lines = (part / "samples.jsonl").read_text().splitlines()
    keys = [(s["policy"], s["dataset"], s["query_id"]) for s in map(json.loads, lines)]
    assert len(keys) == len(set(keys)) == 29 * len(POLICIES)
    assert lines[: len(kept)] == kept  # earlier samples kept as they were, not recomputed
    a = pd.read_csv(full / "summary.csv").drop(columns=LATENCY)
    b = pd.read_csv(part / "summary.csv").drop(columns=LATENCY)
    pd.testing.assert_frame_equal(a, b)


def test_bench_refuses_to_overwrite_a_run_without_resume(slice30, tmp_path) -> None:
    """A second run into the same --out without --resume exits 2 instead of mixing samples."""
    args = ["bench", "--dataset", str(slice30), "--out", str(tmp_path), "--policy", "cheapest", "--no-plot"]
    assert main(args) == 0
    assert main(args) == 2


def test_bench_rejects_unknown_policy_oracle_on_live_and_live_outcome_tables(slice30, shared_data, tmp_path) -> None:
    """Bad specs, an oracle without recordings, and live answers to an outcome table (no gold) all exit 2."""
    base = ["bench", "--dataset", str(slice30), "--out", str(tmp_path / "x")]
    assert main([*base, "--policy", "best"]) == 2
    assert main([*base, "--policy", "cheapest", "--backend", "live"]) == 2
    gsm8k = shared_data / "evalsets" / "gsm8k" / "test.jsonl"
    args = ["bench", "--dataset", str(gsm8k), "--out", str(tmp_path / "y"), "--backend", "live", "--limit", "2",
            "--models", "gpt-5-nano", "--policy", "oracle"]  # fmt: skip
    assert main(args) == 2
    assert not (tmp_path / "y" / "samples.jsonl").exists()


def test_bad_input_leaves_no_output_folder(slice30, tmp_path) -> None:
    """Missing or repeated datasets, unknown models, missing router folders exit 2 before anything is written."""
    cases = [
        ["--dataset", str(tmp_path / "missing.csv"), "--policy", "oracle"],
        ["--dataset", str(slice30), "--policy", "single:no-such-model"],
        ["--dataset", str(slice30), "--policy", f"learned:{tmp_path / 'no-router'}"],
        ["--dataset", str(slice30), "--policy", "router:"],
        ["--dataset", str(slice30), "--dataset", str(slice30), "--policy", "oracle"],
    ]
    for n, case in enumerate(cases):
        out = tmp_path / f"out{n}"
        assert main(["bench", *case, "--out", str(out)]) == 2
        assert not out.exists()


def test_failed_queries_are_reported_under_the_table(slice30, tmp_path, capsys) -> None:
    """A router that cannot be reached scores 0, and the run says how many queries failed and why."""
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    args = ["bench", "--dataset", str(slice30), "--out", str(tmp_path), "--policy", f"router:{url}", "--limit", "2",
            "--no-plot"]  # fmt: skip
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert f"warning: router:{url}: 6 of 6 queries failed (scored 0, cost 0), e.g. router error" in stdout
    summary = pd.read_csv(tmp_path / "summary.csv").query("dataset == 'all'")
    assert summary["errors"].tolist() == [6] and summary["accuracy"].tolist() == [0.0]
