"""Per-request accounting of the router server: one cost-ledger line per request that ran an episode."""

from __future__ import annotations

import logging

from xrouter.catalog import Usage
from xrouter.engine.trajectory import Trajectory, TurnRecord
from xrouter.serve.requests import ChatRequest
from xrouter.serve.state import Components

logger = logging.getLogger(__name__)


def ledger_append(
    components: Components,
    chat: ChatRequest,
    request_id: str,
    turns: list[TurnRecord],
    latency_s: float,
    *,
    trajectory: Trajectory | None = None,
    failure: tuple[int, str] | None = None,
) -> None:
    """One ledger line per request that ran an episode: the router's own cost plus the request's totals and calls.

    A request that failed half-way (502, 504) is recorded too, with what its finished turns spent;
    `failure` is then (HTTP status, message).
    """
    if components.ledger is None:
        return
    from xrouter.llm.types import CallError, CallResult

    router_cost = sum(t.router_cost_usd for t in turns)
    calls = [c for t in turns for c in t.calls if c.executed and c.model]
    target_cost = sum(c.cost_usd for c in calls)
    error = None
    if failure is not None:
        status, message = failure
        error = CallError("timeout" if status == 504 else "server", message, status)
    result = CallResult(
        model_id=f"router:{components.engine.policy.name}",
        text="",
        success=failure is None,
        usage=Usage(sum(t.router_input_tokens for t in turns), sum(t.router_output_tokens for t in turns)),
        cost_usd=router_cost,
        spent_usd=router_cost,
        latency_s=latency_s,
        provider="router",
        estimated=any(t.router_estimated for t in turns),  # some router turn came without usage
        error=error,
        request_id=request_id,
    )
    try:
        components.ledger.append(  # type: ignore[attr-defined]
            result,
            kind="request",
            user=chat.user,
            strategy=trajectory.strategy if trajectory is not None else "error",
            valid=trajectory.outcome.valid if trajectory is not None else False,
            target_cost_usd=target_cost,
            total_cost_usd=target_cost + router_cost,
            calls=[c.to_reward_call() for c in calls],
            metadata=chat.metadata or None,
            cost_lambda=chat.cost_lambda if chat.cost_lambda is not None else components.engine.config.cost_lambda,
        )
    except OSError as exc:  # accounting trouble must not fail the answer; it is logged loudly
        logger.error("ledger append failed: %s", exc)
