"""Reading a LiteLLM chat-completion response: text, finish reason, usage and reported costs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xrouter.catalog.pricing import Usage

# `system_fingerprint` of answers from `xrouter replay serve`.
REPLAY_FINGERPRINT = "xrouter-replay"


@dataclass(frozen=True)
class ParsedResponse:
    """The parts of a provider response the call layer keeps; `usage` is None when the provider sent none usable."""

    text: str
    finish_reason: str | None
    usage: Usage | None
    provider_cost_usd: float | None
    litellm_cost_usd: float | None
    replayed: bool = False  # answered by the xrouter replay server: nothing was spent


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


_NOT_RECORDS = (str, bytes, int, float, list, tuple)  # tuples, not `a | b`: a union is built on every evaluation
_NUMBERS = (int, float)


def _is_record(obj: Any) -> bool:
    """A JSON object, or an object of the SDK that stands for one (not a string, number or list)."""
    return obj is not None and not isinstance(obj, _NOT_RECORDS)


def _int(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError, OverflowError):
        return 0


def _count(value: Any) -> int | None:
    """A token count as sent: a non-negative whole number, else None."""
    if isinstance(value, bool) or not isinstance(value, _NUMBERS) or not math.isfinite(value):
        return None
    return int(value) if value >= 0 and value == int(value) else None


def _cost(value: Any) -> float | None:
    """A finite non-negative float, else None (providers sometimes send strings or nothing)."""
    try:
        cost = float(value)
    except (TypeError, ValueError):
        return None
    return cost if math.isfinite(cost) and cost >= 0 else None


def usage_from(raw: Any) -> Usage | None:
    """`Usage` from an OpenAI-style usage object (details clamped to be consistent); None when it is unusable."""
    if not _is_record(raw):
        return None
    input_tokens, output_tokens = _count(_get(raw, "prompt_tokens")), _count(_get(raw, "completion_tokens"))
    if input_tokens is None or output_tokens is None:
        return None
    cached = _int(_get(_get(raw, "prompt_tokens_details"), "cached_tokens"))
    reasoning = _int(_get(_get(raw, "completion_tokens_details"), "reasoning_tokens"))
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=min(cached, input_tokens),
        reasoning_tokens=min(reasoning, output_tokens),
    )


def provider_cost(raw_usage: Any) -> float | None:
    """Cost the provider reported itself (`usage.cost`, as OpenRouter and the replay server send)."""
    return _cost(_get(raw_usage, "cost")) if _is_record(raw_usage) else None


def _text(message: Any) -> str:
    """The answer text of a message: a string, text parts joined, or '' for no content; ValueError otherwise."""
    content = _get(message, "content")
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise ValueError(f"choices[0].message.content is a {type(content).__name__}, not text")
    texts = []
    for part in content:
        if not _is_record(part):
            raise ValueError("choices[0].message.content holds a part that is not an object")
        text = _get(part, "text")
        if text is not None and not isinstance(text, str):
            raise ValueError("a content part's text is not a string")
        texts.append(text or "")
    return "".join(texts)


def parse_response(response: Any) -> ParsedResponse:
    """Extract text, finish reason, usage and costs; ValueError when the body is not a usable chat completion."""
    choices = _get(response, "choices")
    if not isinstance(choices, (list, tuple)) or not choices:
        raise ValueError("provider response has no choices")
    choice = choices[0]
    message = _get(choice, "message") if _is_record(choice) else None
    if not _is_record(message):
        raise ValueError("provider response has no choices[0].message object")
    finish = _get(choice, "finish_reason")
    raw_usage = _get(response, "usage")
    hidden = getattr(response, "_hidden_params", None) or {}
    return ParsedResponse(
        text=_text(message),
        finish_reason=finish if isinstance(finish, str) else None,
        usage=usage_from(raw_usage),
        provider_cost_usd=provider_cost(raw_usage),
        litellm_cost_usd=_cost(hidden.get("response_cost")) if isinstance(hidden, dict) else None,
        replayed=_get(response, "system_fingerprint") == REPLAY_FINGERPRINT,
    )
