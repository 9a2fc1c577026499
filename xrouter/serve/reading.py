"""Reading a request body off the ASGI connection and decoding it as strict JSON.

`read_body(scope, receive, limit, timeout_s)` answers 413 above the size limit (a declared `Content-Length` over
it is refused before anything is read), 408 when the body does not arrive within its timeout, 400 for anything
that is not strict JSON (NaN, Infinity, numbers that overflow, nesting deeper than `MAX_JSON_DEPTH`). A client
that disconnects mid-body raises Starlette's `ClientDisconnect`, as `Request.stream()` does.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope

from xrouter.engine.calls import within
from xrouter.io import NonFiniteNumber, TooDeep, strict_json_loads
from xrouter.serve.requests import HTTPFailure

MAX_JSON_DEPTH = 64  # a chat request nests 5 levels; anything near this is an attack, not a request


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header `name` (lower-case bytes), as Starlette's `Headers.get` gives it."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _non_finite_field(raw: bytes) -> str | None:
    """The top-level field of a body holding NaN/Infinity (for the error message), if it can be told."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None

    def bad(value: Any, depth: int = 0) -> bool:
        if isinstance(value, float):
            return not math.isfinite(value)
        if depth < 16 and isinstance(value, dict | list):
            return any(bad(v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
        return False

    return next((name for name, value in body.items() if bad(value)), None)


async def _receive(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = header(scope, b"content-length")
    too_big = HTTPFailure(413, f"request body exceeds {limit} bytes", "invalid_request_error", "request_too_large")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_big
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


async def read_body(scope: Scope, receive: Receive, limit: int, timeout_s: float) -> Any:
    """The decoded JSON body: 413 when too large, 408 when it does not arrive in time, 400 when not strict JSON."""
    try:
        raw = await within(_receive(scope, receive, limit), timeout_s)
    except (TimeoutError, asyncio.TimeoutError):
        message = f"request body not received within {timeout_s:g}s"
        raise HTTPFailure(408, message, "invalid_request_error", "request_timeout") from None
    try:
        return strict_json_loads(raw, max_depth=MAX_JSON_DEPTH)
    except NonFiniteNumber as exc:
        field = _non_finite_field(raw)
        message = f"'{field}' must be a finite number ({exc})" if field else f"request body: {exc}"
        raise HTTPFailure(400, message, "invalid_request_error", "invalid_value", field) from None
    except TooDeep as exc:
        raise HTTPFailure(400, f"request body is {exc}", "invalid_request_error", "invalid_json") from None
    except ValueError as exc:
        message = f"request body is not valid JSON: {exc}"
        raise HTTPFailure(400, message, "invalid_request_error", "invalid_json") from None
