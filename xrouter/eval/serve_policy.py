"""`xrouter serve --policy learned:<DIR>[:lambda]`: a fitted kNN/MLP router as a router policy (no LLM, no GPU).

Turn 1: embed the user's request, score every offered `call_<model>` tool whose model the router knows with
`p * K - lambda * cost`, and call the best one with an empty `optimized_system_prompt`, so the target sees the
user's conversation unchanged. Turn 2 (agent mode): `select_response` naming that call, so the target's answer is
returned word for word; simple mode ends the episode after the delegation by itself. If the call failed (the tool
response is an `[error] ...` line), the next turn calls the best offered model not tried yet, while the engine's
turn limit allows; when every offered model has failed, it selects the last call and the engine's rules give
"no answer". The router's own cost is 0 USD; its latency is the embedding time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np

from xrouter.catalog import SELECT_TOOL_NAME, tool_name_for
from xrouter.engine.policy import PolicySettings, RouterPolicyError, RouterToolCall, RouterTurn
from xrouter.engine.prompts import USER_QUERY_LABEL, content_text
from xrouter.errors import UsageError
from xrouter.eval.learned import LearnedRouter, parse_learned_policy

_ERROR_PREFIX = "[error]"  # how the engine and the call layer mark a failed or refused call for the router


def request_text(messages: list[dict[str, Any]]) -> str:
    """The user's request inside the router chat (the text after the last USER REQUEST label)."""
    for message in messages:
        if message.get("role") == "user":
            text = content_text(message.get("content"))
            marker = f"{USER_QUERY_LABEL}\n"
            return text.rsplit(marker, 1)[-1] if marker in text else text
    raise RouterPolicyError("the router chat has no user turn to route")


class LearnedRouterPolicy:
    """`RouterPolicy` backed by a `LearnedRouter`; safe to share between concurrent requests."""

    def __init__(self, router: LearnedRouter, lam: float | None, *, name: str, embedder: Any = None) -> None:
        self.router = router
        self.lam = router.spec.default_lambda if lam is None else lam
        self.name = name
        self._embedder = embedder
        self._lock = threading.Lock()  # one encode at a time: the sentence model is not re-entrant

    def _embed(self, text: str) -> np.ndarray:
        with self._lock:
            if self._embedder is None:
                from xrouter.eval.embed import Embedder

                self._embedder = Embedder()
            return self._embedder.encode([text])

    def rank(self, emb: np.ndarray, offered: set[str]) -> list[tuple[float, str]]:
        """(utility, tool name) of every offered model the router knows, best first."""
        p, cost = self.router.predict(emb)
        utility = p[0] * self.router.spec.quality_scale - self.lam * cost[0]
        ranked = [(float(u), tool_name_for(m)) for u, m in zip(utility, self.router.models, strict=True)]
        return sorted((r for r in ranked if r[1] in offered), key=lambda r: -r[0])

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """Call the best model, then select its answer; after a failed call, try the next best model."""
        offered = {t["function"]["name"] for t in tools}
        called = [
            c["function"]["name"] for m in messages if m.get("role") == "assistant" for c in m.get("tool_calls") or []
        ]
        tool_outputs = [content_text(m.get("content")) for m in messages if m.get("role") == "tool"]
        last_failed = bool(tool_outputs) and tool_outputs[-1].startswith(_ERROR_PREFIX)
        if called and not last_failed:
            if SELECT_TOOL_NAME in offered:
                return RouterTurn(tool_calls=(RouterToolCall.of(SELECT_TOOL_NAME, model_call_name=called[-1]),))
            return RouterTurn(text=tool_outputs[-1] if tool_outputs else "")
        started = time.perf_counter()
        emb = await asyncio.to_thread(self._embed, request_text(messages))
        ranked = self.rank(emb, offered)
        if not ranked:
            raise RouterPolicyError(
                f"none of the learned router's models ({', '.join(self.router.models)}) is offered as a tool;"
                " serve it with --models naming models it was fitted on"
            )
        untried = [tool for _, tool in ranked if tool not in called]
        if not untried:  # every offered model failed: let the engine's rules end the episode without an answer
            return RouterTurn(tool_calls=(RouterToolCall.of(SELECT_TOOL_NAME, model_call_name=called[-1]),))
        call = RouterToolCall.of(untried[0], optimized_system_prompt="")
        return RouterTurn(tool_calls=(call,), latency_s=time.perf_counter() - started)

    async def aclose(self) -> None:
        """Nothing to release."""


def build_learned_policy(arg: str, settings: PolicySettings) -> LearnedRouterPolicy:
    """Factory for `--policy learned:<DIR>[:lambda]` (registered by `xrouter.engine.policy`)."""
    folder, lam = parse_learned_policy(arg)
    router = LearnedRouter.load(folder)
    if settings.model_ids:
        known = set(router.models)
        if not any(m in known for m in settings.model_ids):
            raise UsageError(f"--models {', '.join(settings.model_ids)}: none was fitted in {folder}")
    return LearnedRouterPolicy(router, lam, name=f"learned:{arg}")
