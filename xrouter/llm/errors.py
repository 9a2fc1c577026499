"""Turning LiteLLM / HTTP exceptions into a typed `CallError` (what failed, and is it worth retrying)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from xrouter.llm.types import CallError, ErrorKind

_STATUS_KINDS: dict[int, ErrorKind] = {
    400: "bad_request",
    401: "auth",
    403: "auth",
    404: "not_found",
    408: "timeout",
    409: "server",
    413: "bad_request",
    422: "bad_request",
    429: "rate_limit",
}
# Exception class names (LiteLLM, openai, httpx, aiohttp) whose meaning is clear without a status code.
_NAME_KINDS: dict[str, ErrorKind] = {
    "Timeout": "timeout",
    "APITimeoutError": "timeout",
    "ReadTimeout": "timeout",
    "ConnectTimeout": "timeout",
    "WriteTimeout": "timeout",
    "PoolTimeout": "timeout",
    "TimeoutError": "timeout",
    "RateLimitError": "rate_limit",
    "ServiceUnavailableError": "server",
    "InternalServerError": "server",
    "BadGatewayError": "server",
    "APIConnectionError": "connection",
    "ClientConnectorError": "connection",  # aiohttp (direct HTTP to OpenAI-compatible endpoints)
    "ClientOSError": "connection",
    "ServerDisconnectedError": "connection",
    "ClientPayloadError": "connection",
    "ServerTimeoutError": "timeout",
    "ConnectionTimeoutError": "timeout",
    "SocketTimeoutError": "timeout",
    "ConnectError": "connection",
    "RemoteProtocolError": "connection",
    "ReadError": "connection",
    "WriteError": "connection",
    "ConnectionResetError": "connection",
    "ConnectionRefusedError": "connection",
    "AuthenticationError": "auth",
    "PermissionDeniedError": "auth",
    "NotFoundError": "not_found",
    "BadRequestError": "bad_request",
    "ContextWindowExceededError": "bad_request",
    "ContentPolicyViolationError": "bad_request",
    "UnsupportedParamsError": "bad_request",
    "JSONDecodeError": "bad_response",
    "APIResponseValidationError": "bad_response",
}
_MAX_MESSAGE = 300
# Client libraries refuse to send a request without a key and raise a generic error (LiteLLM then wraps
# it with a synthetic 500); these phrases say so. Retrying cannot help: the key must be set first.
_MISSING_CREDENTIALS = re.compile(
    r"missing credentials|api_key client option must be set|missing \w*\s?api[ _]?key|no api[ _]?key"
    r"|api[ _]?key (?:is )?(?:missing|required|not (?:set|found|provided))",
    re.IGNORECASE,
)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes/contexts, outermost first (bounded, cycle-safe)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    # LiteLLM prefixes messages with "litellm.XError: XError: OpenAIException - ..."; keep the tail.
    if "Exception - " in text:
        text = text.split("Exception - ", 1)[1] or text
    return text[:_MAX_MESSAGE]


def _looks_malformed(chain: list[BaseException]) -> bool:
    """True when the provider answered but the body was not valid JSON / not a chat completion."""
    for item in chain:
        if isinstance(item, (json.JSONDecodeError, UnicodeDecodeError)):
            return True
        name = type(item).__name__
        if name in ("JSONDecodeError", "APIResponseValidationError"):
            return True
        lowered = str(item).lower()
        if "expecting value" in lowered or "invalid json" in lowered or "jsondecodeerror" in lowered:
            return True
    return False


def classify_exception(exc: BaseException) -> CallError:
    """A `CallError` for any exception raised while calling a provider (never raises itself)."""
    chain = _chain(exc)
    message = _short(exc)
    status = next((s for s in (getattr(e, "status_code", None) for e in chain) if isinstance(s, int)), None)
    if isinstance(exc, asyncio.TimeoutError):
        return CallError("timeout", message or "timed out", status)
    if _looks_malformed(chain):
        return CallError("bad_response", f"malformed provider response: {message}", status)
    if any(_MISSING_CREDENTIALS.search(str(item)) for item in chain):
        text = message if message.lower().startswith("missing") else f"missing credentials: {message}"
        return CallError("auth", text, None)
    # A transport-level cause (reset, refused, truncated body, read timeout) beats the wrapper's
    # status: LiteLLM wraps them in exceptions that carry a synthetic 500.
    for item in chain[1:]:
        kind = _NAME_KINDS.get(type(item).__name__)
        if kind in ("timeout", "connection"):
            return CallError(kind, message, None)
    if status is not None:
        if status in _STATUS_KINDS:
            return CallError(_STATUS_KINDS[status], message, status)
        if status >= 500:
            return CallError("server", message, status)
    for item in chain:
        kind = _NAME_KINDS.get(type(item).__name__)
        if kind is not None:
            return CallError(kind, message, status)
    if isinstance(exc, (ConnectionError, OSError)):
        return CallError("connection", message, status)
    return CallError("unknown", f"{type(exc).__name__}: {message}", status)


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait (Retry-After header), if it said so."""
    for item in _chain(exc):
        response: Any = getattr(item, "response", None)
        headers = getattr(response, "headers", None) or getattr(item, "headers", None)
        if not headers:
            continue
        try:
            value = headers.get("retry-after") or headers.get("Retry-After")
        except AttributeError:
            continue
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except (TypeError, ValueError):
            return None
    return None
