"""`POST /v1/chat/completions` as a plain ASGI endpoint: one routing episode per request.

`chat_completions(scope, receive, send)` checks the API key, reads and validates the body
(`xrouter.serve.reading`, `xrouter.serve.requests`), runs the episode under the request timeout, accounts for
it (ledger line, /metrics) whether it succeeds, fails or is cancelled, and answers the chat.completion, an
SSE stream (`stream: true`, `xrouter.serve.streaming`) or an OpenAI-style error; every answer names its request
in the `x-xrouter-request-id` header. It is an ASGI callable rather than a FastAPI endpoint so that the app can
call it without the routing and dependency machinery (`xrouter.serve.app.RouterAPI`); mounted as a Starlette
route it behaves the same.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from xrouter.engine.answer_stream import AnswerStream, AnswerStreamBroken
from xrouter.engine.calls import within
from xrouter.engine.episode import RequestOptions
from xrouter.engine.policy import RouterPolicyError
from xrouter.engine.trajectory import Trajectory, TurnRecord
from xrouter.io import dumps_strict_bytes
from xrouter.llm.redact import redact
from xrouter.serve.accounting import ledger_append
from xrouter.serve.bodies import completion_body, final_fields
from xrouter.serve.metrics import ServerMetrics
from xrouter.serve.reading import header, read_body
from xrouter.serve.requests import ChatRequest, HTTPFailure, RequestError, parse_chat_request
from xrouter.serve.state import Components, ServeSettings
from xrouter.serve.streaming import stream_episode

logger = logging.getLogger(__name__)
REQUEST_ID_HEADER = "x-xrouter-request-id"
_JSON_TYPE = (b"content-type", b"application/json")


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (strict JSON: a NaN that slipped in is written as null)."""
    return Response(dumps_strict_bytes(body), status_code=status, media_type="application/json", headers=headers)


def error_response(failure: HTTPFailure, headers: dict[str, str] | None = None) -> Response:
    """The OpenAI-style error answer of `failure`; a 408 also closes the connection."""
    error = {"message": str(failure), "type": failure.err_type, "param": failure.param, "code": failure.code}
    if failure.status == 408:  # the rest of the body may still be on its way: do not reuse this connection
        headers = {**(headers or {}), "connection": "close"}
    return json_response({"error": error}, failure.status, headers)


def check_auth(authorization: str | None, api_key: str | None) -> None:
    """HTTPFailure 401 unless the `Authorization` header carries `Bearer <api_key>` (no key set: anything goes)."""
    if api_key is None:
        return
    header_value = authorization or ""
    token = header_value[7:] if header_value.lower().startswith("bearer ") else ""
    if not hmac.compare_digest(token.encode(), api_key.encode()):
        raise HTTPFailure(
            401,
            "invalid or missing API key (send 'Authorization: Bearer <key>')",
            "invalid_request_error",
            "invalid_api_key",
        )


async def chat_completions(scope: Scope, receive: Receive, send: Send) -> None:
    """POST /v1/chat/completions: run one routing episode (streamed with `stream: true`)."""
    state = scope["app"].state
    settings: ServeSettings = state.settings
    comps: Components = state.components
    stats: ServerMetrics = state.metrics
    started = time.perf_counter()
    request_id = f"chatcmpl-{uuid.uuid4().hex}"
    headers = {REQUEST_ID_HEADER: request_id}
    try:
        check_auth(header(scope, b"authorization"), settings.api_key)
        body = await read_body(scope, receive, settings.max_body_bytes, settings.body_timeout_s)
        chat = parse_chat_request(body, comps.served_names)
    except RequestError as exc:
        stats.observe_error(400, exc.code)
        failure = HTTPFailure(400, str(exc), "invalid_request_error", exc.code, exc.param)
        return await error_response(failure, headers)(scope, receive, send)
    except HTTPFailure as failure:
        stats.observe_error(failure.status, failure.code)
        return await error_response(failure, headers)(scope, receive, send)

    def run(answer_stream: AnswerStream | None = None) -> Awaitable[Trajectory]:
        return _accounted_episode(comps, settings, stats, chat, request_id, started, answer_stream)

    if chat.stream:
        response = await stream_episode(
            run, request_id, chat, settings.stream_keepalive_s, final_fields, lambda f: error_response(f, headers)
        )
        return await response(scope, receive, send)
    try:
        trajectory = await run()
    except HTTPFailure as failure:
        return await error_response(failure, headers)(scope, receive, send)
    data = dumps_strict_bytes(completion_body(request_id, chat.model, trajectory))
    raw_headers = [
        (REQUEST_ID_HEADER.encode(), request_id.encode()),
        (b"content-length", str(len(data)).encode()),
        _JSON_TYPE,
    ]  # what Starlette's Response(media_type="application/json", headers=headers) sends
    await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
    await send({"type": "http.response.body", "body": data})


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
