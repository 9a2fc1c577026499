"""LLMClient through LiteLLM against real HTTP servers on 127.0.0.1. Run: .venv/bin/python -m pytest tests/llm -q"""

from __future__ import annotations

import time

import pytest

from tests.llm.conftest import FAST_RETRY
from xrouter.catalog import load_catalog
from xrouter.llm.client import LLMClient, RetryConfig
from xrouter.llm.ledger import Ledger, read_ledger

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}]


@pytest.fixture(params=["auto", "litellm"])
def transport(request) -> str:
    """Run a test through the direct HTTP transport and through LiteLLM (imported here, not inside a timing)."""
    import litellm  # noqa: F401 - a cold import takes seconds on a loaded CPU

    return request.param


async def test_replayed_cost_equals_recorded_total_cost_for_every_model(
    replay_server, replay_store, mbpp_table, transport
):
    """A call through LiteLLM to the replay server charges exactly the recorded RouterBench total_cost."""
    client = LLMClient(replay_store.catalog, api_base=f"{replay_server.url}/v1", retry=FAST_RETRY, transport=transport)
    frame = mbpp_table.frame
    for model in mbpp_table.models:
        row = frame[(frame.model == model) & frame.cost_usd.notna()].iloc[3]
        result = await client.call(model, [{"role": "user", "content": row.query_text}])
        assert result.success, result.error
        assert abs(result.cost_usd - row.cost_usd) < 1e-9
        assert result.text == row.response
        assert result.spent_usd == 0.0 and result.provider == "replay"
        assert result.usage.input_tokens > 0


async def test_query_id_selects_the_recording_over_message_text(replay_server, replay_store, mbpp_table, transport):
    """An explicit query id (sent as header and metadata) picks that query whatever the text says."""
    client = LLMClient(replay_store.catalog, api_base=f"{replay_server.url}/v1", retry=FAST_RETRY, transport=transport)
    row = mbpp_table.frame[mbpp_table.frame.model == "claude-v2"].iloc[7]
    result = await client.call("claude-v2", [{"role": "user", "content": "unrelated"}], query_id=row.query_id)
    assert result.success and result.text == row.response


async def test_unknown_query_comes_back_as_not_found_without_retry(replay_server, replay_store, transport):
    """A 404 from the replay server is a not_found failure result after one attempt."""
    client = LLMClient(replay_store.catalog, api_base=f"{replay_server.url}/v1", retry=FAST_RETRY, transport=transport)
    result = await client.call("claude-v2", [{"role": "user", "content": "never recorded"}])
    assert not result.success and result.error.kind == "not_found" and result.attempts == 1
    assert "never recorded" in result.router_view()


async def test_catalog_constraints_reach_the_provider(scripted, catalog, transport):
    """gpt-5 gets temperature 1.0 and max_completion_tokens; gpt-4o gets max_tokens capped at its limit."""
    url, script = scripted
    client = LLMClient(catalog, api_base=url, retry=FAST_RETRY, transport=transport)
    result = await client.call("gpt-5", MESSAGES, temperature=0.2, max_tokens=500)
    assert result.success
    sent = script.requests[-1]
    assert sent["temperature"] == 1.0 and sent["max_completion_tokens"] == 500 and "max_tokens" not in sent
    await client.call("gpt-4o", MESSAGES, temperature=0.2, max_tokens=10**7)
    sent = script.requests[-1]
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == catalog.get("gpt-4o").max_output_tokens


async def test_usage_and_catalog_cost_of_a_live_style_answer(scripted, catalog, transport):
    """Usage (cached, reasoning) is read from the response and priced with the catalog."""
    url, _ = scripted
    result = await LLMClient(catalog, api_base=url, retry=FAST_RETRY, transport=transport).call("gpt-5", MESSAGES)
    assert result.usage.input_tokens == 1000 and result.usage.cached_input_tokens == 400
    assert result.usage.output_tokens == 500 and result.usage.reasoning_tokens == 300
    assert result.cost_usd == pytest.approx(600 * 1.25e-6 + 400 * 0.125e-6 + 500 * 10e-6, abs=1e-12)
    assert result.spent_usd == result.cost_usd and result.text == "echo: 2+2?" and result.finish_reason == "stop"
    # LiteLLM's own estimate exists only on the LiteLLM path; it agrees with the catalog here.
    if transport == "litellm":
        assert result.litellm_cost_usd is not None
    else:
        assert result.litellm_cost_usd is None


async def test_rate_limit_then_success_is_retried(scripted, catalog, transport):
    """429 then 200: two HTTP requests, one successful result with attempts=2."""
    url, script = scripted
    script.reset("429")
    result = await LLMClient(catalog, api_base=url, retry=FAST_RETRY, transport=transport).call("gpt-4o", MESSAGES)
    assert result.success and result.attempts == 2 and len(script.requests) == 2


async def test_retry_after_header_is_honoured(scripted, catalog, transport):
    """A 429 asking for 0.4 s makes the client wait at least that long, far above its own backoff."""
    url, script = scripted
    retry = RetryConfig(max_attempts=3, base_delay_s=0.01, max_delay_s=2.0, total_timeout_s=60.0, jitter=0.0)
    client = LLMClient(catalog, api_base=url, retry=retry, transport=transport)
    await client.call("gpt-4o", MESSAGES)  # warm connection and imports so timing covers only the wait
    script.reset("429:0.4")
    started = time.monotonic()
    result = await client.call("gpt-4o", MESSAGES)
    assert result.success and result.attempts == 2 and time.monotonic() - started >= 0.4


async def test_persistent_server_errors_stop_at_max_attempts(scripted, catalog, transport):
    """500 on every attempt: exactly max_attempts requests, then a 'server' failure result."""
    url, script = scripted
    script.reset("500", "500", "500", "500")
    result = await LLMClient(catalog, api_base=url, retry=FAST_RETRY, transport=transport).call("gpt-4o", MESSAGES)
    assert not result.success and result.error.kind == "server" and result.error.retryable
    assert result.attempts == 3 and len(script.requests) == 3 and result.cost_usd == 0.0


async def test_client_errors_are_not_retried(scripted, catalog, transport):
    """400 and 401 are final after one request."""
    url, script = scripted
    client = LLMClient(catalog, api_base=url, retry=FAST_RETRY, transport=transport)
    for status, kind in (("400", "bad_request"), ("401", "auth")):
        script.reset(status)
        result = await client.call("gpt-4o", MESSAGES)
        assert not result.success and result.error.kind == kind and len(script.requests) == 1


async def test_malformed_json_is_a_bad_response_not_retried(scripted, catalog, transport):
    """A 200 with a broken JSON body fails as bad_response after one request."""
    url, script = scripted
    script.reset("malformed", "malformed", "malformed")
    result = await LLMClient(catalog, api_base=url, retry=FAST_RETRY, transport=transport).call("gpt-4o", MESSAGES)
    assert not result.success and result.error.kind == "bad_response"
    assert len(script.requests) == 1


async def test_truncated_body_is_retried_as_connection_failure(scripted, catalog, transport):
    """A body cut short of its Content-Length counts as a connection failure and is retried."""
    url, script = scripted
    script.reset("truncated")
    result = await LLMClient(catalog, api_base=url, retry=FAST_RETRY, transport=transport).call("gpt-4o", MESSAGES)
    assert result.success and result.attempts == 2 and len(script.requests) == 2


async def test_timeouts_are_retried_within_the_total_budget(scripted, catalog, transport):
    """Slow answers time out per attempt; total wall time stays within total_timeout_s."""
    url, script = scripted
    script.reset("slow:3", "slow:3", "slow:3", "slow:3")
    retry = RetryConfig(max_attempts=4, base_delay_s=0.01, max_delay_s=0.02, total_timeout_s=1.5, jitter=0.0)
    started = time.monotonic()
    result = await LLMClient(catalog, api_base=url, retry=retry, transport=transport).call(
        "gpt-4o", MESSAGES, timeout_s=0.4
    )
    elapsed = time.monotonic() - started
    assert not result.success and result.error.kind == "timeout"
    assert 2 <= result.attempts <= 4 and elapsed < 1.5 + 1.0


async def test_unknown_model_fails_without_network(catalog):
    """An id the catalog does not know is a not_found result, not an exception."""
    result = await LLMClient(catalog).call("no-such-model", MESSAGES)
    assert not result.success and result.error.kind == "not_found" and "no-such-model" in result.error.message


async def test_every_call_lands_in_the_ledger(scripted, catalog, transport, tmp_path):
    """Successes and failures are both appended with request and query ids."""
    url, script = scripted
    script.reset("400")
    ledger = Ledger(tmp_path / "calls.jsonl")
    client = LLMClient(catalog, api_base=url, retry=FAST_RETRY, ledger=ledger, transport=transport)
    await client.call("gpt-4o", MESSAGES, request_id="r1", query_id="q1")
    await client.call("gpt-4o", MESSAGES, request_id="r2")
    records = list(read_ledger(tmp_path / "calls.jsonl"))
    assert [r["request_id"] for r in records] == ["r1", "r2"]
    assert records[0]["error"]["kind"] == "bad_request" and records[0]["query_id"] == "q1"
    assert records[1]["success"] and records[1]["cost_usd"] > 0 and records[1]["litellm_model"] == "openai/gpt-4o"


async def test_query_and_request_ids_are_sent_as_headers(scripted, catalog, transport):
    """The query id travels as x-xrouter-query-id and in the body's metadata."""
    url, script = scripted
    await LLMClient(catalog, api_base=url, retry=FAST_RETRY, transport=transport).call(
        "gpt-4o", MESSAGES, query_id="q9", request_id="r9"
    )
    assert script.headers[-1]["x-xrouter-query-id"] == "q9"
    assert script.requests[-1]["metadata"]["query_id"] == "q9"


async def test_per_model_endpoint_gets_id_headers_but_no_metadata(scripted, tmp_path):
    """A catalog api_base (not the replay override) gets id headers; the body carries no metadata."""
    url, script = scripted
    path = tmp_path / "c.yaml"
    path.write_text(f"models:\n  - {{id: gpt-4o, litellm_model: openai/gpt-4o, api_base: '{url}'}}\n")
    client = LLMClient(load_catalog(path, use_env=False), retry=FAST_RETRY)
    result = await client.call("gpt-4o", MESSAGES, query_id="q1")
    assert result.success and script.headers[-1]["x-xrouter-query-id"] == "q1"
    assert "metadata" not in script.requests[-1] and script.requests[-1]["model"] == "gpt-4o"


async def test_per_model_concurrency_limit_caps_requests_in_flight(scripted, catalog):
    """With a limit of 2, at most 2 requests per model reach the server at once; models do not share slots."""
    import asyncio

    url, script = scripted
    script.reset(*["slow:0.25"] * 10)
    client = LLMClient(catalog, api_base=url, retry=FAST_RETRY, max_concurrency_per_model=2)
    calls = [client.call(model, MESSAGES) for model in ("gpt-4o",) * 6 + ("gpt-5",) * 4]
    results = await asyncio.gather(*calls)
    assert all(r.success for r in results) and len(script.requests) == 10
    assert script.peak["gpt-4o"] == 2 and script.peak["gpt-5"] == 2 and script.peak["*"] == 4


async def test_waiting_for_a_slot_counts_against_the_total_budget(scripted, catalog):
    """A call queued behind a slow one gives up when the total budget is spent, saying why."""
    import asyncio

    url, script = scripted
    script.reset("slow:5")
    client = LLMClient(catalog, api_base=url, retry=RetryConfig(max_attempts=1), max_concurrency_per_model=1)
    first = asyncio.ensure_future(client.call("gpt-4o", MESSAGES, timeout_s=10))
    await asyncio.sleep(0.05)  # the first call now holds the only slot, with the default 300 s budget
    client.retry = RetryConfig(max_attempts=1, total_timeout_s=0.5)
    started = time.monotonic()
    queued = await client.call("gpt-4o", MESSAGES)
    waited = time.monotonic() - started
    first.cancel()
    assert not queued.success and queued.error.kind == "timeout" and queued.attempts == 0
    assert "no free slot for gpt-4o" in queued.router_view() and 0.5 <= waited < 0.5 + 0.3
    assert len(script.requests) == 1


async def test_connection_refused_is_retried_then_reported(catalog, transport):
    """Nothing listening: every attempt is a connection failure, retried up to max_attempts, then a result."""
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LLMClient(catalog, api_base=f"http://127.0.0.1:{port}/v1", retry=FAST_RETRY, transport=transport)
    result = await client.call("gpt-4o", MESSAGES)
    assert not result.success and result.error.kind == "connection" and result.attempts == FAST_RETRY.max_attempts


async def test_bad_arguments_are_bad_request_results_without_traffic(scripted, catalog, tmp_path):
    """Malformed messages or sampling arguments never raise and never reach the provider."""
    from xrouter.llm.cache import ResponseCache

    url, script = scripted
    client = LLMClient(catalog, api_base=url, retry=FAST_RETRY, cache=ResponseCache(tmp_path / "c.db"))
    bad_calls = [
        ("hello", {}),
        ([], {}),
        ([{"content": "no role"}], {}),
        (MESSAGES, {"temperature": "hot"}),
        (MESSAGES, {"max_tokens": "many"}),
        (MESSAGES, {"timeout_s": -1.0}),
    ]
    for messages, kwargs in bad_calls:
        result = await client.call("gpt-4o", messages, **kwargs)  # type: ignore[arg-type]
        assert not result.success and result.error.kind == "bad_request" and result.attempts == 0, (messages, kwargs)
    assert script.requests == []
    # Content the cache cannot key (not JSON) skips the cache instead of raising out of the call.
    odd = await client.call("gpt-4o", [{"role": "user", "content": {1, 2}}])
    assert not odd.success and odd.error.kind != "bad_request"


async def test_a_streamed_call_hands_on_pieces_and_charges_the_recorded_cost(
    replay_server, replay_store, mbpp_table, transport
):
    """on_delta gets the answer piece by piece (direct HTTP and LiteLLM); the result is the whole, priced answer."""
    from xrouter.llm.replay.server import stream_pieces

    client = LLMClient(replay_store.catalog, api_base=f"{replay_server.url}/v1", retry=FAST_RETRY, transport=transport)
    row = mbpp_table.frame[mbpp_table.frame.model == "gpt-3.5-turbo-1106"].iloc[5]
    pieces: list[str] = []
    result = await client.call(
        "gpt-3.5-turbo-1106", [{"role": "user", "content": row.query_text}], on_delta=pieces.append
    )
    assert result.success, result.error
    assert "".join(pieces) == result.text == row.response and len(pieces) > 10
    assert len(pieces) <= len(stream_pieces(row.response))  # one piece per upstream chunk at most
    assert abs(result.cost_usd - row.cost_usd) < 1e-9 and not result.estimated
