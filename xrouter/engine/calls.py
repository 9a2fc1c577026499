"""Executing one router turn's tool calls: planned in order (`xrouter.engine.call_plan`), run in parallel.

Every call the router emits ends as a `CallRecord`: refused by the plan, or run against its model here,
with failures of any kind turned into failed records the router reads next turn. Shared by the serving
engine and the verl agent loop, so a turn's calls are judged the same way in training and serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from xrouter.catalog import ModelSpec
from xrouter.engine.answer_stream import AnswerStreamBroken
from xrouter.engine.call_plan import CallBudget, CallSettings, plan_call
from xrouter.engine.router_turn import RouterToolCall
from xrouter.engine.rules import SELECT_TOOL
from xrouter.engine.trajectory import CallRecord
from xrouter.llm.redact import redact
from xrouter.llm.types import CallResult, ModelCaller

__all__ = ["CallBudget", "CallSettings", "fill_record", "plan_call", "run_planned", "run_turn_calls", "within"]
_TIMEOUT_CM = getattr(asyncio, "timeout", None)  # Python >= 3.11
logger = logging.getLogger(__name__)


async def within(awaitable: Any, timeout_s: float) -> Any:
    """`await awaitable`, raising TimeoutError after `timeout_s`; on 3.11+ without the task `wait_for` adds."""
    if _TIMEOUT_CM is None:
        return await asyncio.wait_for(awaitable, timeout_s)
    async with _TIMEOUT_CM(timeout_s):
        return await awaitable


async def _guarded_call(
    caller: ModelCaller, record: CallRecord, messages: list[dict[str, Any]], s: CallSettings, stream: bool = False
):
    """One target call; unexpected exceptions and overruns become failed results, never a crash."""
    assert record.model is not None
    # query_id only goes to callers that replay recorded answers; it is left out otherwise so
    # that any ModelCaller without the parameter still works
    extra: dict[str, Any] = {"query_id": s.query_id} if s.query_id is not None else {}
    if stream and s.answer_stream is not None:
        extra["on_delta"] = s.answer_stream.send
    try:
        return await within(
            caller.call(
                record.model,
                messages,
                temperature=record.temperature,
                max_tokens=record.max_tokens,
                timeout_s=s.timeout_s,
                request_id=s.request_id,
                **extra,
            ),
            s.timeout_s * 1.25 + 0.5,  # the caller should stop first; this catches one that does not
        )
    except asyncio.TimeoutError:
        return f"timeout: no answer within {s.timeout_s:g}s"
    except Exception as exc:  # a caller bug must not take the episode down; the router sees the reason
        logger.exception("target call to %s raised", record.model)
        return f"unknown: {exc.__class__.__name__}: {exc}"


def fill_record(record: CallRecord, result: CallResult | str) -> None:
    """Copy a call result (or a failure reason) into its record."""
    record.executed = True
    if isinstance(result, str):
        kind, _, message = result.partition(": ")
        record.error_kind, record.error = kind, redact(message)
        record.output = f"[error] call to {record.model} failed ({kind}): {record.error}"
        return
    record.success = result.success
    record.output = redact(result.router_view(), patterns=not result.success)  # answers: known keys only
    record.latency_s = result.latency_s
    record.cache_hit = result.cache_hit
    record.input_tokens = result.usage.input_tokens
    record.output_tokens = result.usage.output_tokens
    record.cached_input_tokens = result.usage.cached_input_tokens
    record.spent_usd = result.spent_usd
    if result.error is not None:
        record.error_kind, record.error = result.error.kind, redact(result.error.message)
    if result.success:  # failed calls cost 0 (contract); an unknown price is flagged, not hidden
        record.priced = result.cost_usd is not None
        record.cost_usd = result.cost_usd or 0.0
        record.estimated, record.cost_replaced = result.estimated, result.cost_replaced


def _streams(caller: ModelCaller, planned: list[tuple[CallRecord, list[dict[str, Any]]]], s: CallSettings) -> bool:
    """Whether this turn's one call is the answer and goes out streamed (simple mode or a one-step select)."""
    answers_user = s.mode == "simple" or (len(planned) == 1 and planned[0][0].tool_name == SELECT_TOOL)
    wanted = s.answer_stream is not None and answers_user and len(planned) == 1
    return wanted and bool(getattr(caller, "supports_streaming", False))


async def run_planned(caller: ModelCaller, planned: list[tuple[CallRecord, list[dict[str, Any]]]], s: CallSettings):
    """Run the accepted calls of a turn in parallel and fill their records.

    Raises `AnswerStreamBroken` when a streamed answer failed after part of it went out.
    """
    stream = _streams(caller, planned, s)
    if len(planned) == 1:  # the common case: no gather, no extra task
        results = [await _guarded_call(caller, planned[0][0], planned[0][1], s, stream)]
    else:
        results = await asyncio.gather(*(_guarded_call(caller, rec, msgs, s, stream) for rec, msgs in planned))
    for (record, _), result in zip(planned, results, strict=True):
        fill_record(record, result)
    if stream and s.answer_stream is not None and s.answer_stream.started and not planned[0][0].success:
        raise AnswerStreamBroken.of_call(planned[0][0])


async def run_turn_calls(
    caller: ModelCaller,
    tools_by_name: Mapping[str, ModelSpec],
    tool_calls: Sequence[RouterToolCall],
    settings: CallSettings,
    budget: CallBudget,
    history: Sequence[CallRecord],
    calls_out: list[CallRecord],
    user_messages: Sequence[dict[str, Any]],
) -> None:
    """Plan every call of a turn in order (refusals, budget reservations), run the accepted ones in parallel.

    Records are appended to `calls_out` in the router's order. Shared by the serving engine and the
    verl agent loop, so a turn's calls are judged the same way in training and serving.
    """
    planned: list[tuple[CallRecord, list[dict[str, Any]]]] = []
    reservations: list[float] = []
    router_reserve = settings.router_reserve_usd if budget.usd_left is not None else 0.0
    if router_reserve:  # the router's next turn is paid before any call may use the rest
        budget.usd_left -= router_reserve  # type: ignore[operator]
    for call in tool_calls:
        state = (len(tool_calls), len(planned), budget, history)
        record, target_msgs, reserved = plan_call(call, tools_by_name, settings, state, user_messages)
        calls_out.append(record)
        if target_msgs is not None:
            planned.append((record, target_msgs))
            reservations.append(reserved)
    if planned:
        await run_planned(caller, planned, settings)
    if budget.usd_left is not None:  # release the worst-case reservations, charge what was spent
        budget.usd_left += router_reserve  # the router's real turn is charged by the episode when it happens
        for (record, _), reserved in zip(planned, reservations, strict=True):
            budget.usd_left += reserved - record.cost_usd
