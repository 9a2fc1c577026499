"""A scripted OpenAI-compatible router server, for tests, benchmarks and demos without a GPU.

It answers `/v1/chat/completions` like vLLM with the hermes tool parser: an assistant message with
`content` or parsed `tool_calls`. What it says is decided per request, statelessly, from the router
chat it receives: `script(query, turn, messages)` returns one step, where `query` is the user's
request as the router sees it (the text after `USER REQUEST:`), `turn` counts from 1 and a step is
`{"content": "..."}`, `{"tool_calls": [[name, {arguments}], ...]}` (arguments may be a raw string)
or `{"http_error": 500}`, optionally with `"delay_s"` to answer late. Usage is reported as fixed token counts so router cost is predictable.
A request with `stream: true` is answered with chat.completion.chunk events: the content in word pieces
(`"piece_delay_s"` apart), each tool call in two deltas (name, then arguments), the usage chunk and
`[DONE]`; `"break_after": N` ends the connection after N content pieces, as a crashed server would.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from xrouter.engine.prompts import ONE_STEP_SELECT_TEXT, USER_QUERY_LABEL
from xrouter.llm.replay.server import stream_pieces

Script = Callable[[str, int, list[dict[str, Any]]], dict[str, Any]]
USAGE = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}


def router_query(messages: list[dict[str, Any]]) -> str:
    """The user's request inside the router chat (text after the `USER REQUEST:` label)."""
    for message in messages:
        content = message.get("content") or ""
        if message.get("role") == "user" and USER_QUERY_LABEL in content:
            return content.split(USER_QUERY_LABEL, 1)[1].lstrip("\n")
    return ""


def _message(step: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.get("content")}
    calls = step.get("tool_calls") or []
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
            }
            for name, args in calls
        ]
    return message


def _sse(step: dict[str, Any], model: str) -> StreamingResponse:
    """The scripted step as a chat-completion event stream."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": 0, "model": model}

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body)}\n\n".encode()

    async def events() -> Any:
        yield event({"role": "assistant", "content": ""})
        for count, piece in enumerate(stream_pieces(step["content"]) if step.get("content") else ()):
            if count == step.get("break_after"):
                return
            await asyncio.sleep(float(step.get("piece_delay_s", 0.0)))
            yield event({"content": piece})
        for index, call in enumerate(_message(step).get("tool_calls", ())):
            function = call["function"]
            yield event(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": function["name"], "arguments": ""},
                        }
                    ]
                }
            )
            yield event({"tool_calls": [{"index": index, "function": {"arguments": function["arguments"]}}]})
        yield event({}, "tool_calls" if step.get("tool_calls") else "stop")
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': USAGE})}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def create_scripted_router_app(script: Script, model: str = "scripted-router") -> FastAPI:
    """The FastAPI app answering every router turn with `script(query, turn, messages)`."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/v1/models")
    async def models() -> Response:
        body = {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "scripted"}]}
        return Response(json.dumps(body), media_type="application/json")

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        messages = body.get("messages") or []
        turn = 1 + sum(1 for m in messages if m.get("role") == "assistant")
        step = script(router_query(messages), turn, messages)
        if step.get("delay_s"):
            await asyncio.sleep(float(step["delay_s"]))
        if "http_error" in step:
            error = {"error": {"message": "scripted failure", "type": "server_error", "param": None, "code": None}}
            return Response(json.dumps(error), status_code=int(step["http_error"]), media_type="application/json")
        if body.get("stream"):
            return _sse(step, body.get("model", model))
        reply = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", model),
            "choices": [
                {
                    "index": 0,
                    "message": _message(step),
                    "finish_reason": "tool_calls" if step.get("tool_calls") else "stop",
                }
            ],
            "usage": USAGE,
        }
        return Response(json.dumps(reply), media_type="application/json")

    return app


def call_then_select(model_tool: str, prompt: str = "Answer the question.") -> Script:
    """A script that calls one model on turn 1 and selects its answer on turn 2.

    When the router's prompt offers the one-step select (`xrouter serve --one-step-select`), it selects the
    model on turn 1 instead, which calls it and returns its answer in one step.
    """

    def script(query: str, turn: int, messages: list[dict[str, Any]]) -> dict[str, Any]:
        one_step = bool(messages) and ONE_STEP_SELECT_TEXT in (messages[0].get("content") or "")
        if turn == 1 and not one_step:
            return {"tool_calls": [[model_tool, {"optimized_system_prompt": prompt}]]}
        select = {"model_call_name": model_tool, **({"optimized_system_prompt": prompt} if one_step else {})}
        return {"tool_calls": [["select_response", select]]}

    return script
