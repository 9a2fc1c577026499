"""Eval-set benchmarks scored by the reward scorers, answered from a response cache (`--backend cache`)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from xrouter.catalog import load_catalog
from xrouter.catalog.pricing import Usage
from xrouter.cli.main import main
from xrouter.eval.datasets import load_bench_data
from xrouter.llm.cache import ResponseCache, cache_key
from xrouter.llm.params import cache_fields, sampling_params
from xrouter.llm.types import CallResult

CHEAP, DEAR = "gpt-5-nano", "gpt-5"


def test_gsm8k_via_cache_backend_scores_answers_and_ranks_by_price(shared_data, tmp_path) -> None:
    """Cached answers (2 of 4 right for the cheap model, 4 of 4 for the dear one) are scored with the gsm8k scorer."""
    gsm8k = shared_data / "evalsets" / "gsm8k" / "test.jsonl"
    items = load_bench_data(gsm8k).items[:4]
    catalog = load_catalog()
    db = tmp_path / "cache.sqlite"
    with ResponseCache(db, mode="readwrite") as cache:
        for n, item in enumerate(items):
            for model, right in ((CHEAP, n % 2 == 0), (DEAR, True)):
                spec = catalog.resolve(model)
                answer = item.ground_truth if right else "-1"
                result = CallResult(spec.id, f"Reasoning...\n#### {answer}", True, usage=Usage(100, 20),
                                    cost_usd=0.001 if model == DEAR else 0.0001)  # fmt: skip
                key = cache_key(cache_fields(spec, [dict(m) for m in item.messages], sampling_params(spec)))
                cache.put(key, result)
    out = tmp_path / "run"
    args = ["bench", "--backend", "cache", "--cache", str(db), "--dataset", str(gsm8k), "--limit", "4",
            "--models", f"{CHEAP},{DEAR}", "--policy", "cheapest", "--policy", "strongest", "--out", str(out),
            "--no-plot"]  # fmt: skip
    assert main(args) == 0
    summary = pd.read_csv(out / "summary.csv").set_index("policy")
    assert summary.at["cheapest", "accuracy"] == pytest.approx(0.5)
    assert summary.at["strongest", "accuracy"] == pytest.approx(1.0)
    assert summary.at["cheapest", "cost_per_1k_usd"] == pytest.approx(0.1)
    assert summary.at["strongest", "cost_per_1k_usd"] == pytest.approx(1.0)
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert {s["models"][0] for s in samples if s["policy"] == "cheapest"} == {CHEAP}
    assert all(s["details"]["scoring"] == "scorer" for s in samples)


def test_cache_backend_miss_is_a_failed_sample_not_a_live_call(shared_data, tmp_path) -> None:
    """With an empty cache every call fails (score 0, cost 0, error kept) instead of reaching a provider."""
    gsm8k = shared_data / "evalsets" / "gsm8k" / "test.jsonl"
    args = ["bench", "--backend", "cache", "--cache", str(tmp_path / "empty.sqlite"), "--dataset", str(gsm8k),
            "--limit", "2", "--policy", f"single:{CHEAP}", "--out", str(tmp_path / "run"), "--no-plot"]  # fmt: skip
    assert main(args) == 0
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2
    assert all(s["score"] == 0 and s["cost_usd"] == 0 and "cache" in s["error"] for s in samples)


def test_preprocessed_parquet_runs_each_query_once(tmp_path) -> None:
    """A verl parquet repeats a query once per model pool: bench calls each query once and keeps its messages."""
    rows = []
    for rep in range(3):  # three pool versions of the same two queries, as `xrouter preprocess` writes them
        for n, (question, gold) in enumerate((("What is 2+3?", "5"), ("What is 4*4?", "16"))):
            rows.append({"data_source": "openai/gsm8k", "reward_model": {"style": "rule", "ground_truth": gold},
                         "extra_info": {"query_id": f"q{n}", "index": 2 * rep + n,
                                        "user_messages": [{"role": "user", "content": question}]}})  # fmt: skip
    parquet = tmp_path / "train.parquet"
    pd.DataFrame(rows).to_parquet(parquet)
    data = load_bench_data(parquet)
    assert [(i.query_id, i.text, i.ground_truth) for i in data.items] == [("q0", "What is 2+3?", "5"),
                                                                         ("q1", "What is 4*4?", "16")]  # fmt: skip
    args = ["bench", "--backend", "cache", "--cache", str(tmp_path / "empty.sqlite"), "--dataset", str(parquet),
            "--policy", f"single:{CHEAP}", "--out", str(tmp_path / "run"), "--no-plot"]  # fmt: skip
    assert main(args) == 0
    assert len((tmp_path / "run" / "samples.jsonl").read_text().splitlines()) == 2
    assert pd.read_csv(tmp_path / "run" / "summary.csv")["n"].tolist() == [2]
