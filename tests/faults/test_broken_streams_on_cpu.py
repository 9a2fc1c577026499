"""Streamed answers that break: mid-way the client gets an error event, and the ledger what the part cost."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.faults.conftest import API_KEY, Served

STORY = "Tell me a long story about routers and the streams they forward to their many users"


@pytest.fixture(scope="module")
def simple(make_served) -> Served:
    """A simple-mode server: the delegated call's answer is streamed to the client as it arrives."""
    return make_served(mode="simple")


def _stream(served: Served, text: str) -> tuple[httpx.Response, list[str]]:
    body = {"model": "router", "messages": [{"role": "user", "content": text}], "stream": True}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body, headers=headers, timeout=30) as r:
        lines = [line for line in r.iter_lines() if line]
    return r, lines


def _content(lines: list[str]) -> str:
    chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {") and '"choices"' in line]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


@pytest.mark.parametrize("fault", ["stream_cut:6", "stream_error:6"])
def test_a_stream_broken_mid_way_ends_with_an_error_event_and_a_ledger_row(simple, fault):
    """Six words went out, then the upstream broke: an error event ends the stream; both ledger rows exist."""
    response, lines = _stream(simple, f"{STORY} [[target={fault}]]")
    assert response.status_code == 200
    assert _content(lines) == "answer of fault-a: Tell me a"  # the six words delivered, nothing after
    error = json.loads(lines[-1][6:])["error"]
    assert error["code"] == "target_stream_broken" and "fault-a" in error["message"]
    assert "data: [DONE]" not in lines
    call = simple.call_lines(response)
    assert len(call) == 1 and call[0]["model_id"] == "fault-a" and call[0]["success"] is False
    assert call[0]["error"]["kind"] == "connection" and call[0]["estimated"] is True
    assert call[0]["output_tokens"] > 0 and call[0]["spent_usd"] > 0  # the delivered part is paid for
    request = simple.request_line(response)
    assert request is not None and request["success"] is False and request["error"]["status_code"] == 502


def test_a_whole_stream_through_the_call_layer_is_charged_from_its_usage_chunk(simple):
    """An unbroken stream: every word arrives, the answer is the target's, its cost from the final usage."""
    response, lines = _stream(simple, f"{STORY} [[key=whole]]")
    assert _content(lines) == f"answer of fault-a: {STORY}"
    last = json.loads(lines[-2][6:])
    assert lines[-1] == "data: [DONE]" and last["router_metadata"]["routing_strategy"] == "delegate_to_model"
    call = simple.call_lines(response)[0]
    assert call["success"] is True and call["estimated"] is False and call["output_tokens"] == 20
