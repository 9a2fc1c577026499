"""The OpenAI-compatible router API: `create_app(settings)` returns a FastAPI app.

Endpoints: `POST /v1/chat/completions` (JSON, or server-sent events with `stream: true`),
`GET /v1/models`, `GET /health` (never needs the API key) and `GET /metrics` (Prometheus text).
All state (engine, metrics, ledger) is built in the lifespan and kept on `app.state`.
Bodies are read and decoded by `xrouter.serve.requests.read_body`; every chat-completions answer names its
request in the `x-xrouter-request-id` header.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from xrouter.engine.episode import RequestOptions
from xrouter.engine.policy import RouterPolicyError
from xrouter.engine.trajectory import Trajectory, TurnRecord
from xrouter.io import dumps_strict
from xrouter.llm.redact import redact
from xrouter.serve.accounting import ledger_append
from xrouter.serve.metrics import ServerMetrics
from xrouter.serve.requests import ChatRequest, HTTPFailure, RequestError, parse_chat_request, read_body
from xrouter.serve.state import Components, ServeSettings, build_components

logger = logging.getLogger(__name__)
REQUEST_ID_HEADER = "x-xrouter-request-id"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps_strict(body), status_code=status, media_type="application/json", headers=headers)


def _error(failure: HTTPFailure, headers: dict[str, str] | None = None) -> Response:
    error = {"message": str(failure), "type": failure.err_type, "param": failure.param, "code": failure.code}
    if failure.status == 408:  # the rest of the body may still be on its way: do not reuse this connection
        headers = {**(headers or {}), "connection": "close"}
    return _json({"error": error}, failure.status, headers)


def _check_auth(request: Request, api_key: str | None) -> None:
    if api_key is None:
        return
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    if not hmac.compare_digest(token.encode(), api_key.encode()):
        raise HTTPFailure(
            401,
            "invalid or missing API key (send 'Authorization: Bearer <key>')",
            "invalid_request_error",
            "invalid_api_key",
        )


def _usage(trajectory: Trajectory) -> dict[str, int]:
    """Tokens processed for this request: the router's own plus every target call's (all recorded, none estimated)."""
    prompt = sum(t.router_input_tokens for t in trajectory.turns) + sum(c.input_tokens for c in trajectory.model_calls)
    completion = sum(t.router_output_tokens for t in trajectory.turns)
    completion += sum(c.output_tokens for c in trajectory.model_calls)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_body(request_id: str, model: str, trajectory: Trajectory) -> dict[str, Any]:
    """The non-streaming chat.completion body with `router_metadata`."""
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": trajectory.answer}, "finish_reason": "stop"}
        ],
        "usage": _usage(trajectory),
        "router_metadata": trajectory.to_metadata(),
    }


def _stream(request_id: str, chat: ChatRequest, trajectory: Trajectory) -> StreamingResponse:
    """SSE: a role chunk, the answer, then a final chunk carrying finish_reason and router_metadata, then [DONE]."""
    base = {"id": request_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": chat.model}

    def event(choice_delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {**base, "choices": [{"index": 0, "delta": choice_delta, "finish_reason": finish}], **extra}
        return f"data: {dumps_strict(body)}\n\n".encode()

    async def events() -> AsyncIterator[bytes]:
        yield event({"role": "assistant", "content": ""})
        yield event({"content": trajectory.answer})
        yield event({}, "stop", usage=_usage(trajectory), router_metadata=trajectory.to_metadata())
        yield b"data: [DONE]\n\n"

    headers = {"Cache-Control": "no-cache", REQUEST_ID_HEADER: request_id}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def _run_episode(
    components: Components, settings: ServeSettings, chat: ChatRequest, request_id: str, turns: list[TurnRecord]
) -> Trajectory:
    """Run the episode (its turns go to `turns` as they happen); router failures and timeouts become HTTPFailure."""
    query_id = chat.metadata.get("query_id")
    options = RequestOptions(
        max_cost_usd=chat.max_cost_usd,
        temperature=chat.temperature,
        max_tokens=chat.max_tokens,
        request_id=request_id,
        query_id=None if query_id is None else str(query_id),
        cost_lambda=chat.cost_lambda,
    )
    episode = components.engine.run(chat.messages, options, turns_out=turns)
    try:
        return await asyncio.wait_for(episode, settings.request_timeout_s)
    except RouterPolicyError as exc:
        message = f"router model failed: {redact(str(exc))}"
        raise HTTPFailure(502, message, "upstream_error", "router_upstream_error") from None
    except asyncio.TimeoutError:
        raise HTTPFailure(
            504, f"the routing episode did not finish in {settings.request_timeout_s:g}s", "upstream_error", "timeout"
        ) from None
    except ValueError as exc:
        raise HTTPFailure(400, str(exc), "invalid_request_error", "invalid_value", "messages") from None


async def _http_exception(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    message = f"{request.method} {request.url.path}: {getattr(exc, 'detail', 'error')}"
    return _error(HTTPFailure(status, message, "invalid_request_error", "not_found" if status == 404 else "bad_method"))


async def health(request: Request) -> Response:
    """GET /health: liveness plus what is being served (no API key needed)."""
    comps: Components = request.app.state.components
    body = {
        "status": "ok",
        "router_model": comps.engine.policy.name,
        "mode": comps.engine.config.mode,
        "cost_lambda": comps.engine.config.cost_lambda,
        "models": [s.id for s in comps.engine.models],
        "time": time.time(),
    }
    return _json(body)


async def list_models(request: Request) -> Response:
    """GET /v1/models: the router's names, then the target models it may call."""
    try:
        _check_auth(request, request.app.state.settings.api_key)
    except HTTPFailure as failure:
        return _error(failure)
    comps: Components = request.app.state.components
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "xrouter"} for n in comps.served_names]
    data += [
        {"id": s.id, "object": "model", "created": 0, "owned_by": f"xrouter-target:{s.provider}"}
        for s in comps.engine.models
    ]
    return _json({"object": "list", "data": data})


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus text."""
    try:
        _check_auth(request, request.app.state.settings.api_key)
    except HTTPFailure as failure:
        return _error(failure)
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")


async def chat_completions(request: Request) -> Response:
    """POST /v1/chat/completions: run one routing episode."""
    settings: ServeSettings = request.app.state.settings
    comps: Components = request.app.state.components
    stats: ServerMetrics = request.app.state.metrics
    started = time.perf_counter()
    stats.in_flight += 1
    chat: ChatRequest | None = None
    turns: list[TurnRecord] = []
    request_id = f"chatcmpl-{uuid.uuid4().hex}"
    headers = {REQUEST_ID_HEADER: request_id}
    try:
        _check_auth(request, settings.api_key)
        body = await read_body(request, settings.max_body_bytes, settings.body_timeout_s)
        chat = parse_chat_request(body, comps.served_names)
        trajectory = await _run_episode(comps, settings, chat, request_id, turns)
    except RequestError as exc:
        stats.observe_error(400, exc.code)
        return _error(HTTPFailure(400, str(exc), "invalid_request_error", exc.code, exc.param), headers)
    except HTTPFailure as failure:
        _account_failure(comps, stats, chat, request_id, turns, started, failure)
        return _error(failure, headers)
    except Exception:  # a bug must still produce an OpenAI-style answer; the traceback goes to the log
        logger.exception("request failed")
        failure = HTTPFailure(500, "internal server error (see the server log)", "server_error", "internal_error")
        _account_failure(comps, stats, chat, request_id, turns, started, failure)
        return _error(failure, headers)
    finally:
        stats.in_flight -= 1
    latency_s = time.perf_counter() - started
    ledger_append(comps, chat, request_id, turns, latency_s, trajectory=trajectory)
    stats.observe_episode(trajectory)
    stats.observe_latency(latency_s)
    if chat.stream:
        return _stream(request_id, chat, trajectory)
    return _json(completion_body(request_id, chat.model, trajectory), headers=headers)


def _account_failure(
    comps: Components,
    stats: ServerMetrics,
    chat: ChatRequest | None,
    request_id: str,
    turns: list[TurnRecord],
    started: float,
    failure: HTTPFailure,
) -> None:
    """Count a failed request; once its episode started, also what it spent (ledger line and /metrics)."""
    stats.observe_error(failure.status, failure.code)
    if chat is not None:  # the episode ran, at least in part, and may have spent money
        stats.observe_spend(turns)
        latency_s = time.perf_counter() - started
        ledger_append(comps, chat, request_id, turns, latency_s, failure=(failure.status, str(failure)))


def create_app(settings: ServeSettings, components: Components | None = None) -> FastAPI:
    """The router API app; `components` (built with `build_components`) replace the ones built in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = components or build_components(settings)
        app.state.settings = settings
        app.state.components = built
        app.state.metrics = ServerMetrics()
        try:
            yield
        finally:
            await built.aclose()

    app = FastAPI(title="xrouter", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(StarletteHTTPException, _http_exception)  # 404/405 in the OpenAI error shape
    app.add_api_route("/health", health, methods=["GET"])
    app.add_api_route("/v1/models", list_models, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"])
    app.add_api_route("/v1/chat/completions", chat_completions, methods=["POST"])
    return app
