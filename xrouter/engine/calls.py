"""Executing one router turn's tool calls: checks, budget reservation, parallel target calls.

Every call the router emits ends as a `CallRecord`. A call that breaks a rule is refused without
reaching any model and its record carries the one-line message the router reads next turn
(`[error] ...`); the episode goes on. The refusal kinds are listed in the README ("Defined outcomes").
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xrouter.catalog import ModelSpec, worst_case_cost_usd
from xrouter.engine.answer_stream import AnswerStream, AnswerStreamBroken
from xrouter.engine.prompts import Mode, target_messages
from xrouter.engine.router_turn import RouterToolCall
from xrouter.engine.rules import SELECT_TOOL, executes_calls, select_target
from xrouter.engine.trajectory import CallRecord
from xrouter.io import strict_json_loads
from xrouter.llm.redact import redact
from xrouter.llm.types import CallResult, ModelCaller

logger = logging.getLogger(__name__)
# Conservative characters-per-token ratio for the worst-case input size (real tokenizers give ~4).
_CHARS_PER_TOKEN = 3
_TIMEOUT_CM = getattr(asyncio, "timeout", None)  # Python >= 3.11


async def within(awaitable: Any, timeout_s: float) -> Any:
    """`await awaitable`, raising TimeoutError after `timeout_s`; on 3.11+ without the task `wait_for` adds."""
    if _TIMEOUT_CM is None:
        return await asyncio.wait_for(awaitable, timeout_s)
    async with _TIMEOUT_CM(timeout_s):
        return await awaitable


@dataclass
class CallBudget:
    """What an episode may still spend: calls left and dollars left (None = unlimited)."""

    calls_left: int
    usd_left: float | None


@dataclass(frozen=True)
class CallSettings:
    """Per-episode settings the call checks need."""

    mode: Mode
    turn: int
    max_turns: int
    max_calls_per_turn: int
    timeout_s: float
    temperature: float | None
    max_tokens_cap: int | None
    request_id: str | None
    query_id: str | None = None
    # With a budget: what the router turn reading this turn's results may cost at most (reserved while the
    # calls are planned), and what each answer token costs the router to read (added to a call's worst case).
    router_reserve_usd: float = 0.0
    router_usd_per_answer_token: float = 0.0
    # Where the episode's answer is streamed to, when the caller can stream (simple mode only: the delegated
    # call's answer is the user's answer, so it can go out while it arrives).
    answer_stream: AnswerStream | None = None


def _refuse(record: CallRecord, kind: str, message: str) -> CallRecord:
    record.error_kind = kind
    record.error = message
    record.output = f"[error] {record.tool_name} was not run ({kind}): {message}"
    return record


def _parse_arguments(raw: str) -> dict[str, Any]:
    """Decode and type-check `call_<model>` arguments; raises ValueError naming the bad field."""
    try:
        args = strict_json_loads(raw, max_depth=32) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"arguments are not valid JSON ({exc.msg} at position {exc.pos})") from None
    except ValueError as exc:  # NaN, Infinity, absurd nesting
        raise ValueError(f"arguments are not valid JSON ({exc})") from None
    if not isinstance(args, dict):
        raise ValueError("arguments must be a JSON object")
    return args


def _check_call_arguments(args: Mapping[str, Any], spec: ModelSpec) -> None:
    prompt = args.get("optimized_system_prompt")
    if not isinstance(prompt, str):
        raise ValueError("optimized_system_prompt is required and must be a string")
    temperature = args.get("temperature")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)):
        raise ValueError("temperature must be a number between 0 and 2")
    if temperature is not None and not 0.0 <= float(temperature) <= 2.0:
        raise ValueError("temperature must be between 0 and 2")
    max_tokens = args.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValueError(f"max_tokens must be a positive integer (at most {spec.max_output_tokens})")


def _select(record: CallRecord, raw: str, calls_in_turn: int, history: Sequence[CallRecord]) -> CallRecord:
    if calls_in_turn > 1:
        return _refuse(record, "select_not_alone", "select_response must be the only tool call of its turn")
    try:
        name = _parse_arguments(raw).get("model_call_name")
    except ValueError as exc:
        return _refuse(record, "bad_arguments", str(exc))
    record.arguments = {"model_call_name": name}
    target = select_target(str(name), [c.view() for c in history]) if isinstance(name, str) else None
    if target is None:
        done = sorted({c.tool_name for c in history if c.success and c.model})
        listed = ", ".join(done) or "none yet"
        return _refuse(
            record, "select_unknown_call", f"no successful earlier call named {name!r}; successful: {listed}"
        )
    record.executed = record.success = True
    record.output = target.output
    return record


def _limit_refusal(settings: CallSettings, model_calls_planned: int, budget: CallBudget) -> tuple[str, str] | None:
    """(kind, reason) when a well-formed model call may not run because of a turn or call limit."""
    if not executes_calls(settings.mode, settings.turn, settings.max_turns):
        return "last_turn", "model calls are not run on the last allowed turn; answer instead"
    if settings.mode == "simple" and model_calls_planned >= 1:
        return "simple_one_call", "simple mode delegates to exactly one model per turn"
    if model_calls_planned >= settings.max_calls_per_turn:
        return "turn_call_limit", f"at most {settings.max_calls_per_turn} model calls per turn"
    if budget.calls_left <= 0:
        return "total_call_limit", "no model calls are left for this request"
    return None


def _worst_case(
    spec: ModelSpec, messages: list[dict[str, Any]], max_tokens: int, usd_left: float, settings: CallSettings
) -> float | str:
    """The call's worst-case cost (with the router reading its answer) when it fits in `usd_left`, else why not."""
    chars = sum(len(m["content"]) for m in messages)
    worst = worst_case_cost_usd(spec, chars // _CHARS_PER_TOKEN + 16, max_tokens)
    if worst is None:
        return f"{spec.id} has no known price, so the budget cannot be checked"
    reading = max_tokens * settings.router_usd_per_answer_token
    if worst + reading > usd_left:
        router = ""
        if settings.router_reserve_usd or reading:
            router = (
                f" plus ${reading:.6f} for the router to read it, after ${settings.router_reserve_usd:.6f} "
                "kept for the router's next turn"
            )
        return (
            f"worst-case cost ${worst:.6f} ({max_tokens} output tokens){router} exceeds the remaining budget "
            f"${max(usd_left, 0.0):.6f}; pick a cheaper model or a smaller max_tokens"
        )
    return worst + reading


def plan_call(
    call: RouterToolCall,
    tools: Mapping[str, ModelSpec],
    settings: CallSettings,
    state: tuple[int, int, CallBudget, Sequence[CallRecord]],
    user_messages: Sequence[dict[str, Any]],
) -> tuple[CallRecord, list[dict[str, Any]] | None, float]:
    """Check one call: its record, the target messages when it may run (else None) and the USD reserved.

    `state` is (calls in this turn, model calls already accepted this turn, the episode's budget,
    earlier calls of the episode). An accepted call takes one call and its worst-case cost from the budget.
    """
    calls_in_turn, model_calls_planned, budget, history = state
    record = CallRecord(call_id=call.id, tool_name=call.name, turn=settings.turn, arguments={"raw": call.arguments})
    if call.name == SELECT_TOOL and settings.mode == "agent":
        return _select(record, call.arguments, calls_in_turn, history), None, 0.0
    spec = tools.get(call.name)
    if spec is None:
        offered = ", ".join(sorted(tools)) + ("" if settings.mode == "simple" else f", {SELECT_TOOL}")
        return (
            _refuse(record, "unavailable_tool", f"tool {call.name!r} is not available; offered: {offered}"),
            None,
            0.0,
        )
    record.model = spec.id
    try:
        args = _parse_arguments(call.arguments)
        _check_call_arguments(args, spec)
    except ValueError as exc:
        return _refuse(record, "bad_arguments", str(exc)), None, 0.0
    record.arguments = args
    record.prompt = args["optimized_system_prompt"]
    refusal = _limit_refusal(settings, model_calls_planned, budget)
    if refusal is not None:
        return _refuse(record, *refusal), None, 0.0
    record.max_tokens = spec.budget_tokens(args.get("max_tokens"))
    if settings.max_tokens_cap is not None:
        record.max_tokens = min(record.max_tokens, settings.max_tokens_cap)
    temperature = args.get("temperature", settings.temperature)
    record.temperature = None if temperature is None else float(temperature)
    messages = target_messages(record.prompt, user_messages)
    reserved = 0.0
    if budget.usd_left is not None:
        worst = _worst_case(spec, messages, record.max_tokens, budget.usd_left, settings)
        if isinstance(worst, str):
            return _refuse(record, "budget", worst), None, 0.0
        budget.usd_left -= worst  # reserved until the real cost is known
        reserved = worst
    budget.calls_left -= 1
    return record, messages, reserved


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
    """Whether this turn's one call is the answer and goes out streamed (simple mode, a caller that streams)."""
    wanted = s.answer_stream is not None and s.mode == "simple" and len(planned) == 1
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
