"""The record of one router episode: turns, calls, costs and the final outcome.

`Trajectory.to_reward_fields()` flattens it into the `xrouter_*` keys of the trajectory/reward
contract, `Trajectory.to_metadata()` into the `router_metadata` the API server returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from xrouter.engine.prompts import Mode
from xrouter.engine.rules import Outcome, ToolCallView, TurnView

# Finish of the episode rules -> routing_strategy reported by the server (see the README, "Serving").
_STRATEGY = {"select_response": "select_response", "delegated": "delegate_to_model"}


@dataclass
class CallRecord:
    """One tool call of the router, executed or refused.

    `executed` is False when the engine refused the call (unknown tool, bad arguments, budget,
    limits, last turn); `output` is then the refusal message the router read.
    """

    call_id: str
    tool_name: str
    turn: int
    model: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    executed: bool = False
    success: bool = False
    output: str = ""
    error: str | None = None
    error_kind: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: float = 0.0
    spent_usd: float = 0.0
    priced: bool = True
    estimated: bool = False  # the provider sent no usable usage: tokens and cost are estimates
    cost_replaced: bool = False  # an implausible provider-reported cost was replaced by the catalog price
    latency_s: float = 0.0
    cache_hit: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly record (shallow: `arguments` is shared, not copied)."""
        return {name: getattr(self, name) for name in _CALL_FIELDS}

    def view(self) -> ToolCallView:
        """The rules' view of this call."""
        return ToolCallView(self.tool_name, self.success, self.output)

    def to_reward_call(self) -> dict[str, Any]:
        """Per-call dict of the `xrouter_calls` contract key."""
        return {
            "model": self.model,
            "tool_name": self.tool_name,
            "cost_usd": self.cost_usd,
            "success": self.success,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "latency_s": self.latency_s,
            "cache_hit": self.cache_hit,
            "estimated": self.estimated,
            "error": self.error,
        }


_CALL_FIELDS = tuple(f.name for f in fields(CallRecord))


@dataclass
class TurnRecord:
    """One router generation and the calls it made."""

    index: int
    text: str
    calls: list[CallRecord] = field(default_factory=list)
    router_input_tokens: int = 0
    router_output_tokens: int = 0
    router_cost_usd: float = 0.0
    router_latency_s: float = 0.0
    note: str = ""
    router_estimated: bool = False  # no usage from the router endpoint: tokens counted from the texts

    def view(self, visible: str) -> TurnView:
        """The rules' view of this turn."""
        return TurnView(visible, tuple(c.view() for c in self.calls))


@dataclass
class Trajectory:
    """A finished episode: what the user gets back and everything that led to it."""

    mode: Mode
    router_model: str
    outcome: Outcome
    answer: str
    strategy: str
    turns: list[TurnRecord]
    total_time_s: float
    request_id: str | None = None
    cost_lambda: float | None = None  # the λ the router prompt stated (None: no λ, the router's own default)

    @property
    def calls(self) -> list[CallRecord]:
        """All calls of all turns in order."""
        return [c for t in self.turns for c in t.calls]

    @property
    def model_calls(self) -> list[CallRecord]:
        """Calls that reached a target model."""
        return [c for c in self.calls if c.executed and c.model is not None]

    @property
    def target_cost_usd(self) -> float:
        """Total target-model cost (failed and refused calls cost 0)."""
        return sum(c.cost_usd for c in self.model_calls)

    @property
    def router_cost_usd(self) -> float:
        """Total cost of the router's own generations."""
        return sum(t.router_cost_usd for t in self.turns)

    @property
    def answer_model(self) -> str | None:
        """The target model whose answer was returned (select or delegation), None for the router's own text."""
        if self.outcome.finish in ("select_response", "delegated") and self.model_used != self.router_model:
            return self.model_used
        return None

    @property
    def model_used(self) -> str:
        """Who wrote the answer: the selected or delegated target model, else the router itself."""
        if self.outcome.finish == "select_response":
            select = self.turns[-1].calls[0]
            if select.model:  # a one-step select: it called the model itself
                return select.model
            name = select.arguments.get("model_call_name")
            for call in reversed(self.model_calls):
                if call.success and call.tool_name == name:
                    return call.model or self.router_model
        if self.outcome.finish == "delegated":
            for call in self.turns[-1].calls:
                if call.success and call.model:
                    return call.model
        return self.router_model

    def to_reward_fields(self) -> dict[str, Any]:
        """The flat `xrouter_*` keys of the trajectory/reward contract."""
        return {
            "xrouter_calls": [c.to_reward_call() for c in self.model_calls],
            "xrouter_cost_usd": self.target_cost_usd,
            "xrouter_num_turns": len(self.turns),
            "xrouter_valid": self.outcome.valid,
            "xrouter_finish": self.outcome.finish,
            "xrouter_answer": self.outcome.answer,
            "xrouter_answer_model": self.answer_model,
            "xrouter_mode": self.mode,
        }

    def to_metadata(self) -> dict[str, Any]:
        """The `router_metadata` object of the API response."""
        calls = self.calls
        model_calls = [c for c in calls if c.executed and c.model is not None]  # once, not per field
        target_cost = sum(c.cost_usd for c in model_calls)
        router_cost = self.router_cost_usd
        return {
            "model_used": self.model_used,
            "total_cost": target_cost + router_cost,
            "router_cost": router_cost,
            "target_models_cost": target_cost,
            "total_time": self.total_time_s,
            "routing_strategy": self.strategy,
            "valid": self.outcome.valid,
            "finish": self.outcome.finish,
            "reason": self.outcome.reason,
            "turns_used": len(self.turns),
            "models_called": sorted({c.model for c in model_calls if c.model}),
            "cache_hits": sum(c.cache_hit for c in model_calls),
            "unpriced_calls": sum(not c.priced for c in model_calls),
            "estimated_calls": sum(c.estimated for c in model_calls),
            "cost_replaced_calls": sum(c.cost_replaced for c in model_calls),
            "router_tokens": {
                "input": sum(t.router_input_tokens for t in self.turns),
                "output": sum(t.router_output_tokens for t in self.turns),
                "estimated": any(t.router_estimated for t in self.turns),
            },
            "call_history": [c.to_dict() for c in calls],
            "decisions": [{"turn": t.index, "note": t.note} for t in self.turns if t.note],
            "request_id": self.request_id,
            "cost_lambda": self.cost_lambda,
        }


def strategy_for(outcome: Outcome, had_model_calls: bool, hit_turn_limit: bool) -> str:
    """The routing_strategy label of an outcome (documented in the README, "Serving")."""
    if outcome.finish == "direct_answer":
        return "synthesized_response" if had_model_calls else "direct_response"
    if outcome.finish in _STRATEGY:
        return _STRATEGY[outcome.finish]
    return "max_turns_reached" if hit_turn_limit else "no_answer"
