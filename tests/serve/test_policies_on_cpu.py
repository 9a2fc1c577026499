"""Router policies through a real server: a catalog model as router via LiteLLM, and episode timeouts."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import API_KEY, MODELS, TOOL, make_settings
from xrouter.llm.ledger import read_ledger
from xrouter.serve.app import create_app
from xrouter.serve.background import BackgroundServer
from xrouter.serve.scripted_router import call_then_select

ROUTER_ENTRY = """\
models:
  - id: my-router
    litellm_model: openai/scripted-router
    api_base: {url}
    provider: local
    tier: budget
    input_usd_per_mtok: 3.0
    output_usd_per_mtok: 5.0
    context_window: 32768
    max_output_tokens: 4096
"""


def _litellm_settings(tmp_path, router_url, replay_url):
    catalog = tmp_path / "router.yaml"
    catalog.write_text(ROUTER_ENTRY.format(url=router_url))
    base = make_settings(router_url, replay_url, tmp_path / "ledger.jsonl")
    return make_settings(
        router_url,
        replay_url,
        tmp_path / "ledger.jsonl",
        policy="litellm:my-router",
        router_model="my-router",
        router_api_base=None,
        router_price_in=None,
        router_price_out=None,
        catalog_files=(*base.catalog_files, str(catalog)),
    )


def test_catalog_model_as_router_through_litellm(tmp_path, router_url, replay_url, scripts, queries, recorded):
    """--policy litellm:my-router routes through LiteLLM and prices the router from the catalog."""
    query = queries[8]
    scripts.by_query[query] = call_then_select(TOOL[MODELS[1]])
    settings = _litellm_settings(tmp_path, router_url, replay_url)
    with BackgroundServer(create_app(settings)) as server:
        body = {"model": "router", "messages": [{"role": "user", "content": query}]}
        response = httpx.post(
            f"{server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
        )
    assert response.status_code == 200, response.text
    meta = response.json()["router_metadata"]
    assert meta["model_used"] == MODELS[1]
    assert response.json()["choices"][0]["message"]["content"] == recorded[(query, MODELS[1])][0]
    assert meta["router_cost"] == pytest.approx(2 * (100 * 3.0 + 20 * 5.0) / 1e6)


def test_litellm_router_turns_stream_too(tmp_path, router_url, replay_url, scripts, queries, recorded):
    """Streamed requests: LiteLLM streams the router's turns; a direct answer arrives in pieces, tool calls work."""
    direct, routed = "Say hello yourself, through LiteLLM.", queries[9]
    scripts.by_query[direct] = [{"content": "Hello there from the router itself."}]
    scripts.by_query[routed] = call_then_select(TOOL[MODELS[1]])
    headers = {"Authorization": f"Bearer {API_KEY}"}
    answers = {}
    with BackgroundServer(create_app(_litellm_settings(tmp_path, router_url, replay_url))) as server:
        for query in (direct, routed):
            body = {"model": "router", "messages": [{"role": "user", "content": query}], "stream": True}
            with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
                assert r.status_code == 200
                chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
            answers[query] = [c["choices"][0]["delta"].get("content") for c in chunks if c.get("choices")]
            assert chunks[-1]["router_metadata"]["router_cost"] > 0
    assert len([p for p in answers[direct] if p]) > 3  # pieces, not one chunk
    assert "".join(p or "" for p in answers[direct]) == "Hello there from the router itself."
    assert "".join(p or "" for p in answers[routed]) == recorded[(routed, MODELS[1])][0]


def test_episode_timeout_is_504_and_server_keeps_serving(tmp_path: Path, router_url, replay_url, scripts):
    """A router slower than --request-timeout-s gives 504; the next request is answered."""
    scripts.by_query["Slow router please."] = [{"content": "late", "delay_s": 2.0}]
    scripts.by_query["Fast router please."] = [{"content": "quick"}]
    settings = make_settings(router_url, replay_url, tmp_path / "ledger.jsonl", request_timeout_s=0.5)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with BackgroundServer(create_app(settings)) as server:
        url = f"{server.url}/v1/chat/completions"
        slow = httpx.post(
            url,
            json={"model": "router", "messages": [{"role": "user", "content": "Slow router please."}]},
            headers=headers,
            timeout=30,
        )
        fast = httpx.post(
            url,
            json={"model": "router", "messages": [{"role": "user", "content": "Fast router please."}]},
            headers=headers,
            timeout=30,
        )
    assert slow.status_code == 504 and slow.json()["error"]["code"] == "timeout"
    assert fast.status_code == 200 and fast.json()["choices"][0]["message"]["content"] == "quick"
    timed_out, answered = [r for r in read_ledger(tmp_path / "ledger.jsonl") if r.get("kind") == "request"]
    assert (
        timed_out["success"] is False and timed_out["strategy"] == "error" and "504" in json.dumps(timed_out["error"])
    )
    assert answered["success"] is True and answered["strategy"] == "direct_response"
