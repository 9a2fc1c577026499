"""Every paid cent accounted: missing usage is estimated (never $0), absurd provider costs are replaced."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.faults.conftest import TARGET_COST, meta_of
from xrouter.data.outcomes import load_outcomes
from xrouter.llm.client import LLMClient
from xrouter.llm.replay import ReplayCaller, ReplayStore, create_replay_app
from xrouter.serve.background import BackgroundServer


@pytest.mark.parametrize("fault", ["no_usage", "usage_list", "usage_bad_tokens"])
def test_answer_without_usable_usage_is_estimated_and_charged(served, fault):
    """No (or unreadable) usage: tokens are estimated from the texts, charged at the catalog price, and flagged."""
    before = served.metrics()
    response = served.post(f"Usage check [[r1=call:fault-a target={fault} key=usage-{fault}]]")
    meta = meta_of(response)
    call = meta["call_history"][0]
    assert call["success"] and call["estimated"] is True and call["priced"] is True
    assert call["input_tokens"] > 0 and call["output_tokens"] > 0 and call["cost_usd"] > 0
    expected = (call["input_tokens"] * 1.0 + call["output_tokens"] * 2.0) / 1e6
    assert call["cost_usd"] == pytest.approx(expected)
    assert meta["estimated_calls"] == 1 and meta["unpriced_calls"] == 0
    assert meta["target_models_cost"] == pytest.approx(call["cost_usd"])
    assert served.request_line(response)["calls"][0]["estimated"] is True
    assert [line["estimated"] for line in served.call_lines(response)] == [True]
    key = 'xrouter_estimated_calls_total{model="fault-a"}'
    assert served.metrics()[key] - before.get(key, 0.0) == 1


def test_absurd_provider_cost_is_replaced_by_the_catalog_price_and_flagged(served):
    """usage.cost = $1e9 for 120 tokens is outside the sane bound: the catalog price is charged instead."""
    before = served.metrics()
    meta = meta_of(served.post("Cost check [[r1=call:fault-a target=cost:1e9]]"))
    call = meta["call_history"][0]
    assert call["cost_usd"] == pytest.approx(TARGET_COST) and call["cost_replaced"] is True
    assert meta["total_cost"] < 1.0 and meta["cost_replaced_calls"] == 1
    after = served.metrics()
    assert after['xrouter_cost_usd_total{kind="targets"}'] - before['xrouter_cost_usd_total{kind="targets"}'] < 1.0
    key = 'xrouter_cost_replaced_calls_total{model="fault-a"}'
    assert after[key] - before.get(key, 0.0) == 1


def test_plausible_provider_cost_is_kept_as_reported(served):
    """A provider cost within the bound wins over the catalog price, unflagged."""
    call = meta_of(served.post("Cost check [[r1=call:fault-a target=cost:0.0002]]"))["call_history"][0]
    assert call["cost_usd"] == 0.0002 and call["cost_replaced"] is False and call["estimated"] is False


@pytest.fixture
def short_answer_table(tmp_path):
    """One recorded GPT-4 answer of one letter whose recorded cost the prompt alone would use up."""
    row = {
        "dataset": "t",
        "query_id": "q1",
        "query_text": "Which option is right? " * 16,
        "model": "gpt-4-1106-preview",
        "response": "B",
        "cost_usd": 0.00092,
        "score": 1.0,
    }
    path = tmp_path / "short.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return load_outcomes([path])


async def test_replay_counts_usage_from_the_recorded_texts_and_keeps_the_recorded_cost(short_answer_table):
    """In-process and over HTTP: completion tokens come from the answer text (not 0); cost is exactly recorded."""
    store = ReplayStore(short_answer_table)
    messages = [{"role": "user", "content": short_answer_table.frame.query_text[0]}]
    in_process = await ReplayCaller(store).call("gpt-4-1106-preview", messages)
    with BackgroundServer(create_replay_app(store)) as server:
        raw = httpx.post(
            f"{server.url}/v1/chat/completions", json={"model": "gpt-4-1106-preview", "messages": messages}
        ).json()
        client = LLMClient(store.catalog, api_base=f"{server.url}/v1")
        over_http = await client.call("gpt-4-1106-preview", messages)
        await client.aclose()
    assert raw["usage"]["completion_tokens"] >= 1 and raw["usage"]["cost"] == 0.00092
    for result in (in_process, over_http):
        assert result.success and result.usage.output_tokens >= 1 and result.usage.input_tokens >= 80
        assert result.cost_usd == 0.00092 and result.spent_usd == 0.0
