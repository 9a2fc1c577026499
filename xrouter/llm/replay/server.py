"""OpenAI-compatible HTTP server answering chat completions from a `ReplayStore`.

Routes: `POST /v1/chat/completions` (plain JSON, or SSE when `stream` is true), `GET /v1/models`,
`GET /health`. A streamed answer comes in word pieces (`stream_pieces`: at most four characters each, a
word's leading space kept with it, so about one piece per token), each after `stream_delay_s` (0 by
default), then a last chunk with `finish_reason` and `usage`, then `data: [DONE]`. With a delay, a plain JSON
answer comes as late as its stream would have ended (pieces x delay): a model takes as long to write an
answer whether or not it is streamed. The query is picked by header `x-xrouter-query-id`, else `metadata.query_id` in the
body, else the last user message text. The answer's `usage` carries token counts plus `cost` (the
recorded USD cost, as OpenRouter reports it), which `LLMClient` prefers over catalog pricing.
Errors use the OpenAI body `{"error": {"message", "type", "param", "code"}}`: 400 for a bad request,
404 naming the unknown model or query.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from xrouter.llm.replay.store import ReplayNotFound, ReplayRecord, ReplayStore
from xrouter.llm.response import REPLAY_FINGERPRINT

QUERY_ID_HEADER = "x-xrouter-query-id"
REPLAY_HEADER = "x-xrouter-replay"
_PIECE = re.compile(r"\s*\S{1,4}|\s+")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def error_response(status: int, message: str, *, err_type: str, param: str | None, code: str) -> Response:
    """An OpenAI-style error body with the given HTTP status."""
    return _json({"error": {"message": message, "type": err_type, "param": param, "code": code}}, status)


def _usage(record: ReplayRecord) -> dict[str, Any]:
    usage = record.usage
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "cost": record.cost_usd,
    }


def completion_body(record: ReplayRecord, model: str) -> dict[str, Any]:
    """The chat.completion object for a recorded answer (`model` echoes the request's name)."""
    return {
        "id": f"chatcmpl-replay-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": record.text}, "finish_reason": "stop"}],
        "usage": _usage(record),
        "system_fingerprint": REPLAY_FINGERPRINT,
    }


def stream_pieces(text: str) -> list[str]:
    """The pieces a streamed answer is sent in: at most four non-space characters with their leading space."""
    return _PIECE.findall(text) or [""]


def _sse(record: ReplayRecord, model: str, delay_s: float) -> StreamingResponse:
    base = {"id": f"chatcmpl-replay-{uuid.uuid4().hex[:16]}", "object": "chat.completion.chunk", "model": model}
    base["created"] = int(time.time())

    def chunk(delta: dict[str, Any], **extra: Any) -> bytes:
        body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}], **extra}
        return b"data: " + orjson.dumps(body) + b"\n\n"

    async def events() -> Any:
        yield chunk({"role": "assistant", "content": ""})
        for piece in stream_pieces(record.text):
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            yield chunk({"content": piece})
        last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": _usage(record)}
        yield b"data: " + orjson.dumps(last) + b"\n\n"
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _query_id(request: Request, body: dict[str, Any]) -> str | None:
    header = request.headers.get(QUERY_ID_HEADER)
    if header:
        return header
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and metadata.get("query_id") is not None:
        return str(metadata["query_id"])
    return None


def create_replay_app(store: ReplayStore, stream_delay_s: float = 0.0) -> FastAPI:
    """The FastAPI app serving `store` (run it with uvicorn or `BackgroundServer`).

    `stream_delay_s` is the pause before each streamed piece (a fixed inter-token delay).
    """
    if stream_delay_s < 0:
        raise ValueError(f"stream_delay_s must be >= 0, got {stream_delay_s}")
    app = FastAPI(title="xrouter replay", docs_url=None, redoc_url=None, openapi_url=None)
    created = int(time.time())
    models_body = {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": created, "owned_by": "replay"} for m in store.models],
    }

    @app.get("/health")
    async def health() -> Response:
        return _json({"status": "ok", "models": len(store.models), "queries": store.num_queries})

    @app.get("/v1/models")
    async def list_models() -> Response:
        return _json(models_body)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return error_response(
                400, "request body is not valid JSON", err_type="invalid_request_error", param=None, code="invalid_json"
            )
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return error_response(
                400,
                "request needs a string 'model' field",
                err_type="invalid_request_error",
                param="model",
                code="missing_model",
            )
        messages = body.get("messages")
        if not isinstance(messages, list):
            return error_response(
                400,
                "request needs a 'messages' list",
                err_type="invalid_request_error",
                param="messages",
                code="missing_messages",
            )
        try:
            record = store.lookup(body["model"], messages, _query_id(request, body))
        except ReplayNotFound as exc:
            code = "model_not_found" if exc.what == "model" else "query_not_found"
            param = "model" if exc.what == "model" else "messages"
            return error_response(404, str(exc), err_type="invalid_request_error", param=param, code=code)
        if body.get("stream"):
            return _sse(record, body["model"], stream_delay_s)
        if stream_delay_s > 0:
            await asyncio.sleep(stream_delay_s * len(stream_pieces(record.text)))
        headers = {REPLAY_HEADER: "1", QUERY_ID_HEADER: record.query_id}
        return _json(completion_body(record, body["model"]), headers=headers)

    return app
