"""Validation of `/v1/chat/completions` bodies: every field is honoured or rejected with a 400.

Honoured: `model` (must name this router), `messages` (roles system/developer/user/assistant, string
or text-part content, no other message fields, ending with a user turn), `max_tokens` /
`max_completion_tokens` (caps every target call's output budget), `temperature` (default target
temperature when the router sets none), `top_p` (only 1, the value every call uses), `stream`,
`stream_options.include_usage`, `n` (only 1), `user` and `metadata` (recorded in the ledger;
`metadata.query_id` is passed to replay targets), the xrouter extension `max_cost_usd`
(per-request budget) and the xrouter extension object `xrouter` with `cost_lambda` (the request's cost
weight λ, a number from 0 to `MAX_COST_LAMBDA`, stated in the router's prompt; from the OpenAI SDK:
`extra_body={"xrouter": {"cost_lambda": 3}}`). Anything else is rejected by name.

Before that, `xrouter.serve.reading.read_body` turns the bytes on the wire into JSON.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from xrouter.engine.prompts import MAX_COST_LAMBDA, split_user_system

_UNSUPPORTED = {
    "tools": "client tools are not supported: the router offers its own model tools",
    "tool_choice": "tool_choice is not supported: the router decides which tools to call",
    "functions": "functions are not supported",
    "function_call": "function_call is not supported",
    "response_format": "response_format is not supported by the router",
    "logprobs": "logprobs are not supported by the router",
    "top_logprobs": "top_logprobs are not supported by the router",
    "stop": "stop sequences are not supported by the router",
    "seed": "seed is not supported by the router",
    "presence_penalty": "presence_penalty is not supported by the router",
    "frequency_penalty": "frequency_penalty is not supported by the router",
    "logit_bias": "logit_bias is not supported by the router",
}
_KNOWN = {
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stream",
    "stream_options",
    "n",
    "user",
    "metadata",
    "max_cost_usd",
    "xrouter",
}
_XROUTER_FIELDS = ("cost_lambda",)


class RequestError(ValueError):
    """A request field that cannot be served; becomes an OpenAI-style 400 naming `param`."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class HTTPFailure(Exception):
    """An error answer: HTTP status plus the OpenAI-style error fields."""

    def __init__(self, status: int, message: str, err_type: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.err_type, self.code, self.param = status, err_type, code, param


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat-completion request."""

    model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    include_usage: bool = False
    user: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    max_cost_usd: float | None = None
    cost_lambda: float | None = None


def _xrouter_options(body: dict[str, Any]) -> float | None:
    """The request's cost weight from the `xrouter` extension object (None when not given)."""
    options = body.get("xrouter")
    if options is None:
        return None
    if not isinstance(options, dict):
        raise RequestError("'xrouter' must be an object, e.g. {\"cost_lambda\": 3}", "xrouter", "invalid_type")
    for key in options:
        if key not in _XROUTER_FIELDS:
            raise RequestError(
                f"unknown field 'xrouter.{key}' (accepted: {', '.join(_XROUTER_FIELDS)})",
                f"xrouter.{key}",
                "unknown_parameter",
            )
    try:
        return _number(options, "cost_lambda", 0.0, MAX_COST_LAMBDA)
    except RequestError as exc:  # name the nested field
        message = str(exc).replace("'cost_lambda'", "'xrouter.cost_lambda'")
        raise RequestError(message, "xrouter.cost_lambda", exc.code) from None


def _number(body: dict[str, Any], name: str, low: float, high: float | None = None) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"'{name}' must be a number", name, "invalid_type")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        finite = False
    if not finite:
        raise RequestError(f"'{name}' must be a finite number", name)
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise RequestError(f"'{name}' must be {bound}, got {value}", name)
    return float(value)


def _integer(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(f"'{name}' must be a positive integer", name, "invalid_type")
    return value


def _messages(value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise RequestError("'messages' is required", "messages", "missing_required_parameter")
    if not isinstance(value, list) or not value:
        raise RequestError("'messages' must be a non-empty list of message objects", "messages", "invalid_type")
    for index, message in enumerate(value):
        param = f"messages[{index}]"
        if not isinstance(message, dict):
            raise RequestError(f"{param} must be an object with 'role' and 'content'", param, "invalid_type")
        if message.get("role") not in ("system", "developer", "user", "assistant"):
            raise RequestError(
                f"{param}.role must be system, developer, user or assistant, got {message.get('role')!r}",
                f"{param}.role",
            )
        for key in message:
            if key not in ("role", "content") and message[key] is not None:  # name, tool_calls, audio, ...
                raise RequestError(f"{param}.{key} is not supported (only role and content)", f"{param}.{key}")
        if not isinstance(message.get("content"), str | list):
            raise RequestError(
                f"{param}.content must be a string or a list of text parts", f"{param}.content", "invalid_type"
            )
    try:
        split_user_system(value)
    except ValueError as exc:
        raise RequestError(str(exc), "messages") from None
    return value


def _stream_flags(body: dict[str, Any]) -> tuple[bool, bool]:
    """(stream, include_usage); stream_options is only valid with stream=true, as in the OpenAI API."""
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise RequestError("'stream' must be a boolean", "stream", "invalid_type")
    options = body.get("stream_options")
    if options is None:
        return bool(stream), False
    if not stream:
        raise RequestError("'stream_options' is only allowed with stream=true", "stream_options")
    if not isinstance(options, dict) or set(options) - {"include_usage"}:
        raise RequestError("'stream_options' accepts only include_usage", "stream_options")
    return True, bool(options.get("include_usage", False))


def parse_chat_request(body: Any, model_names: Collection[str]) -> ChatRequest:
    """Validate a decoded JSON body; raises `RequestError` on the first problem."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object", None, "invalid_type")
    for name in body:
        if name in _UNSUPPORTED and body[name] is not None:
            raise RequestError(_UNSUPPORTED[name], name, "unsupported_parameter")
        if name not in _KNOWN and name not in _UNSUPPORTED:
            raise RequestError(f"unknown field '{name}'", name, "unknown_parameter")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("'model' is required and must be a string", "model", "missing_required_parameter")
    if model not in model_names:
        raise RequestError(
            f"model {model!r} is not served here; use one of: {', '.join(sorted(model_names))}",
            "model",
            "model_not_found",
        )
    messages = _messages(body.get("messages"))
    top_p = _number(body, "top_p", 0.0, 1.0)
    if top_p is not None and top_p != 1.0:
        raise RequestError("top_p other than 1 is not supported by the router; omit it", "top_p")
    n = _integer(body, "n")
    if n not in (None, 1):
        raise RequestError("only n=1 is supported", "n")
    stream, include_usage = _stream_flags(body)
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise RequestError("'user' must be a string", "user", "invalid_type")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RequestError("'metadata' must be an object", "metadata", "invalid_type")
    max_tokens = _integer(body, "max_completion_tokens")
    legacy = _integer(body, "max_tokens")
    if max_tokens is not None and legacy is not None and legacy != max_tokens:
        raise RequestError("max_tokens and max_completion_tokens disagree; send one of them", "max_tokens")
    max_tokens = max_tokens if max_tokens is not None else legacy
    return ChatRequest(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 0.0, 2.0),
        stream=stream,
        include_usage=include_usage,
        user=user,
        metadata=metadata,
        max_cost_usd=_number(body, "max_cost_usd", 0.0),
        cost_lambda=_xrouter_options(body),
    )
