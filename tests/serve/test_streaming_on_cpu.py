"""Streaming that starts before the episode ends: a slow replay upstream streams word pieces 50 ms apart."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import API_KEY, MODELS, TOOL, make_settings
from xrouter.data.outcomes import OutcomeTable
from xrouter.llm.ledger import read_ledger
from xrouter.llm.replay import ReplayStore, create_replay_app
from xrouter.llm.replay.server import stream_pieces
from xrouter.serve.app import create_app
from xrouter.serve.background import BackgroundServer
from xrouter.serve.scripted_router import USAGE, create_scripted_router_app

GPT4 = MODELS[0]
PIECES = 20
ANSWER = " ".join(f"w{i:02d}" for i in range(1, PIECES + 1))  # 20 word pieces: "w01", " w02", ...
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class FinishClock:
    """ASGI wrapper noting when the upstream sent the last byte of each streamed answer."""

    def __init__(self, app) -> None:
        self.app = app
        self.finished: list[float] = []

    async def __call__(self, scope, receive, send) -> None:
        async def noting(message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.finished.append(time.perf_counter())

        await self.app(scope, receive, noting)


@pytest.fixture(scope="module")
def slow_table(arc_table: OutcomeTable, queries: list[str]) -> OutcomeTable:
    """ARC outcomes where GPT-4's answer to the first query is 20 word pieces long."""
    frame = arc_table.frame.copy()
    frame.loc[(frame.query_text == queries[0]) & (frame.model == GPT4), "response"] = ANSWER
    return OutcomeTable(frame, arc_table.sources)


@pytest.fixture(scope="module")
def slow_upstream(slow_table: OutcomeTable) -> Iterator[tuple[str, FinishClock]]:
    """(base URL, clock) of a replay server streaming one piece every 50 ms."""
    clock = FinishClock(create_replay_app(ReplayStore(slow_table), stream_delay_s=0.05))
    with BackgroundServer(clock) as server:
        yield f"{server.url}/v1", clock


@pytest.fixture(scope="module")
def clocked_router(scripts) -> Iterator[tuple[str, FinishClock]]:
    """(base URL, clock) of a scripted router whose streamed turns are timed."""
    clock = FinishClock(create_scripted_router_app(scripts))
    with BackgroundServer(clock) as server:
        yield f"{server.url}/v1", clock


def _server(router_url: str, upstream: str, ledger: Path, **overrides) -> BackgroundServer:
    return BackgroundServer(create_app(make_settings(router_url, upstream, ledger, **overrides)))


def _events(url: str, query: str) -> list[tuple[float, str]]:
    """(arrival time, line) of every non-blank SSE line of a streamed request."""
    body = {"model": "router", "messages": [{"role": "user", "content": query}], "stream": True}
    out = []
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=AUTH, timeout=60) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line:
                out.append((time.perf_counter(), line))
    return out


def _chunks(events: list[tuple[float, str]]) -> list[tuple[float, dict]]:
    return [(t, json.loads(line[6:])) for t, line in events if line.startswith("data: {")]


def test_replay_streams_word_pieces_in_order():
    """The replay server's pieces are at most four characters plus a leading space, and join to the answer."""
    pieces = stream_pieces(ANSWER)
    assert len(pieces) == PIECES and "".join(pieces) == ANSWER
    assert stream_pieces("Hello, world!") == ["Hell", "o,", " worl", "d!"]


def test_simple_mode_streams_the_target_tokens_as_they_arrive(router_url, scripts, slow_upstream, queries, tmp_path):
    """First content chunk before the upstream's last chunk; 20 content chunks; usage and metadata last."""
    upstream, clock = slow_upstream
    scripts.by_query[queries[0]] = [{"tool_calls": [[TOOL[GPT4], {"optimized_system_prompt": "Answer."}]]}]
    with _server(router_url, upstream, tmp_path / "ledger.jsonl", mode="simple") as server:
        events = _events(server.url, queries[0])
    chunks = _chunks(events)
    contents = [(t, c["choices"][0]["delta"]["content"]) for t, c in chunks if c["choices"][0]["delta"].get("content")]
    assert len(contents) == PIECES and "".join(text for _, text in contents) == ANSWER
    assert contents[0][0] < clock.finished[-1]  # the client had the first token before the upstream was done
    last = chunks[-1][1]
    assert last["choices"][0]["finish_reason"] == "stop" and events[-1][1] == "data: [DONE]"
    assert last["router_metadata"]["routing_strategy"] == "delegate_to_model"
    assert last["router_metadata"]["model_used"] == GPT4
    assert last["usage"]["completion_tokens"] > 20  # the router's 20 plus the target's own
    assert all("router_metadata" not in c for _, c in chunks[:-1])


def test_agent_mode_sends_keepalives_then_the_answer(router_url, scripts, replay_url, tmp_path):
    """While a slow router turn runs, SSE comments keep the connection alive; the answer follows."""
    query = "Stream me a slow answer."
    scripts.by_query[query] = [{"content": "Slow but sure.", "delay_s": 0.6}]
    with _server(router_url, replay_url, tmp_path / "ledger.jsonl", stream_keepalive_s=0.1) as server:
        events = _events(server.url, query)
    lines = [line for _, line in events]
    first_content = next(i for i, line in enumerate(lines) if '"content": "Slow' in line or '"content":"Slow' in line)
    assert lines.count(": keep-alive") >= 2
    assert all(i < first_content for i, line in enumerate(lines) if line == ": keep-alive")
    assert _chunks(events)[-1][1]["router_metadata"]["routing_strategy"] == "direct_response"


def test_a_stream_that_fails_before_anything_was_sent_keeps_its_status(router_url, scripts, replay_url, tmp_path):
    """A router failure before the first event still answers with its HTTP status, not a 200 stream."""
    query = "Router breaks at once."
    scripts.by_query[query] = [{"http_error": 400}]
    with _server(router_url, replay_url, tmp_path / "ledger.jsonl") as server:
        body = {"model": "router", "messages": [{"role": "user", "content": query}], "stream": True}
        response = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=AUTH, timeout=60)
    assert response.status_code == 502 and response.json()["error"]["code"] == "router_upstream_error"
    rows = list(read_ledger(tmp_path / "ledger.jsonl"))
    assert [r["kind"] for r in rows] == ["request"] and rows[0]["success"] is False


def _contents(chunks: list[tuple[float, dict]]) -> list[tuple[float, str]]:
    deltas = [(t, c["choices"][0]["delta"]) for t, c in chunks if c.get("choices")]
    return [(t, delta["content"]) for t, delta in deltas if delta.get("content")]


def test_the_routers_own_answer_streams_as_the_router_writes_it(clocked_router, scripts, replay_url, tmp_path):
    """A direct answer written in 20 pieces 50 ms apart: the first is out before the router has finished."""
    router, clock = clocked_router
    query = "Answer this one yourself, piece by piece."
    scripts.by_query[query] = [{"content": f"<think>easy</think>\n{ANSWER}", "piece_delay_s": 0.05}]
    ledger = tmp_path / "ledger.jsonl"
    with _server(router, replay_url, ledger) as server:
        events = _events(server.url, query)
    chunks = _chunks(events)
    contents = _contents(chunks)
    assert "".join(text for _, text in contents) == ANSWER and len(contents) == PIECES
    assert contents[0][0] < clock.finished[-1]  # the client had the first words before the router's last
    last = chunks[-1][1]
    assert last["router_metadata"]["routing_strategy"] == "direct_response" and events[-1][1] == "data: [DONE]"
    assert last["usage"]["completion_tokens"] == USAGE["completion_tokens"]  # the router's turn, from its usage chunk
    rows = list(read_ledger(ledger))
    assert [r["kind"] for r in rows] == ["request"] and rows[0]["success"] is True
    assert rows[0]["output_tokens"] == USAGE["completion_tokens"]


def test_a_streamed_router_turn_that_writes_a_tool_call_sends_none_of_it(
    router_url, scripts, replay_url, queries, recorded, tmp_path
):
    """Hermes tool-call text is held back; the delegated target's answer is what streams."""
    scripts.by_query[queries[1]] = [
        {
            "content": f'<tool_call>{{"name": "{TOOL[GPT4]}", "arguments": {{"optimized_system_prompt": "Go."}}}}</tool_call>'
        }
    ]
    with _server(router_url, replay_url, tmp_path / "ledger.jsonl", mode="simple") as server:
        events = _events(server.url, queries[1])
    chunks = _chunks(events)
    text = "".join(t for _, t in _contents(chunks))
    assert text == recorded[(queries[1], GPT4)][0]  # only the target's words went out
    assert chunks[-1][1]["router_metadata"]["model_used"] == GPT4


def test_text_then_tool_calls_in_a_streamed_turn_ends_with_an_error_event(router_url, scripts, replay_url, tmp_path):
    """Words already sent cannot be taken back when the router then calls a model: an error event, a ledger row."""
    query = "Talk first, then call a model."
    call = [TOOL[GPT4], {"optimized_system_prompt": "Answer."}]
    scripts.by_query[query] = [{"content": "Let me check that.", "tool_calls": [call]}, {"content": "Done."}]
    ledger = tmp_path / "ledger.jsonl"
    with _server(router_url, replay_url, ledger) as server:
        events = _events(server.url, query)
        plain = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"model": "router", "messages": [{"role": "user", "content": query}]},
            headers=AUTH,
            timeout=60,
        )
    lines = [line for _, line in events]
    assert "".join(t for _, t in _contents(_chunks(events))) == "Let me check that."
    error = json.loads(lines[-1][6:])["error"]
    assert error["code"] == "router_stream_broken" and "data: [DONE]" not in lines
    assert plain.status_code == 200 and plain.json()["choices"][0]["message"]["content"] == "Done."
    rows = [r for r in read_ledger(ledger) if r.get("kind") == "request"]
    assert [r["success"] for r in rows] == [False, True]
    assert rows[0]["output_tokens"] == USAGE["completion_tokens"] and rows[0]["error"]["status_code"] == 502


def test_a_router_stream_that_breaks_mid_answer_ends_with_an_error_event(router_url, scripts, replay_url, tmp_path):
    """Five pieces out, then the router's connection drops: an error event and the partial turn in the ledger."""
    query = "Start answering and then crash."
    scripts.by_query[query] = [{"content": ANSWER, "break_after": 5}]
    ledger = tmp_path / "ledger.jsonl"
    with _server(router_url, replay_url, ledger) as server:
        events = _events(server.url, query)
    lines = [line for _, line in events]
    assert "".join(t for _, t in _contents(_chunks(events))) == "w01 w02 w03 w04 w05"
    error = json.loads(lines[-1][6:])["error"]
    assert error["code"] == "router_stream_broken" and "data: [DONE]" not in lines
    rows = list(read_ledger(ledger))
    assert [r["kind"] for r in rows] == ["request"] and rows[0]["success"] is False
    assert rows[0]["estimated"] is True and rows[0]["output_tokens"] > 0  # the part that arrived is paid for


def test_a_one_step_select_streams_the_named_models_tokens(router_url, scripts, slow_upstream, queries, tmp_path):
    """Agent mode with --one-step-select: a first-turn select of GPT-4 streams its 20 pieces as they arrive."""
    upstream, clock = slow_upstream
    scripts.by_query[queries[0]] = [{"tool_calls": [["select_response", {"model_call_name": TOOL[GPT4]}]]}]
    with _server(router_url, upstream, tmp_path / "ledger.jsonl", one_step_select=True) as server:
        events = _events(server.url, queries[0])
    chunks = _chunks(events)
    contents = _contents(chunks)
    assert len(contents) == PIECES and "".join(text for _, text in contents) == ANSWER
    assert contents[0][0] < clock.finished[-1]
    meta = chunks[-1][1]["router_metadata"]
    assert meta["routing_strategy"] == "select_response" and meta["model_used"] == GPT4
    rows = list(read_ledger(tmp_path / "ledger.jsonl"))
    assert sorted(r.get("kind", "call") for r in rows) == ["call", "request"]


def test_without_router_stream_the_direct_answer_goes_out_whole(router_url, scripts, replay_url, tmp_path):
    """--no-router-stream: the router's turn is requested without stream, its answer sent in one chunk."""
    query = "Answer yourself, but all at once."
    scripts.by_query[query] = [{"content": ANSWER}]
    with _server(router_url, replay_url, tmp_path / "ledger.jsonl", router_stream=False) as server:
        events = _events(server.url, query)
    assert [text for _, text in _contents(_chunks(events))] == [ANSWER]
