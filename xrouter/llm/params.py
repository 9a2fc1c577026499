"""Request parameters for one call, with the catalog's model constraints applied.

The same dictionary feeds LiteLLM and the response-cache key, so a cached answer is only reused for
a request that would have been sent byte-for-byte the same way.
"""

from __future__ import annotations

from typing import Any

from xrouter.catalog.models import ModelSpec


def sampling_params(
    spec: ModelSpec,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    top_p: float | None = None,
) -> dict[str, Any]:
    """Sampling parameters as sent to the provider.

    * models with a fixed temperature (o-series, gpt-5) always get it, whatever was asked;
    * the output budget is always sent (capped by the model's limit), under the name the model
      accepts (`max_tokens` or `max_completion_tokens` for reasoning models);
    * `top_p` is dropped for models that reject it.
    """
    params: dict[str, Any] = {}
    fixed = spec.constraints.fixed_temperature
    if fixed is not None:
        params["temperature"] = fixed
    elif temperature is not None:
        params["temperature"] = float(temperature)
    params[spec.constraints.token_param] = spec.budget_tokens(max_tokens)
    if top_p is not None and spec.constraints.supports_top_p:
        params["top_p"] = float(top_p)
    return params


def cache_fields(
    spec: ModelSpec, messages: list[dict[str, Any]], params: dict[str, Any], api_base: str | None = None
) -> dict[str, Any]:
    """What identifies a request for the response cache: LiteLLM model, endpoint, messages and sampling params.

    The endpoint is part of the key so that answers from a replay server or a local model never stand
    in for the live provider's: `api_base` is the client-wide override when there is one, else the
    catalog's `spec.api_base`, else None (the provider's own endpoint).
    """
    endpoint = api_base or spec.api_base
    return {"model": spec.litellm_model, "api_base": endpoint, "messages": messages, "params": params}


def check_request(messages: Any, timeout_s: float | None) -> None:
    """Raise ValueError for arguments no provider could accept (checked before any network traffic)."""
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"messages must be a non-empty list of chat messages, got {type(messages).__name__}")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ValueError(f"messages[{index}] must be a dict with a string 'role'")
    if timeout_s is not None and not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
