"""The router policy of the answer-aware cascades (verify, agree): reads the answers in the chat, asks the plan.

Each turn: the request is embedded (cached), its task predicted, the successful answers so far read from the
tool messages, and `CascadePlan` says which model(s) to call next or which answer to select. The decision's
note is returned with the turn, so the episode trace carries it. Call turns are capped at `max_turns - 1`,
leaving the engine's last turn for `select_response`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from xrouter.catalog import SELECT_TOOL_NAME, tool_name_for
from xrouter.engine.policy import RouterPolicyError, RouterToolCall, RouterTurn
from xrouter.eval.cascade import CascadePlan, Decision
from xrouter.eval.learned import LearnedRouter
from xrouter.eval.router_chat import DEFAULT_MAX_TURNS, FittedPolicy, request_text, tool_results


class CascadePolicy(FittedPolicy):
    """`RouterPolicy` for verify and agree routers; safe to share between concurrent requests."""

    def __init__(self, router: LearnedRouter, lam: float | None, *, name: str, embedder: Any = None,
                 max_turns: int = DEFAULT_MAX_TURNS) -> None:  # fmt: skip
        super().__init__(router, lam, name=name, embedder=embedder)
        self.plan = CascadePlan(router)
        self.max_call_turns = max(1, max_turns - 1)
        self.answer_chars = int(router.spec.cascade.get("answer_chars", 600))

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """The next call(s) of the cascade, or `select_response` of the chosen answer."""
        started = time.perf_counter()
        offered = {t["function"]["name"] for t in tools}
        allowed = {i for tool, i in self.tool_model.items() if tool in offered}
        if not allowed:
            raise RouterPolicyError(
                f"none of the learned router's models ({', '.join(self.router.models)}) is offered as a tool;"
                " serve it with --models naming models it was fitted on"
            )
        called, results = tool_results(messages)
        query = request_text(messages)
        q_emb = await self.embed([query])
        task = int(self.router.task_of(q_emb)[0])
        lam = self.lambda_for(messages)
        answered = [(self.tool_model[n], text) for n, text, ok in results if ok and n in self.tool_model]
        tried = {self.tool_model[n] for n in called if n in self.tool_model}
        call_turns = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
        simple = SELECT_TOOL_NAME not in offered  # simple mode: one delegation whose answer goes to the user
        can_call = not simple and call_turns < self.max_call_turns
        if not called:
            decision = self.plan.first(task, lam, allowed)
            if simple:
                decision = Decision(call=decision.call[:1], note=decision.note + " (simple mode: single call)")
        elif not answered:
            decision = self._after_failures(task, lam, allowed - tried, called, can_call or simple)
        else:
            a_emb = await self._answer_embeddings(answered) if self.plan.kind == "verify" else {}
            decision = self.plan.next(task, lam, q_emb, answered, allowed - tried, a_emb, can_call)
        return self._turn(decision, called, time.perf_counter() - started)

    def _after_failures(self, task: int, lam: float, untried: set[int], called: list[str], can_call: bool) -> Decision:
        """Every call so far failed: the next model by the table's ranking, or give up on the last call."""
        ranked = self.plan.ranked(task, lam, untried)
        if ranked and can_call:
            return Decision(call=(ranked[0],), note=f"every call failed: try {self.router.models[ranked[0]]}")
        return Decision(select=self.tool_model.get(called[-1], -1), note="every call failed: no answer")

    async def _answer_embeddings(self, answered: list[tuple[int, str]]) -> dict[int, np.ndarray]:
        vectors = await self.embed([text.strip()[: self.answer_chars] for _, text in answered])
        return {m: vectors[i] for i, (m, _) in enumerate(answered)}

    def _turn(self, decision: Decision, called: list[str], latency: float) -> RouterTurn:
        if decision.call:
            calls = tuple(RouterToolCall.of(tool_name_for(self.router.models[m]), optimized_system_prompt="")
                          for m in decision.call)  # fmt: skip
            return RouterTurn(tool_calls=calls, latency_s=latency, note=decision.note)
        if decision.select is not None and decision.select >= 0:
            target = tool_name_for(self.router.models[decision.select])
        else:
            target = called[-1]
        select = RouterToolCall.of(SELECT_TOOL_NAME, model_call_name=target)
        return RouterTurn(tool_calls=(select,), latency_s=latency, note=decision.note)
