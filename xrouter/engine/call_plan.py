"""Planning one router turn's tool calls: every check a call passes before it may reach a model.

Every call the router emits ends as a `CallRecord`. A call that breaks a rule is refused without
reaching any model and its record carries the one-line message the router reads next turn
(`[error] ...`); the episode goes on. An accepted call takes one call and its worst-case cost from the
episode's budget. The refusal kinds are listed in the docs ("Defined outcomes"); running the accepted
calls is `xrouter.engine.calls`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xrouter.catalog import ModelSpec, worst_case_cost_usd
from xrouter.engine.answer_stream import AnswerStream
from xrouter.engine.prompts import Mode, target_messages
from xrouter.engine.router_turn import RouterToolCall
from xrouter.engine.rules import SELECT_TOOL, executes_calls, select_target
from xrouter.engine.trajectory import CallRecord
from xrouter.io import strict_json_loads

# Conservative characters-per-token ratio for the worst-case input size (real tokenizers give ~4).
_CHARS_PER_TOKEN = 3


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
    # Agent mode: a lone select_response naming a model not called yet runs that model now and returns its
    # answer unchanged (one step, so the answer can stream); off, such a select is refused.
    one_step_select: bool = False


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


def _limit_refusal(
    settings: CallSettings, model_calls_planned: int, budget: CallBudget, answers_user: bool = False
) -> tuple[str, str] | None:
    """(kind, reason) when a well-formed model call may not run because of a turn or call limit.

    `answers_user`: the call's answer goes to the user unread (a one-step select), so the last turn may run it.
    """
    if not answers_user and not executes_calls(settings.mode, settings.turn, settings.max_turns):
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
    calls_in_turn, _, _, history = state
    record = CallRecord(call_id=call.id, tool_name=call.name, turn=settings.turn, arguments={"raw": call.arguments})
    if call.name == SELECT_TOOL and settings.mode == "agent":
        record = _select(record, call.arguments, calls_in_turn, history)
        if record.error_kind == "select_unknown_call" and settings.one_step_select:
            return _one_step_select(record, call.arguments, tools, settings, (state, user_messages))
        return record, None, 0.0
    spec = tools.get(call.name)
    if spec is None:
        offered = ", ".join(sorted(tools)) + ("" if settings.mode == "simple" else f", {SELECT_TOOL}")
        return (
            _refuse(record, "unavailable_tool", f"tool {call.name!r} is not available; offered: {offered}"),
            None,
            0.0,
        )
    try:
        args = _parse_arguments(call.arguments)
    except ValueError as exc:
        record.model = spec.id
        return _refuse(record, "bad_arguments", str(exc)), None, 0.0
    return _plan_model_call(record, spec, args, settings, state, user_messages)


def _one_step_select(
    record: CallRecord,
    raw: str,
    tools: Mapping[str, ModelSpec],
    settings: CallSettings,
    context: tuple[tuple[int, int, CallBudget, Sequence[CallRecord]], Sequence[dict[str, Any]]],
) -> tuple[CallRecord, list[dict[str, Any]] | None, float]:
    """A select naming a model not called yet: that model runs now and its answer is the select's output.

    The select may carry the call's own arguments (`optimized_system_prompt`, `temperature`, `max_tokens`).
    """
    name = record.arguments.get("model_call_name")
    spec = tools.get(name) if isinstance(name, str) else None
    if spec is None:
        offered = ", ".join(sorted(tools))
        return _refuse(record, "select_unknown_call", f"{name!r} is no model tool; offered: {offered}"), None, 0.0
    args = {"optimized_system_prompt": "", **_parse_arguments(raw)}  # parsed once already by `_select`
    fresh = CallRecord(call_id=record.call_id, tool_name=SELECT_TOOL, turn=record.turn)
    return _plan_model_call(fresh, spec, args, settings, *context, answers_user=True)


def _plan_model_call(
    record: CallRecord,
    spec: ModelSpec,
    args: dict[str, Any],
    settings: CallSettings,
    state: tuple[int, int, CallBudget, Sequence[CallRecord]],
    user_messages: Sequence[dict[str, Any]],
    answers_user: bool = False,
) -> tuple[CallRecord, list[dict[str, Any]] | None, float]:
    """Check a model call's arguments, limits and budget; see `plan_call`."""
    _, model_calls_planned, budget, _ = state
    record.model = spec.id
    try:
        _check_call_arguments(args, spec)
    except ValueError as exc:
        return _refuse(record, "bad_arguments", str(exc)), None, 0.0
    record.arguments = args
    record.prompt = args["optimized_system_prompt"]
    refusal = _limit_refusal(settings, model_calls_planned, budget, answers_user)
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
