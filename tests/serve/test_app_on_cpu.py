"""The router API end to end: scripted router over HTTP, targets = replay server through LiteLLM."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.serve.conftest import API_KEY, MODELS, ROUTER_TURN_COST, TOOL
from xrouter.llm.ledger import read_ledger
from xrouter.serve.scripted_router import call_then_select

GPT4, MISTRAL, GPT35 = MODELS


def post(server_url: str, body: dict, auth: dict, **kwargs) -> httpx.Response:
    return httpx.post(f"{server_url}/v1/chat/completions", json=body, headers=auth, timeout=60, **kwargs)


def ask(query: str, **extra) -> dict:
    return {"model": "router", "messages": [{"role": "user", "content": query}], **extra}


def test_direct_answer_costs_only_the_router(server_url, scripts, auth):
    """A text turn is returned as is; the only cost is the router's."""
    scripts.by_query["Say hi."] = [{"content": "<think>trivial</think>Hi!"}]
    response = post(server_url, ask("Say hi."), auth)
    assert response.status_code == 200, response.text
    body = response.json()
    meta = body["router_metadata"]
    assert body["choices"][0]["message"]["content"] == "Hi!"
    assert meta["routing_strategy"] == "direct_response" and meta["turns_used"] == 1
    assert meta["target_models_cost"] == 0 and meta["router_cost"] == pytest.approx(ROUTER_TURN_COST)
    assert meta["model_used"] == "scripted-router" and meta["call_history"] == []


def test_one_call_and_select_returns_the_recorded_answer_and_cost(server_url, scripts, auth, queries, recorded):
    """call_gpt_4 -> select: the recorded response, its recorded cost, and two router turns."""
    query = queries[0]
    scripts.by_query[query] = call_then_select(TOOL[GPT4])
    meta_body = post(server_url, ask(query), auth).json()
    meta = meta_body["router_metadata"]
    text, cost = recorded[(query, GPT4)]
    assert meta_body["choices"][0]["message"]["content"] == text
    assert meta["routing_strategy"] == "select_response" and meta["model_used"] == GPT4
    assert meta["target_models_cost"] == pytest.approx(cost, abs=1e-9)
    assert meta["router_cost"] == pytest.approx(2 * ROUTER_TURN_COST)
    assert meta["total_cost"] == pytest.approx(cost + 2 * ROUTER_TURN_COST, abs=1e-9)
    assert meta["models_called"] == [GPT4] and meta["call_history"][0]["prompt"] == "Answer the question."


def test_parallel_calls_then_select_one(server_url, scripts, auth, queries, recorded):
    """Three models in one turn, select Mistral's: every cost is charged, Mistral's answer returned."""
    query = queries[1]
    scripts.by_query[query] = [
        {"tool_calls": [[TOOL[m], {"optimized_system_prompt": "Answer with one letter."}] for m in MODELS]},
        {"tool_calls": [["select_response", {"model_call_name": TOOL[MISTRAL]}]]},
    ]
    body = post(server_url, ask(query), auth).json()
    meta = body["router_metadata"]
    assert body["choices"][0]["message"]["content"] == recorded[(query, MISTRAL)][0]
    assert sorted(meta["models_called"]) == sorted(MODELS) and meta["model_used"] == MISTRAL
    assert meta["target_models_cost"] == pytest.approx(sum(recorded[(query, m)][1] for m in MODELS), abs=1e-9)


def test_calls_on_the_last_turn_are_not_run(server_url, scripts, auth, queries, recorded):
    """Three turns of calls: the third is refused; invalid, the newest answer is returned."""
    query = queries[2]
    call = {"optimized_system_prompt": "Answer."}
    scripts.by_query[query] = [
        {"tool_calls": [[TOOL[GPT35], call]]},
        {"tool_calls": [[TOOL[MISTRAL], call]]},
        {"tool_calls": [[TOOL[GPT4], call]]},
    ]
    body = post(server_url, ask(query), auth).json()
    meta = body["router_metadata"]
    assert meta["routing_strategy"] == "max_turns_reached" and meta["valid"] is False and meta["turns_used"] == 3
    assert meta["call_history"][-1]["error_kind"] == "last_turn" and meta["models_called"] == sorted([GPT35, MISTRAL])
    assert body["choices"][0]["message"]["content"] == recorded[(query, MISTRAL)][0]


def test_budget_refusal_is_read_by_the_router(server_url, scripts, auth, queries):
    """With max_cost_usd=1e-5 the GPT-4 call is refused before it is sent; the router then answers."""
    query = queries[3]

    def script(q, turn, messages):
        if turn == 1:
            return {"tool_calls": [[TOOL[GPT4], {"optimized_system_prompt": "Answer."}]]}
        return {"content": "refused: " + messages[-1]["content"]}

    scripts.by_query[query] = script
    body = post(server_url, ask(query, max_cost_usd=1e-5), auth).json()
    meta = body["router_metadata"]
    assert meta["call_history"][0]["error_kind"] == "budget" and meta["target_models_cost"] == 0
    assert "exceeds the remaining budget" in body["choices"][0]["message"]["content"]


def test_failing_target_is_reported_to_the_router(server_url, scripts, auth):
    """An unrecorded query makes the replay target fail (404); cost 0, the router recovers."""
    query = "A question nobody recorded?"
    scripts.by_query[query] = [
        {"tool_calls": [[TOOL[GPT4], {"optimized_system_prompt": "Answer."}]]},
        {"content": "I could not reach a model."},
    ]
    meta = post(server_url, ask(query), auth).json()["router_metadata"]
    failed = meta["call_history"][0]
    assert failed["executed"] and not failed["success"] and failed["cost_usd"] == 0
    assert failed["error_kind"] == "not_found"
    assert meta["routing_strategy"] == "synthesized_response"


def test_streaming_ends_with_metadata_then_done(server_url, scripts, auth, queries, recorded):
    """SSE: content chunks, then a final chunk with finish_reason and router_metadata, then [DONE]."""
    query = queries[4]
    scripts.by_query[query] = call_then_select(TOOL[GPT35])
    with httpx.stream("POST", f"{server_url}/v1/chat/completions", json=ask(query, stream=True), headers=auth) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["router_metadata"]["model_used"] == GPT35
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == recorded[(query, GPT35)][0]


def test_openai_sdk_reads_router_metadata(server_url, scripts, queries, recorded):
    """The stock openai SDK gets the answer and router_metadata (non-streaming and streaming)."""
    from openai import OpenAI

    query = queries[5]
    scripts.by_query[query] = call_then_select(TOOL[MISTRAL])
    client = OpenAI(base_url=f"{server_url}/v1", api_key=API_KEY, max_retries=0)
    completion = client.chat.completions.create(model="router", messages=[{"role": "user", "content": query}])
    meta = completion.model_extra["router_metadata"]
    assert completion.choices[0].message.content == recorded[(query, MISTRAL)][0]
    assert meta["model_used"] == MISTRAL and meta["target_models_cost"] == pytest.approx(recorded[(query, MISTRAL)][1])
    stream = client.chat.completions.create(model="router", messages=[{"role": "user", "content": query}], stream=True)
    last = list(stream)[-1]
    assert last.model_extra["router_metadata"]["model_used"] == MISTRAL


def test_fifty_concurrent_requests_get_their_own_metadata(server_url, scripts, auth, queries, recorded):
    """50 requests in flight at once, each routed to its own model, each with its own answer and cost."""
    chosen = queries[10:60]
    expected = {}
    for index, query in enumerate(chosen):
        model = MODELS[index % 3]
        scripts.by_query[query] = call_then_select(TOOL[model])
        expected[query] = (model, *recorded[(query, model)])

    async def run_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server_url, headers=auth, timeout=120) as client:
            return await asyncio.gather(*(client.post("/v1/chat/completions", json=ask(q)) for q in chosen))

    responses = asyncio.run(run_all())
    for query, response in zip(chosen, responses, strict=True):
        assert response.status_code == 200, response.text
        body = response.json()
        model, text, cost = expected[query]
        assert body["choices"][0]["message"]["content"] == text
        assert body["router_metadata"]["model_used"] == model
        assert body["router_metadata"]["target_models_cost"] == pytest.approx(cost, abs=1e-9)
    assert len({r.json()["id"] for r in responses}) == 50


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"model": "router"}, 400, "missing_required_parameter"),
        ({"model": "router", "messages": "hi"}, 400, "invalid_type"),
        ({"model": "router", "messages": [{"role": "user", "content": 5}]}, 400, "invalid_type"),
        ({"model": "router", "messages": [{"role": "tool", "content": "x"}]}, 400, "invalid_value"),
        (
            {"model": "router", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
            400,
            "invalid_type",
        ),
        ({"model": "router", "messages": [{"role": "user", "content": "x"}], "top_p": 0.5}, 400, "invalid_value"),
        (
            {"model": "router", "messages": [{"role": "user", "content": "x"}], "tools": [{}]},
            400,
            "unsupported_parameter",
        ),
        ({"model": "router", "messages": [{"role": "user", "content": "x"}], "n": 2}, 400, "invalid_value"),
        ({"model": "router", "messages": [{"role": "user", "content": "x"}], "colour": 1}, 400, "unknown_parameter"),
        ({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}, 400, "model_not_found"),
        (
            {"model": "router", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            400,
            "invalid_value",
        ),
        (
            {"model": "router", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
            400,
            "invalid_value",
        ),
        ({"model": "router", "messages": [{"role": "user"}]}, 400, "invalid_type"),
        ({"model": "router", "messages": [{"role": "user", "content": "x", "name": "bob"}]}, 400, "invalid_value"),
        (
            {"model": "router", "messages": [{"role": "user", "content": "x"}], "stream_options": {}},
            400,
            "invalid_value",
        ),
        (
            {
                "model": "router",
                "messages": [{"role": "user", "content": "x"}],
                "max_tokens": 5,
                "max_completion_tokens": 6,
            },
            400,
            "invalid_value",
        ),
    ],
)
def test_bad_requests_get_openai_style_400(server_url, auth, body, status, code):
    """Each invalid body gets a 4xx with an OpenAI-style error naming the problem."""
    response = post(server_url, body, auth)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["type"] == "invalid_request_error"


def test_auth_size_and_json_errors_then_server_keeps_serving(server_url, scripts, auth):
    """Bad key 401, oversized body 413, broken JSON 400; a good request still succeeds afterwards."""
    scripts.by_query["Still there?"] = [{"content": "Yes."}]
    assert post(server_url, ask("x"), {"Authorization": "Bearer wrong"}).status_code == 401
    assert post(server_url, ask("x"), {}).status_code == 401
    huge = post(server_url, ask("y" * 100_000), auth)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "request_too_large"
    broken = httpx.post(f"{server_url}/v1/chat/completions", content=b"{not json", headers=auth)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    assert post(server_url, ask("Still there?"), auth).json()["choices"][0]["message"]["content"] == "Yes."


def test_text_parts_and_system_prompt_reach_router_and_target(server_url, scripts, auth, queries, ledger_path):
    """Text-part content, temperature and max_tokens reach the target call; `user` is recorded in the ledger."""
    query = queries[6]
    scripts.by_query[query] = call_then_select(TOOL[GPT4], prompt="Pick one letter.")
    body = {
        "model": "router",
        "messages": [
            {"role": "system", "content": "You are a quiz helper."},
            {"role": "user", "content": [{"type": "text", "text": query}]},
        ],
        "user": "alice",
        "temperature": 0.2,
        "max_tokens": 50,
    }
    meta = post(server_url, body, auth).json()["router_metadata"]
    call = meta["call_history"][0]
    assert call["temperature"] == 0.2 and call["max_tokens"] == 50 and call["success"]
    lines = [r for r in read_ledger(ledger_path) if r.get("request_id") == meta["request_id"]]
    line = next(r for r in lines if r.get("kind") == "request")
    assert line["user"] == "alice" and len(lines) == 2  # the call layer also logged the target call


def test_router_failure_is_502_with_reason(server_url, scripts, auth):
    """The router endpoint answering 500 gives 502 naming the router failure."""
    scripts.by_query["Router, fail please."] = [{"http_error": 500}]
    response = post(server_url, ask("Router, fail please."), auth)
    assert response.status_code == 502
    assert (
        "router" in response.json()["error"]["message"] and response.json()["error"]["code"] == "router_upstream_error"
    )


def test_models_health_metrics_and_ledger(server_url, scripts, auth, ledger_path):
    """/v1/models lists router and targets, /health is open, /metrics counts, every request is in the ledger."""
    scripts.by_query["Count me."] = [{"content": "Counted."}]
    assert post(server_url, ask("Count me."), auth).status_code == 200
    ids = [m["id"] for m in httpx.get(f"{server_url}/v1/models", headers=auth).json()["data"]]
    assert "router" in ids and set(MODELS) <= set(ids)
    assert httpx.get(f"{server_url}/v1/models").status_code == 401
    assert httpx.get(f"{server_url}/health").json()["status"] == "ok"
    metrics = httpx.get(f"{server_url}/metrics", headers=auth).text
    assert 'xrouter_requests_total{status="200",strategy="direct_response"}' in metrics
    assert "xrouter_request_latency_seconds_count" in metrics and 'xrouter_cost_usd_total{kind="router"}' in metrics
    records = [r for r in read_ledger(ledger_path) if r.get("kind") == "request"]
    assert records and records[-1]["strategy"] == "direct_response"
    assert records[-1]["cost_usd"] == pytest.approx(ROUTER_TURN_COST)


def test_unknown_path_and_method_get_openai_style_errors(server_url, auth):
    """404 and 405 come back in the OpenAI error shape."""
    missing = httpx.get(f"{server_url}/v1/nothing", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = httpx.get(f"{server_url}/v1/chat/completions", headers=auth)
    assert wrong.status_code == 405 and "GET" in wrong.json()["error"]["message"]


METADATA_FIELDS = {
    "model_used",
    "total_cost",
    "router_cost",
    "target_models_cost",
    "total_time",
    "routing_strategy",
    "call_history",
    "turns_used",
    "models_called",
    "cache_hits",
}


def test_router_metadata_fields_in_json_and_in_the_last_sse_chunk(server_url, scripts, auth, queries, recorded):
    """Both response forms carry every router_metadata field with the same values; only the last chunk has it."""
    query = queries[9]
    scripts.by_query[query] = call_then_select(TOOL[GPT4])
    meta = post(server_url, ask(query), auth).json()["router_metadata"]
    with httpx.stream("POST", f"{server_url}/v1/chat/completions", json=ask(query, stream=True), headers=auth) as r:
        chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    streamed = chunks[-1]["router_metadata"]
    assert all("router_metadata" not in c for c in chunks[:-1])
    for got in (meta, streamed):
        assert METADATA_FIELDS <= set(got)
        assert got["model_used"] == GPT4 and got["routing_strategy"] == "select_response" and got["turns_used"] == 2
        assert got["models_called"] == [GPT4] and got["cache_hits"] == 0 and got["total_time"] > 0
        assert got["total_cost"] == pytest.approx(got["router_cost"] + got["target_models_cost"])
        assert got["target_models_cost"] == pytest.approx(recorded[(query, GPT4)][1], abs=1e-9)
        assert [c["model"] for c in got["call_history"]] == [GPT4, None]  # the call, then select_response
    assert chunks[-1]["usage"]["total_tokens"] > 0


def test_router_failure_mid_episode_is_502_and_still_in_ledger_and_metrics(
    server_url, scripts, auth, queries, recorded, ledger_path
):
    """A router that fails after a paid target call: 502, and the ledger and /metrics keep what was spent."""
    query = queries[60]
    scripts.by_query[query] = [
        {"tool_calls": [[TOOL[GPT35], {"optimized_system_prompt": "Answer."}]]},
        {"http_error": 500},
    ]
    before = _cost_totals(httpx.get(f"{server_url}/metrics", headers=auth).text)
    response = post(server_url, ask(query, user="bob"), auth)
    assert response.status_code == 502 and "HTTP 500" in response.json()["error"]["message"]
    line = [r for r in read_ledger(ledger_path) if r.get("kind") == "request"][-1]
    cost = recorded[(query, GPT35)][1]
    assert line["success"] is False and line["user"] == "bob" and line["strategy"] == "error"
    assert line["target_cost_usd"] == pytest.approx(cost, abs=1e-9) and line["cost_usd"] == pytest.approx(
        ROUTER_TURN_COST
    )
    after = _cost_totals(httpx.get(f"{server_url}/metrics", headers=auth).text)
    assert after["targets"] - before["targets"] == pytest.approx(cost, abs=1e-8)


def _cost_totals(metrics_text: str) -> dict[str, float]:
    parser = pytest.importorskip("prometheus_client.parser")
    totals = {}
    for family in parser.text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "xrouter_cost_usd_total":
                totals[sample.labels["kind"]] = sample.value
    return totals


def test_metrics_is_valid_prometheus_text(server_url, scripts, auth):
    """/metrics parses as Prometheus text with the documented families, and counts calls per model."""
    parser = pytest.importorskip("prometheus_client.parser")
    scripts.by_query["Metrics probe."] = [{"content": "ok"}]
    assert post(server_url, ask("Metrics probe."), auth).status_code == 200
    families = {
        f.name: f for f in parser.text_string_to_metric_families(httpx.get(f"{server_url}/metrics", headers=auth).text)
    }
    assert {
        "xrouter_requests",
        "xrouter_errors",
        "xrouter_request_latency_seconds",
        "xrouter_cost_usd",
        "xrouter_target_calls",
        "xrouter_requests_in_flight",
    } <= set(families)
    assert families["xrouter_request_latency_seconds"].type == "histogram"
    ok = [s for s in families["xrouter_requests"].samples if s.labels.get("status") == "200"]
    assert sum(s.value for s in ok) >= 1
