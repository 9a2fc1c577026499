"""`xrouter serve --policy learned:<DIR>[:lambda]`: a fitted router as a router policy (no LLM, no GPU).

The same policy objects run `learned:` policies in `xrouter bench`, so a router decides identically when
benchmarked and when served.

Query-only kinds (table, knn, mlp, mf, blend). Turn 1: embed the user's request, score every offered
`call_<model>` tool whose model the router knows with `p * K - lambda * cost`, and call the best one with an
empty `optimized_system_prompt`, so the target sees the user's conversation unchanged. Turn 2 (agent mode):
`select_response` naming that call, so the target's answer is returned word for word; simple mode ends the
episode after the delegation by itself. If the call failed (the tool response is an `[error] ...` line), the
next turn calls the best offered model not tried yet, while the engine's turn limit allows; when every offered
model has failed, it selects the last call and the engine's rules give "no answer".

Answer-aware kinds (verify, agree) read the answers between calls (`xrouter.eval.cascade`); in simple mode,
where no answer can be read, they make the table's single call. The router's own cost is 0 USD; its latency is
the embedding and decision time.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from xrouter.catalog import SELECT_TOOL_NAME, tool_name_for
from xrouter.engine.policy import PolicySettings, RouterPolicyError, RouterToolCall, RouterTurn
from xrouter.errors import UsageError
from xrouter.eval.cascade_policy import CascadePolicy
from xrouter.eval.learned import ANSWER_KINDS, LearnedRouter, parse_learned_policy
from xrouter.eval.router_chat import DEFAULT_MAX_TURNS, FittedPolicy, request_text, tool_results

__all__ = ["LearnedRouterPolicy", "build_learned_policy", "fitted_policy", "request_text", "turns_needed"]


class LearnedRouterPolicy(FittedPolicy):
    """`RouterPolicy` for a query-only router; safe to share between concurrent requests."""

    def rank(self, emb: np.ndarray, offered: set[str], lam: float | None = None) -> list[tuple[float, str]]:
        """(utility, tool name) of every offered model the router knows, best first."""
        p, cost = self.router.predict(emb)
        lam = self.lam if lam is None else lam
        utility = p[0] * self.router.spec.quality_scale - lam * cost[0]
        ranked = [(float(u), tool_name_for(m)) for u, m in zip(utility, self.router.models, strict=True)]
        return sorted((r for r in ranked if r[1] in offered), key=lambda r: -r[0])

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """Call the best model, then select its answer; after a failed call, try the next best model."""
        offered = {t["function"]["name"] for t in tools}
        called, results = tool_results(messages)
        last_failed = bool(results) and not results[-1][2]
        if called and not last_failed:
            if SELECT_TOOL_NAME in offered:
                return RouterTurn(tool_calls=(RouterToolCall.of(SELECT_TOOL_NAME, model_call_name=called[-1]),))
            return RouterTurn(text=results[-1][1] if results else "")
        started = time.perf_counter()
        emb = await self.embed([request_text(messages)])
        ranked = self.rank(emb, offered, self.lambda_for(messages))
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


def build_learned_policy(arg: str, settings: PolicySettings) -> FittedPolicy:
    """Factory for `--policy learned:<DIR>[:lambda]` (registered by `xrouter.engine.policy`)."""
    folder, lam = parse_learned_policy(arg)
    router = LearnedRouter.load(folder)
    if settings.model_ids:
        known = set(router.models)
        if not any(m in known for m in settings.model_ids):
            raise UsageError(f"--models {', '.join(settings.model_ids)}: none was fitted in {folder}")
    return fitted_policy(router, lam, name=f"learned:{arg}", max_turns=settings.max_turns or DEFAULT_MAX_TURNS)


def fitted_policy(
    router: LearnedRouter, lam: float | None, *, name: str, embedder: Any = None, max_turns: int = DEFAULT_MAX_TURNS
) -> FittedPolicy:
    """The router policy of a fitted router of any kind."""
    if router.spec.kind in ANSWER_KINDS:
        return CascadePolicy(router, lam, name=name, embedder=embedder, max_turns=max_turns)
    return LearnedRouterPolicy(router, lam, name=name, embedder=embedder)


def turns_needed(router: LearnedRouter) -> int:
    """Episode turns a router of this kind can use: three calls and a select for cascades, else the default."""
    return 4 if router.spec.kind in ANSWER_KINDS else DEFAULT_MAX_TURNS
