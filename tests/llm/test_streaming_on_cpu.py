"""Reading streamed chat completions: pieces handed on at once, redacted, and a break told from an end."""

from __future__ import annotations

import asyncio
import json

import pytest

from xrouter.llm.redact import register_secret
from xrouter.llm.streaming import StreamBroken, StreamRedactor, read_sse_stream

SECRET = "sk-stream-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_other_secrets(monkeypatch):
    """Secrets registered by other tests would hold back text that could begin them: start from none."""
    monkeypatch.setattr("xrouter.llm.redact._SECRETS", ())


def _lines(*events: object, done: bool = True) -> list[str]:
    out = [": keep-alive", ""]
    for event in events:
        out += [f"data: {json.dumps(event)}", ""]
    return out + (["data: [DONE]"] if done else [])


def _delta(text: str, finish: str | None = None, usage: dict | None = None) -> dict:
    body: dict = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = usage
    return body


async def _read(lines: list[str], limit: int = 1 << 20) -> tuple[dict, list[str]]:
    got: list[str] = []

    async def source():
        for line in lines:
            yield line

    return await read_sse_stream(source(), got.append, limit), got


def test_pieces_are_handed_on_and_the_answer_assembled_with_its_usage():
    usage = {"prompt_tokens": 7, "completion_tokens": 3}
    body, got = asyncio.run(_read(_lines(_delta("Hel"), _delta("lo"), _delta("!", "stop"), _delta("", None, usage))))
    assert got == ["Hel", "lo", "!"]
    assert body["choices"][0]["message"]["content"] == "Hello!" and body["usage"] == usage
    assert body["choices"][0]["finish_reason"] == "stop"


def test_a_stream_without_usage_comes_back_without_usage():
    body, _ = asyncio.run(_read(_lines(_delta("ok", "stop"))))
    assert "usage" not in body


def test_a_break_after_delivery_is_stream_broken_with_the_delivered_text():
    with pytest.raises(StreamBroken) as broken:
        asyncio.run(_read(_lines(_delta("par"), _delta("tial"), done=False)))
    assert broken.value.text == "partial" and broken.value.received == "partial"


def test_a_break_before_any_delivery_is_a_retryable_connection_error():
    with pytest.raises(ConnectionError):
        asyncio.run(_read(_lines(done=False)))


def test_an_error_event_mid_stream_breaks_it():
    with pytest.raises(StreamBroken, match="error event"):
        asyncio.run(_read(_lines(_delta("a"), {"error": {"message": "overloaded"}})))


def test_the_size_cap_stops_the_stream():
    with pytest.raises(StreamBroken, match="size cap"):
        asyncio.run(_read(_lines(_delta("x" * 600), _delta("y" * 600, "stop")), limit=1000))


def test_a_secret_split_across_deltas_never_reaches_the_reader():
    register_secret(SECRET)
    pieces = ["key: sk-str", "eam-secret-01234", "56789abcdef", " end"]
    body, got = asyncio.run(_read(_lines(*[_delta(p) for p in pieces], _delta("", "stop"))))
    assert SECRET not in "".join(got) and "".join(got) == "key: [REDACTED] end"
    assert got[0] == "key: "  # only the possible start of the secret was held back


def test_the_redactor_holds_back_nothing_from_ordinary_text():
    register_secret(SECRET)
    redactor = StreamRedactor()
    assert redactor.feed("plain words ") == "plain words " and redactor.flush() == ""


def test_tool_call_deltas_are_joined_by_index_into_the_message():
    """A router turn streamed as tool-call deltas comes back with whole calls, as a non-streamed one would."""

    def call(index: int, **fields) -> dict:
        return {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, **fields}]}, "finish_reason": None}]}

    events = [
        call(0, id="c1", type="function", function={"name": "call_a", "arguments": ""}),
        call(1, id="c2", type="function", function={"name": "call_b", "arguments": '{"x"'}),
        call(0, function={"arguments": '{"optimized_system_prompt": "Hi"}'}),
        call(1, function={"arguments": ": 1}"}),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    body, got = asyncio.run(_read(_lines(*events)))
    calls = body["choices"][0]["message"]["tool_calls"]
    assert got == [] and [c["id"] for c in calls] == ["c1", "c2"]
    assert [c["function"]["name"] for c in calls] == ["call_a", "call_b"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"optimized_system_prompt": "Hi"}, {"x": 1}]


def test_a_tool_call_delta_that_is_not_an_object_is_a_broken_stream():
    bad = {"choices": [{"index": 0, "delta": {"tool_calls": ["call_a"]}, "finish_reason": None}]}
    with pytest.raises(ConnectionError, match="tool-call delta is not an object"):
        asyncio.run(_read(_lines(bad)))
