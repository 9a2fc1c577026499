"""A catalog model as the router, called through LiteLLM: the upstream's untrained baseline.

`--policy litellm:<catalog id>` (e.g. `litellm:gpt-5-nano`) asks that model for every router turn with the
offered tools; it is priced from its catalog entry unless price flags are given. Its answers are read like
an endpoint's (`xrouter.engine.chat_policy.parse_router_response`), hermes blocks in the text included.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from xrouter.engine.router_response import broken_turn, parse_router_response
from xrouter.engine.router_turn import PolicySettings, RouterPolicyError, RouterPrice, RouterTurn
from xrouter.llm.redact import register_secret
from xrouter.llm.streaming import STREAM_PARAMS, StreamBroken, read_litellm_stream
from xrouter.llm.transport import load_litellm

logger = logging.getLogger(__name__)


class LiteLLMRouterPolicy:
    """A catalog model used as an (untrained) router through LiteLLM, priced from the catalog."""

    def __init__(self, model_id: str, settings: PolicySettings) -> None:
        if settings.catalog is None:
            raise RouterPolicyError("the litellm policy needs a catalog")
        self._spec = settings.catalog.resolve(model_id)
        self.name = self._spec.id
        self.litellm_model = self._spec.litellm_model  # loaded and warmed at server start-up
        self._settings = settings
        self.max_tokens = self._spec.budget_tokens(settings.max_tokens)
        self.streams = settings.stream_turns  # read by the engine: use `stream_turn` for streamed requests
        self.price = settings.price  # read by the engine to keep the next turn in the budget
        if self.price is None:  # no price flags: the catalog entry's price
            if not self._spec.has_price:
                logger.warning("router model %s has no catalog price: router_cost is 0", self._spec.id)
            self.price = RouterPrice(self._spec.input_usd_per_mtok or 0.0, self._spec.output_usd_per_mtok or 0.0)

    def _kwargs(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        spec = self._spec
        kwargs: dict[str, Any] = {
            "model": spec.litellm_model,
            "messages": messages,
            "timeout": self._settings.timeout_s,
        }
        kwargs[spec.constraints.token_param] = self.max_tokens
        temperature = spec.constraints.fixed_temperature
        if temperature is None:
            temperature = self._settings.temperature
        if temperature is not None:
            kwargs["temperature"] = temperature
        if tools:
            kwargs.update(tools=tools, tool_choice="auto")
        kwargs.update(self._endpoint())
        return kwargs

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """Ask the catalog model for the next turn through `litellm.acompletion`."""
        litellm, spec = load_litellm(), self._spec
        started = time.perf_counter()
        try:
            response = await litellm.acompletion(**self._kwargs(messages, tools))
        except Exception as exc:  # LiteLLM raises many provider-specific types; all mean "no router turn"
            raise RouterPolicyError(f"router model {spec.id} failed: {exc.__class__.__name__}: {exc}") from None
        body = response.model_dump() if hasattr(response, "model_dump") else dict(response)
        turn = parse_router_response(body, self.price, time.perf_counter() - started, messages)
        if len(turn.text) > self._settings.max_answer_bytes:  # LiteLLM has read it already; do not pass it on
            raise RouterPolicyError(f"router answer larger than {self._settings.max_answer_bytes} bytes (the cap)")
        return turn

    async def stream_turn(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], on_text: Callable[[str], None]
    ) -> RouterTurn:
        """Like `next_turn`, streamed: the text goes to `on_text` as it arrives (see the endpoint policy)."""
        litellm, spec, limit = load_litellm(), self._spec, self._settings.max_answer_bytes
        kwargs = {**self._kwargs(messages, tools), **STREAM_PARAMS}
        started = time.perf_counter()
        try:
            body = await read_litellm_stream(await litellm.acompletion(**kwargs), on_text, limit)
        except StreamBroken as exc:
            raise broken_turn(exc, self.price, time.perf_counter() - started, messages) from None
        except Exception as exc:  # nothing was handed on: the same as a failed turn
            raise RouterPolicyError(f"router model {spec.id} failed: {exc.__class__.__name__}: {exc}") from None
        return parse_router_response(body, self.price, time.perf_counter() - started, messages)

    def _endpoint(self) -> dict[str, Any]:
        """api_base/api_key: --router-api-key, else the catalog's key variable; local servers get a dummy key."""
        import os

        out: dict[str, Any] = {}
        key = self._settings.api_key
        if key is None and self._spec.api_key_env:
            key = os.environ.get(self._spec.api_key_env)
        register_secret(key)
        if self._spec.api_base:
            out["api_base"] = self._spec.api_base
            key = key or "unused"  # OpenAI-compatible local servers still need some key string
        if key:
            out["api_key"] = key
        return out

    async def aclose(self) -> None:
        """Nothing to release (LiteLLM manages its own clients)."""


def litellm_policy(arg: str, settings: PolicySettings) -> LiteLLMRouterPolicy:
    """Factory for `--policy litellm[:CATALOG_ID]` (default: --router-model)."""
    return LiteLLMRouterPolicy(arg or settings.router_model, settings)
