"""Reading the router chat, and the base of the fitted-router policies (query-only and cascades).

The engine shows a policy the router chat: the router's system prompt, one user turn with the request after
`USER REQUEST:`, then the assistant's tool calls and one tool message per call (an answer, or an `[error] ...`
line for a failed or refused call). A request with a cost weight has it in the system prompt
(`xrouter.engine.prompts.cost_weight_text`); fitted routers read it there, as an LLM router would.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np

from xrouter.catalog import tool_name_for
from xrouter.engine.policy import RouterPolicyError
from xrouter.engine.prompts import USER_QUERY_LABEL, content_text, prompt_cost_lambda
from xrouter.eval.learned import LearnedRouter, resolve_lambda

_ERROR_PREFIX = "[error]"  # how the engine and the call layer mark a failed or refused call for the router
DEFAULT_MAX_TURNS = 3  # the engine's default: two call turns and a select turn


def request_text(messages: list[dict[str, Any]]) -> str:
    """The user's request inside the router chat (the text after the last USER REQUEST label)."""
    for message in messages:
        if message.get("role") == "user":
            text = content_text(message.get("content"))
            marker = f"{USER_QUERY_LABEL}\n"
            return text.rsplit(marker, 1)[-1] if marker in text else text
    raise RouterPolicyError("the router chat has no user turn to route")


def tool_results(messages: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, str, bool]]]:
    """(tool names called, in order; (tool name, output, succeeded) of every tool response, in order)."""
    called: list[str] = []
    names: dict[str, str] = {}
    for m in messages:
        if m.get("role") == "assistant":
            for c in m.get("tool_calls") or []:
                called.append(c["function"]["name"])
                names[str(c.get("id"))] = c["function"]["name"]
    results = []
    for m in messages:
        if m.get("role") == "tool":
            text = content_text(m.get("content"))
            name = m.get("name") or names.get(str(m.get("tool_call_id")), "")
            results.append((name, text, not text.startswith(_ERROR_PREFIX)))
    return called, results


class FittedPolicy:
    """What both policy kinds share: the router, lambda, a thread-safe embedder and tool-name mapping."""

    def __init__(self, router: LearnedRouter, lam: float | None, *, name: str, embedder: Any = None) -> None:
        self.router = router
        self.lam = resolve_lambda(router.spec, lam)
        self.name = name
        self._embedder = embedder
        self._lock = threading.Lock()  # one encode at a time: the sentence model is not re-entrant
        self.tool_model = {tool_name_for(m): i for i, m in enumerate(router.models)}

    def lambda_for(self, messages: list[dict[str, Any]]) -> float:
        """The cost weight of this episode: the λ the router prompt states (per request), else the router's own."""
        stated = prompt_cost_lambda(messages)
        return self.lam if stated is None else stated

    def _embed_sync(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._embedder is None:
                from xrouter.eval.embed import Embedder

                self._embedder = Embedder(model=self.router.spec.embedding_model)
            return self._embedder.encode(texts)

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Embeddings off the event loop."""
        return await asyncio.to_thread(self._embed_sync, texts)

    async def aclose(self) -> None:
        """Nothing to release."""
