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
    """The parts of a provider response the call layer keeps."""

    text: str
    finish_reason: str | None
    usage: Usage
    provider_cost_usd: float | None
    litellm_cost_usd: float | None
    replayed: bool = False  # answered by the xrouter replay server: nothing was spent


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _int(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _cost(value: Any) -> float | None:
    """A finite non-negative float, else None (providers sometimes send strings or nothing)."""
    try:
        cost = float(value)
    except (TypeError, ValueError):
        return None
    return cost if math.isfinite(cost) and cost >= 0 else None


def usage_from(raw: Any) -> Usage:
    """`Usage` from an OpenAI-style usage object, clamped so it is always internally consistent."""
    input_tokens = _int(_get(raw, "prompt_tokens"))
    output_tokens = _int(_get(raw, "completion_tokens"))
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
    return _cost(_get(raw_usage, "cost"))


def parse_response(response: Any) -> ParsedResponse:
    """Extract text, finish reason, usage and costs; raises ValueError when there is no choice."""
    choices = _get(response, "choices") or []
    if not choices:
        raise ValueError("provider response has no choices")
    choice = choices[0]
    message = _get(choice, "message")
    text = _get(message, "content") or ""
    if not isinstance(text, str):  # content parts: keep the text parts
        text = "".join(str(_get(part, "text") or "") for part in text)
    raw_usage = _get(response, "usage")
    hidden = getattr(response, "_hidden_params", None) or {}
    return ParsedResponse(
        text=text,
        finish_reason=_get(choice, "finish_reason"),
        usage=usage_from(raw_usage),
        provider_cost_usd=provider_cost(raw_usage),
        litellm_cost_usd=_cost(hidden.get("response_cost")) if isinstance(hidden, dict) else None,
        replayed=_get(response, "system_fingerprint") == REPLAY_FINGERPRINT,
    )
