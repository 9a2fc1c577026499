"""`--backend live` against an OpenAI-compatible server on 127.0.0.1, then `--backend cache` from what it stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi import FastAPI, Request

from xrouter.cli.main import main
from xrouter.eval.datasets import load_bench_data
from xrouter.serve.background import BackgroundServer

LATENCY = ["latency_median_s", "latency_p95_s"]


def _fake_provider(gold: dict[str, str], requests: list[str], in_flight: list[int]) -> FastAPI:
    """Chat completions: `fake-strong` answers with the gold number, `fake-weak` always with -1.

    `in_flight` is [now, peak]: how many requests are being answered at once (each takes 0.2 s).
    """
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        body = await request.json()
        model = str(body["model"]).removeprefix("openai/")
        requests.append(model)
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        await asyncio.sleep(0.2)
        in_flight[0] -= 1
        question = body["messages"][-1]["content"]
        answer = gold[question] if model == "fake-strong" else "-1"
        return {
            "id": f"cmpl-{len(requests)}", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": f"Working...\n#### {answer}"}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        }  # fmt: skip

    return app


@pytest.fixture()
def provider(shared_data) -> Iterator[tuple[BackgroundServer, list[str], list[int]]]:
    """The fake provider over the first 5 GSM8K questions, the models it was asked for, [in flight, peak]."""
    items = load_bench_data(shared_data / "evalsets" / "gsm8k" / "test.jsonl").items[:5]
    requests: list[str] = []
    in_flight = [0, 0]
    app = _fake_provider({i.text: str(i.ground_truth) for i in items}, requests, in_flight)
    with BackgroundServer(app) as server:
        yield server, requests, in_flight


def test_live_backend_scores_fresh_answers_and_cache_backend_replays_them(shared_data, provider, tmp_path) -> None:
    """Live: gold answers score 1, cost = catalog price x usage, 2 requests at once; the cache then gives the same."""
    server, requests, in_flight = provider
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "models:\n"
        f"  - {{id: fake-strong, litellm_model: openai/fake-strong, provider: openai, tier: premium,"
        f" input_usd_per_mtok: 10.0, output_usd_per_mtok: 20.0, context_window: 8000, max_output_tokens: 1000, api_base: '{server.url}/v1'}}\n"
        f"  - {{id: fake-weak, litellm_model: openai/fake-weak, provider: openai, tier: budget,"
        f" input_usd_per_mtok: 1.0, output_usd_per_mtok: 2.0, context_window: 8000, max_output_tokens: 1000, api_base: '{server.url}/v1'}}\n"
    )
    gsm8k = shared_data / "evalsets" / "gsm8k" / "test.jsonl"
    db = tmp_path / "responses.sqlite"
    base = ["bench", "--dataset", str(gsm8k), "--limit", "5", "--models", "fake-weak,fake-strong", "--catalog",
            str(catalog), "--cache", str(db), "--no-plot", "--policy", "cheapest", "--policy", "strongest",
            "--policy", "single:fake-strong", "--concurrency", "2"]  # fmt: skip
    assert main([*base, "--backend", "live", "--out", str(tmp_path / "live")]) == 0
    assert in_flight[1] == 2  # --concurrency 2: never more, and the 5 queries of a policy do overlap
    live = pd.read_csv(tmp_path / "live" / "summary.csv").set_index("policy")
    assert live.at["cheapest", "accuracy"] == 0.0 and live.at["strongest", "accuracy"] == 1.0
    # 100 input + 10 output tokens at $10 / $20 per Mtok = $0.0012 per query, $1.2 per 1k; the weak model 1/10
    assert live.at["strongest", "cost_per_1k_usd"] == pytest.approx(1.2)
    assert live.at["cheapest", "cost_per_1k_usd"] == pytest.approx(0.12)
    assert live.at["strongest", "cost_per_correct_usd"] == pytest.approx(0.0012)
    assert sorted(requests) == ["fake-strong"] * 5 + ["fake-weak"] * 5  # single:fake-strong was a cache hit
    samples = [json.loads(line) for line in (tmp_path / "live" / "samples.jsonl").read_text().splitlines()]
    assert all(s["details"]["scoring"] == "scorer" and s["error"] is None for s in samples)

    asked = len(requests)
    assert main([*base, "--backend", "cache", "--out", str(tmp_path / "cached")]) == 0
    assert len(requests) == asked  # the cache backend never reaches the provider
    cached = pd.read_csv(tmp_path / "cached" / "summary.csv")
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "live" / "summary.csv").drop(columns=LATENCY), cached.drop(columns=LATENCY)
    )
