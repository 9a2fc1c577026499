"""The OpenAI-compatible router API: `create_app(settings)` returns a FastAPI app.

Endpoints: `POST /v1/chat/completions` (JSON, or server-sent events with `stream: true`; `xrouter.serve.chat_route`),
`GET /v1/models`, `GET /health` (never needs the API key) and `GET /metrics` (Prometheus text).
Streaming (`xrouter.serve.streaming`) starts before the episode ends when the answer can be streamed.
All state (engine, metrics, ledger) is built in the lifespan and kept on `app.state`.
Bodies are read and decoded by `xrouter.serve.reading.read_body`; every chat-completions answer names its
request in the `x-xrouter-request-id` header. The app (`RouterAPI`) hands `POST /v1/chat/completions` straight
to its endpoint, past FastAPI's routing, middleware and dependency layers, whenever those would not act on it
(no user middleware, no body-size limit, no OpenTelemetry provider configured); answers are the same either way.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from xrouter.serve.chat_route import (
    REQUEST_ID_HEADER,
    chat_completions,
    check_auth,
    error_response,
    json_response,
)
from xrouter.serve.metrics import ServerMetrics
from xrouter.serve.requests import HTTPFailure
from xrouter.serve.state import Components, ServeSettings, build_components

__all__ = ["REQUEST_ID_HEADER", "RouterAPI", "create_app", "health", "list_models", "metrics"]
CHAT_PATH = "/v1/chat/completions"


class RouterAPI(FastAPI):
    """The router's FastAPI app; `POST /v1/chat/completions` skips the layers that would not act on it."""

    def _direct(self, scope: Scope) -> bool:
        """Whether this request may go straight to the chat endpoint (the full stack would only pass it through)."""
        if scope["type"] != "http" or scope["path"] != CHAT_PATH or scope["method"] != "POST":
            return False
        if scope.get("root_path") or self.root_path or self.user_middleware or "fastapi.telemetry" in scope:
            return False
        if getattr(self, "max_body_size", None) is not None:
            return False
        telemetry = getattr(self, "_native_telemetry", None)  # FastAPI's own OpenTelemetry spans and metrics
        return telemetry is None or not telemetry.enabled()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if not self._direct(scope):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await chat_completions(scope, receive, tracked)
        except Exception:  # as Starlette's ServerErrorMiddleware: a plain 500 if nothing was sent, then re-raise
            if not started:
                await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise


class _Endpoint:
    """An ASGI callable that Starlette mounts as it is (a plain function would be wrapped as a Request handler)."""

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.endpoint(scope, receive, send)


async def _http_exception(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    message = f"{request.method} {request.url.path}: {getattr(exc, 'detail', 'error')}"
    return error_response(
        HTTPFailure(status, message, "invalid_request_error", "not_found" if status == 404 else "bad_method")
    )


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
    return json_response(body)


async def list_models(request: Request) -> Response:
    """GET /v1/models: the router's names, then the target models it may call."""
    try:
        check_auth(request.headers.get("authorization"), request.app.state.settings.api_key)
    except HTTPFailure as failure:
        return error_response(failure)
    comps: Components = request.app.state.components
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "xrouter"} for n in comps.served_names]
    data += [
        {"id": s.id, "object": "model", "created": 0, "owned_by": f"xrouter-target:{s.provider}"}
        for s in comps.engine.models
    ]
    return json_response({"object": "list", "data": data})


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus text."""
    try:
        check_auth(request.headers.get("authorization"), request.app.state.settings.api_key)
    except HTTPFailure as failure:
        return error_response(failure)
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")


def create_app(settings: ServeSettings, components: Components | None = None) -> RouterAPI:
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

    app = RouterAPI(title="xrouter", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(StarletteHTTPException, _http_exception)  # 404/405 in the OpenAI error shape
    app.add_api_route("/health", health, methods=["GET"])
    app.add_api_route("/v1/models", list_models, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"])
    app.router.routes.append(Route(CHAT_PATH, _Endpoint(chat_completions), methods=["POST"]))
    return app
