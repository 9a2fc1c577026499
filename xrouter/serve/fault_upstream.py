"""An OpenAI-compatible upstream that misbehaves on request: router and target models for the fault suite.

One app plays both roles: a request that offers `tools` is a router turn, any other request a target call.
Each request picks its behaviour from directives in its last user message, `[[key=value key=value]]`. The
user's text reaches the router chat and every target call, so one client request steers both:

* `target=FAULT` for every target call, `target.NAME=FAULT` for calls of the model named NAME on the wire;
* `rN=STEP` for the router's N-th turn. Without one, turn 1 calls the first offered model and later turns
  select the first successful call (or answer in text when none succeeded);
* `key=ID` keeps the counters of `flaky` faults of different requests apart.

FAULT (either role): `ok`, `slow:S` (answer after S seconds), `status:CODE` (an OpenAI error body),
`echo:CODE` (an error body repeating the request's headers, credentials included), `hang:S` (no answer for S
seconds), `drip:S` (the answer dribbled out over S seconds), `cut` (the connection ends short of the declared
length), `malformed`, `partial` (a valid body cut in half), `array`, `no_choices`, `choice_string`,
`message_string`, `content_number`, `no_usage`, `usage_list`, `usage_bad_tokens`, `cost:USD` (a
provider-reported cost), `nan` (a bare NaN in the body), `huge:MIB` (an answer of that many MiB), `flaky:N`
(the first N requests per key and model get a 500, later ones an answer). A target call with `stream: true`
gets its answer as server-sent events, one word per chunk with the usage in the last; `stream_cut:N` sends N
content chunks and then closes the connection without finishing, `stream_error:N` sends an error event instead.
Router STEP: `call:M1,M2` (tool calls), `select:M`, `both:M` (select and call M in one turn), `text`,
`tool:NAME` (a tool that is not offered), `args:M` (arguments that are not JSON), `tool_calls_strings`, or a
FAULT. M is a model name as on the wire (`fault-a` means the tool `call_fault_a`).

Every answer reports 100 prompt and 20 completion tokens, so costs are predictable. `app.state.seen` keeps
the last requests received (role, body, headers) for tests that check what reached an upstream.
`fault_catalog(base_url)` is a catalog of target models served by it.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from xrouter.catalog import SELECT_TOOL_NAME, tool_name_for

USAGE = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
_DIRECTIVES = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)


def directives(messages: list[dict[str, Any]]) -> dict[str, str]:
    """The `[[key=value ...]]` directives of the last user message."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            found: dict[str, str] = {}
            for block in _DIRECTIVES.findall(text):
                found.update(part.split("=", 1) for part in block.split() if "=" in part)
            return found
    return {}


def _completion(message: dict[str, Any], model: str, usage: Any = USAGE) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def _tool_call(name: str, arguments: Any, index: int) -> dict[str, Any]:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": f"call_{index}_{name}", "type": "function", "function": {"name": name, "arguments": raw}}


def _successful_calls(messages: list[dict[str, Any]]) -> list[str]:
    return [
        str(m.get("name"))
        for m in messages
        if m.get("role") == "tool" and not str(m.get("content") or "").startswith("[error]")
    ]


def router_message(step: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The assistant message of one router STEP (see the module docstring)."""
    kind, _, arg = step.partition(":")
    prompt = {"optimized_system_prompt": "Answer the question."}
    offered = [t["function"]["name"] for t in tools if t["function"]["name"] != SELECT_TOOL_NAME]
    if kind == "default" and any(m.get("role") == "tool" for m in messages):
        done = _successful_calls(messages)
        if done:
            return {"role": "assistant", "content": None, "tool_calls": [_select(done[0], 0)]}
        kind = "text"
    elif kind == "default":
        kind = "call"
    if kind == "call":
        names = [tool_name_for(m) for m in arg.split(",") if m] or offered[:1]
        calls = [_tool_call(name, prompt, i) for i, name in enumerate(names)]
        return {"role": "assistant", "content": None, "tool_calls": calls}
    if kind == "select":
        return {"role": "assistant", "content": None, "tool_calls": [_select(tool_name_for(arg), 0)]}
    if kind == "both":
        calls = [_select(tool_name_for(arg), 0), _tool_call(tool_name_for(arg), prompt, 1)]
        return {"role": "assistant", "content": None, "tool_calls": calls}
    if kind == "tool":
        return {"role": "assistant", "content": None, "tool_calls": [_tool_call(arg, prompt, 0)]}
    if kind == "args":
        return {"role": "assistant", "content": None, "tool_calls": [_tool_call(tool_name_for(arg), "{not json", 0)]}
    if kind == "tool_calls_strings":
        return {"role": "assistant", "content": None, "tool_calls": ["call_fault_a"]}
    return {"role": "assistant", "content": arg or "router answer"}


def _select(tool: str, index: int) -> dict[str, Any]:
    return _tool_call(SELECT_TOOL_NAME, {"model_call_name": tool}, index)


def _error(status: int, message: str) -> Response:
    body = {"error": {"message": message, "type": "fault", "param": None, "code": str(status)}}
    headers = {"retry-after": "0"} if status == 429 else None
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _body_fault(kind: str, arg: str, good: dict[str, Any]) -> Response | None:
    """Faults that answer 200 with a broken or unusual body; None when `kind` is not one of them."""
    message = good["choices"][0]["message"]
    broken: dict[str, Any] = {
        "array": [1, 2],
        "no_choices": {**good, "choices": []},
        "choice_string": {**good, "choices": ["hello"]},
        "message_string": {**good, "choices": [{"index": 0, "message": "hello", "finish_reason": "stop"}]},
        "content_number": _completion({"role": "assistant", "content": 42}, good["model"]),
        "no_usage": _completion(message, good["model"], usage=None),
        "usage_list": _completion(message, good["model"], usage=[100, 20]),
        "usage_bad_tokens": _completion(message, good["model"], usage={**USAGE, "prompt_tokens": "x"}),
    }
    if kind in broken:
        return Response(json.dumps(broken[kind]), media_type="application/json")
    if kind == "cost":
        return Response(json.dumps({**good, "usage": {**USAGE, "cost": float(arg)}}), media_type="application/json")
    if kind == "malformed":
        return Response(b'{"id": "x", "choices": [ {not json', media_type="application/json")
    if kind == "partial":
        text = json.dumps(good)
        return Response(text[: len(text) // 2], media_type="application/json")
    if kind == "nan":
        return Response(json.dumps(good)[:-1] + ', "score": NaN}', media_type="application/json")
    if kind == "huge":
        size = int(float(arg or "50") * (1 << 20))
        head = b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", '
        return Response(head + b'"content": "' + b"x" * size + b'"}}], "usage": ' + json.dumps(USAGE).encode() + b"}")
    return None


async def _drip(data: bytes, seconds: float) -> AsyncIterator[bytes]:
    pieces = max(1, min(len(data), 20))
    step = -(-len(data) // pieces)
    for start in range(0, len(data), step):
        yield data[start : start + step]
        await asyncio.sleep(seconds / pieces)


async def _answer(fault: str, good: dict[str, Any], request: Request, counters: collections.Counter, key: str):
    """Apply one FAULT to the good answer `good` (`key` keeps `flaky` counters apart)."""
    kind, _, arg = fault.partition(":")
    if kind in ("slow", "hang"):
        await asyncio.sleep(float(arg or "3600"))
    if kind == "status":
        return _error(int(arg), f"fault upstream answered {arg} on purpose")
    if kind == "echo":
        seen = "; ".join(f"{k}: {v}" for k, v in request.headers.items())
        return _error(int(arg or "400"), f"rejected request with headers {seen}")
    if kind == "flaky":
        counters[(key, good["model"])] += 1
        if counters[(key, good["model"])] <= int(arg):
            return _error(500, "flaky upstream failure")
    if kind == "cut":
        return Response(b'{"id": "x", "cho', media_type="application/json", headers={"content-length": "4000"})
    if kind == "drip":
        return StreamingResponse(_drip(json.dumps(good).encode(), float(arg or "5")), media_type="application/json")
    broken = _body_fault(kind, arg, good)
    return broken if broken is not None else Response(json.dumps(good), media_type="application/json")


def _streamed(good: dict[str, Any], fault: str) -> StreamingResponse:
    """A target answer as SSE chunks; `stream_cut:N` / `stream_error:N` break off after N content chunks."""
    kind, _, arg = fault.partition(":")
    words = re.findall(r"\s*\S+", good["choices"][0]["message"]["content"])
    base = {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 0, "model": good["model"]}

    def event(body: dict[str, Any]) -> bytes:
        return f"data: {json.dumps({**base, **body})}\n\n".encode()

    async def events() -> AsyncIterator[bytes]:
        yield event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        for index, word in enumerate(words):
            if kind in ("stream_cut", "stream_error") and index == int(arg or "1"):
                if kind == "stream_error":
                    yield b'data: {"error": {"message": "fault upstream broke the stream", "type": "fault"}}\n\n'
                return
            yield event({"choices": [{"index": 0, "delta": {"content": word}}]})
            await asyncio.sleep(0)
        yield event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": USAGE})
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def fault_catalog(base_url: str, key_env: str = "FAULT_API_KEY") -> str:
    """Catalog YAML of the fault models at `base_url` (…/v1): fault-a, -b, -c over direct HTTP ($1/$2, $0.5/$1
    and $1/$2 per 1M tokens), fault-lite through LiteLLM ($1/$2) and fault-free without a price."""
    common = f"provider: faulty, tier: budget, context_window: 32000, max_output_tokens: 4096, api_base: '{base_url}'"
    entries = [
        ("fault-a", "openai/fault-a", "1.0", "2.0"),
        ("fault-b", "openai/fault-b", "0.5", "1.0"),
        ("fault-lite", "together_ai/fault-lite", "1.0", "2.0"),
        ("fault-free", "openai/fault-free", "null", "null"),
        ("fault-c", "openai/fault-c", "1.0", "2.0"),
    ]
    lines = [
        f"  - {{id: {i}, litellm_model: {m}, input_usd_per_mtok: {pin}, output_usd_per_mtok: {pout}, "
        f"api_key_env: {key_env}, {common}}}"
        for i, m, pin, pout in entries
    ]
    return "models:\n" + "\n".join(lines) + "\n"


def create_fault_upstream_app(history: int = 2000) -> FastAPI:
    """The fault upstream app (serve it with `BackgroundServer`); see the module docstring."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.seen = collections.deque(maxlen=history)
    counters: collections.Counter = collections.Counter()

    @app.get("/v1/models")
    async def models() -> Response:
        return Response(json.dumps({"object": "list", "data": []}), media_type="application/json")

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        messages = body.get("messages") or []
        tools = body.get("tools") or []
        role = "router" if tools else "target"
        app.state.seen.append((role, body, dict(request.headers)))
        found = directives(messages)
        model = str(body.get("model", "?"))
        if role == "router":
            turn = 1 + sum(1 for m in messages if m.get("role") == "assistant")
            step = found.get(f"r{turn}", "default")
            kind = step.partition(":")[0]
            is_step = kind in ("default", "call", "select", "both", "text", "tool", "args", "tool_calls_strings")
            good = _completion(router_message(step if is_step else "default", messages, tools), model)
            fault = "ok" if is_step else step
        else:
            user = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
            text = _DIRECTIVES.sub("", user if isinstance(user, str) else "").strip()
            good = _completion({"role": "assistant", "content": f"answer of {model}: {text}"}, model)
            fault = found.get(f"target.{model}", found.get("target", "ok"))
            if body.get("stream") and fault.partition(":")[0] in ("ok", "stream_cut", "stream_error"):
                return _streamed(good, fault)
        return await _answer(fault, good, request, counters, found.get("key", ""))

    return app
