"""The OpenAI-compatible router API: `create_app(settings)` returns a FastAPI app.

Endpoints: `POST /v1/chat/completions` (JSON, or server-sent events with `stream: true`),
`GET /v1/models`, `GET /health` (never needs the API key) and `GET /metrics` (Prometheus text).
Streaming (`xrouter.serve.streaming`) starts before the episode ends when the answer can be streamed.
All state (engine, metrics, ledger) is built in the lifespan and kept on `app.state`.
Bodies are read and decoded by `xrouter.serve.requests.read_body`; every chat-completions answer names its
request in the `x-xrouter-request-id` header.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from xrouter.engine.answer_stream import AnswerStream, AnswerStreamBroken
from xrouter.engine.calls import within
from xrouter.engine.episode import RequestOptions
from xrouter.engine.policy import RouterPolicyError
from xrouter.engine.trajectory import Trajectory, TurnRecord
from xrouter.io import dumps_strict
from xrouter.llm.redact import redact
from xrouter.serve.accounting import ledger_append
from xrouter.serve.bodies import completion_body, final_fields
from xrouter.serve.metrics import ServerMetrics
from xrouter.serve.requests import ChatRequest, HTTPFailure, RequestError, parse_chat_request, read_body
from xrouter.serve.state import Components, ServeSettings, build_components
from xrouter.serve.streaming import stream_episode

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


async def _run_episode(
    components: Components,
    settings: ServeSettings,
    chat: ChatRequest,
    request_id: str,
    turns: list[TurnRecord],
    answer_stream: AnswerStream | None = None,
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
        answer_stream=answer_stream,
    )
    episode = components.engine.run(chat.messages, options, turns_out=turns)
    try:
        return await within(episode, settings.request_timeout_s)
    except RouterPolicyError as exc:
        message = f"router model failed: {redact(str(exc))}"
        raise HTTPFailure(502, message, "upstream_error", "router_upstream_error") from None
    except asyncio.TimeoutError:
        raise HTTPFailure(
            504, f"the routing episode did not finish in {settings.request_timeout_s:g}s", "upstream_error", "timeout"
        ) from None
    except AnswerStreamBroken as exc:
        message = redact(str(exc))
        raise HTTPFailure(502, message, "upstream_error", exc.code) from None
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
        "worker_pid": os.getpid(),  # which worker process answered (xrouter serve --workers N)
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
    """POST /v1/chat/completions: run one routing episode (streamed with `stream: true`)."""
    settings: ServeSettings = request.app.state.settings
    comps: Components = request.app.state.components
    stats: ServerMetrics = request.app.state.metrics
    started = time.perf_counter()
    request_id = f"chatcmpl-{uuid.uuid4().hex}"
    headers = {REQUEST_ID_HEADER: request_id}
    try:
        _check_auth(request, settings.api_key)
        body = await read_body(request, settings.max_body_bytes, settings.body_timeout_s)
        chat = parse_chat_request(body, comps.served_names)
    except RequestError as exc:
        stats.observe_error(400, exc.code)
        return _error(HTTPFailure(400, str(exc), "invalid_request_error", exc.code, exc.param), headers)
    except HTTPFailure as failure:
        stats.observe_error(failure.status, failure.code)
        return _error(failure, headers)

    def run(answer_stream: AnswerStream | None = None) -> Awaitable[Trajectory]:
        return _accounted_episode(comps, settings, stats, chat, request_id, started, answer_stream)

    if chat.stream:
        return await stream_episode(
            run, request_id, chat, settings.stream_keepalive_s, final_fields, lambda f: _error(f, headers)
        )
    try:
        trajectory = await run()
    except HTTPFailure as failure:
        return _error(failure, headers)
    return _json(completion_body(request_id, chat.model, trajectory), headers=headers)


async def _accounted_episode(
    comps: Components,
    settings: ServeSettings,
    stats: ServerMetrics,
    chat: ChatRequest,
    request_id: str,
    started: float,
    answer_stream: AnswerStream | None,
) -> Trajectory:
    """Run the episode and account for it (ledger line, /metrics), whether it succeeds, fails or is cancelled."""
    turns: list[TurnRecord] = []
    stats.in_flight += 1
    try:
        trajectory = await _run_episode(comps, settings, chat, request_id, turns, answer_stream)
    except HTTPFailure as failure:
        _account_failure(comps, stats, chat, request_id, turns, started, failure)
        raise
    except asyncio.CancelledError:  # the client closed a stream mid-way: what was spent is still recorded
        failure = HTTPFailure(499, "the client closed the connection", "invalid_request_error", "client_closed")
        _account_failure(comps, stats, chat, request_id, turns, started, failure)
        raise
    except Exception:  # a bug must still produce an OpenAI-style answer; the traceback goes to the log
        logger.exception("request failed")
        failure = HTTPFailure(500, "internal server error (see the server log)", "server_error", "internal_error")
        _account_failure(comps, stats, chat, request_id, turns, started, failure)
        raise failure from None
    finally:
        stats.in_flight -= 1
    latency_s = time.perf_counter() - started
    ledger_append(comps, chat, request_id, turns, latency_s, trajectory=trajectory)
    stats.observe_episode(trajectory)
    stats.observe_latency(latency_s)
    return trajectory


def _account_failure(
    comps: Components,
    stats: ServerMetrics,
    chat: ChatRequest,
    request_id: str,
    turns: list[TurnRecord],
    started: float,
    failure: HTTPFailure,
) -> None:
    """Count a failed episode and what it spent (ledger line and /metrics)."""
    stats.observe_error(failure.status, failure.code)
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
