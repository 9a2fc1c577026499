"""LLM router policies: an OpenAI-compatible endpoint (aiohttp) or a catalog model (LiteLLM).

`endpoint` serves a trained router from vLLM or SGLang started with a hermes tool parser
(`--policy endpoint`, the default with `--router-api-base`). `litellm:<catalog id>` uses any catalog
model as an untrained router, the upstream's baseline (e.g. `--policy litellm:gpt-5-nano`).
If a server returns hermes `<tool_call>{...}</tool_call>` blocks in the text instead of parsed
`tool_calls` (no parser configured), they are parsed here, so both set-ups behave the same.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from xrouter.catalog import Usage
from xrouter.engine.router_turn import PolicySettings, RouterPolicyError, RouterPrice, RouterToolCall, RouterTurn

logger = logging.getLogger(__name__)
_HERMES_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def hermes_calls(text: str) -> tuple[str, list[RouterToolCall]]:
    """Tool calls written as hermes blocks in the text; JSON that fails to parse is kept for the engine to refuse."""
    calls: list[RouterToolCall] = []
    for index, block in enumerate(_HERMES_CALL.findall(text)):
        try:
            data = json.loads(block)
            name = str(data.get("name", ""))
            arguments = data.get("arguments", {})
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        except (ValueError, AttributeError):
            name, raw = "", block
        calls.append(RouterToolCall(id=f"call_text_{index}", name=name, arguments=raw))
    return _HERMES_CALL.sub("", text).strip(), calls


def parse_router_response(body: Any, price: RouterPrice, latency_s: float) -> RouterTurn:
    """Turn an OpenAI chat-completion body into a `RouterTurn`; malformed bodies raise `RouterPolicyError`."""
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise RouterPolicyError(f"router response has no choices[0].message ({exc.__class__.__name__})") from None
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise RouterPolicyError("router response content is not a string")
    calls: list[RouterToolCall] = []
    for index, raw in enumerate(message.get("tool_calls") or []):
        function = raw.get("function") or {}
        arguments = function.get("arguments", "{}")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        calls.append(
            RouterToolCall(
                id=str(raw.get("id") or f"call_{index}"), name=str(function.get("name", "")), arguments=arguments
            )
        )
    if not calls and "<tool_call>" in text:
        text, calls = hermes_calls(text)
    usage_body = body.get("usage") or {}
    usage = Usage(
        input_tokens=int(usage_body.get("prompt_tokens") or 0),
        output_tokens=int(usage_body.get("completion_tokens") or 0),
    )
    return RouterTurn(text=text, tool_calls=tuple(calls), usage=usage, cost_usd=price.cost(usage), latency_s=latency_s)


class EndpointRouterPolicy:
    """A router served behind an OpenAI-compatible `/v1/chat/completions` (vLLM, SGLang, transformers serve).

    Uses aiohttp: one pooled session per event loop, created on first use (httpx's pool costs several
    times more CPU per request under concurrency, which dominated the server's overhead).
    """

    def __init__(self, settings: PolicySettings) -> None:
        if not settings.api_base:
            raise RouterPolicyError("the endpoint policy needs --router-api-base (e.g. http://127.0.0.1:8001/v1)")
        self.name = settings.router_model
        self._settings = settings
        self._url = settings.api_base.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._price = settings.price or RouterPrice()
        self._session: Any = None

    def _client(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self._settings.timeout_s),
                connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300),
            )
        return self._session

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """POST the router chat to the endpoint and parse its answer."""
        import asyncio

        import aiohttp

        payload: dict[str, Any] = {"model": self.name, "messages": messages, "max_tokens": self._settings.max_tokens}
        if tools:
            payload["tools"] = tools
            payload["tool_choice"] = "auto"
        if self._settings.temperature is not None:
            payload["temperature"] = self._settings.temperature
        started = time.perf_counter()
        try:
            async with self._client().post(
                self._url, data=json.dumps(payload), headers={"Content-Type": "application/json"}
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise RouterPolicyError(f"router endpoint unreachable: {exc.__class__.__name__}: {exc}") from None
        if status != 200:
            text = raw.decode("utf-8", "replace")[:300]
            raise RouterPolicyError(f"router endpoint answered HTTP {status}: {text}")
        try:
            body = json.loads(raw)
        except ValueError:
            raise RouterPolicyError("router endpoint returned a body that is not JSON") from None
        return parse_router_response(body, self._price, time.perf_counter() - started)

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        if self._session is not None and not self._session.closed:
            await self._session.close()


class LiteLLMRouterPolicy:
    """A catalog model used as an (untrained) router through LiteLLM, priced from the catalog."""

    def __init__(self, model_id: str, settings: PolicySettings) -> None:
        if settings.catalog is None:
            raise RouterPolicyError("the litellm policy needs a catalog")
        self._spec = settings.catalog.resolve(model_id)
        self.name = self._spec.id
        self._settings = settings
        self._price = settings.price
        if self._price is None:  # no price flags: the catalog entry's price
            if not self._spec.has_price:
                logger.warning("router model %s has no catalog price: router_cost is 0", self._spec.id)
            self._price = RouterPrice(self._spec.input_usd_per_mtok or 0.0, self._spec.output_usd_per_mtok or 0.0)

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """Ask the catalog model for the next turn through `litellm.acompletion`."""
        import litellm

        spec = self._spec
        kwargs: dict[str, Any] = {
            "model": spec.litellm_model,
            "messages": messages,
            "timeout": self._settings.timeout_s,
        }
        kwargs[spec.constraints.token_param] = spec.budget_tokens(self._settings.max_tokens)
        temperature = spec.constraints.fixed_temperature
        if temperature is None:
            temperature = self._settings.temperature
        if temperature is not None:
            kwargs["temperature"] = temperature
        if tools:
            kwargs.update(tools=tools, tool_choice="auto")
        kwargs.update(self._endpoint())
        started = time.perf_counter()
        try:
            response = await litellm.acompletion(**kwargs)
        except Exception as exc:  # LiteLLM raises many provider-specific types; all mean "no router turn"
            raise RouterPolicyError(f"router model {spec.id} failed: {exc.__class__.__name__}: {exc}") from None
        body = response.model_dump() if hasattr(response, "model_dump") else dict(response)
        return parse_router_response(body, self._price, time.perf_counter() - started)

    def _endpoint(self) -> dict[str, Any]:
        """api_base/api_key: --router-api-key, else the catalog's key variable; local servers get a dummy key."""
        import os

        out: dict[str, Any] = {}
        key = self._settings.api_key
        if key is None and self._spec.api_key_env:
            key = os.environ.get(self._spec.api_key_env)
        if self._spec.api_base:
            out["api_base"] = self._spec.api_base
            key = key or "unused"  # OpenAI-compatible local servers still need some key string
        if key:
            out["api_key"] = key
        return out

    async def aclose(self) -> None:
        """Nothing to release (LiteLLM manages its own clients)."""


def endpoint_policy(arg: str, settings: PolicySettings) -> EndpointRouterPolicy:
    """Factory for `--policy endpoint[:URL]` (URL overrides --router-api-base)."""
    if arg:
        settings = PolicySettings(**{**settings.__dict__, "api_base": arg})
    return EndpointRouterPolicy(settings)


def litellm_policy(arg: str, settings: PolicySettings) -> LiteLLMRouterPolicy:
    """Factory for `--policy litellm[:CATALOG_ID]` (default: --router-model)."""
    return LiteLLMRouterPolicy(arg or settings.router_model, settings)
