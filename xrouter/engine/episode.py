"""The router episode loop, shared by the API server and benchmarks.

    engine = EpisodeEngine(policy, caller, catalog, ["gpt-5-mini", "gpt-4.1-nano"], EpisodeConfig())
    trajectory = await engine.run([{"role": "user", "content": "What is 17 * 23?"}])
    trajectory.answer, trajectory.to_metadata(), trajectory.to_reward_fields()

Each turn the policy sees the router chat (built by `router_messages`) and the tools; tool calls
are checked and run in parallel (`xrouter.engine.calls`), their answers appended as tool messages,
and the loop stops on a text turn, a successful `select_response` (agent) or delegation (simple),
or after `max_turns` generations. `final_outcome` decides validity and the answer, as in training.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from xrouter.catalog import Catalog, ModelSpec, Usage, openai_tools
from xrouter.engine.answer_stream import AnswerStream, AnswerStreamBroken, DirectAnswerSieve
from xrouter.engine.calls import CallBudget, CallSettings, run_turn_calls
from xrouter.engine.policy import RouterPolicy
from xrouter.engine.prompts import DEFAULT_MAX_SYSTEM_PROMPT_LENGTH, Mode, check_cost_lambda, router_messages
from xrouter.engine.router_turn import RouterPolicyError, RouterTurn, RouterTurnBroken
from xrouter.engine.rules import NO_ANSWER_TEXT, ends_episode, final_outcome, visible_text
from xrouter.engine.trajectory import CallRecord, Trajectory, TurnRecord, strategy_for
from xrouter.llm.types import ModelCaller


@dataclass(frozen=True)
class EpisodeConfig:
    """Limits and defaults of every episode; checked once at construction."""

    mode: Mode = "agent"
    max_turns: int = 3
    max_calls_per_turn: int = 4
    max_total_calls: int = 8
    max_cost_usd: float | None = None
    target_timeout_s: float = 120.0
    target_temperature: float | None = None
    max_system_prompt_length: int = DEFAULT_MAX_SYSTEM_PROMPT_LENGTH
    cost_lambda: float | None = None  # λ stated in the router prompt when a request gives none (None: no λ)
    # agent mode: select_response may name a model not called yet, which then answers the user directly
    one_step_select: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("agent", "simple"):
            raise ValueError(f"mode must be 'agent' or 'simple', got {self.mode!r}")
        for name in ("max_turns", "max_calls_per_turn", "max_total_calls"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_cost_usd is not None and self.max_cost_usd < 0:
            raise ValueError(f"max_cost_usd must be >= 0, got {self.max_cost_usd}")
        if self.target_timeout_s <= 0:
            raise ValueError(f"target_timeout_s must be > 0, got {self.target_timeout_s}")
        if self.cost_lambda is not None:
            check_cost_lambda(self.cost_lambda)


@dataclass(frozen=True)
class RequestOptions:
    """Per-request overrides: budget, default target temperature, a cap on target output tokens and the cost weight."""

    max_cost_usd: float | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    request_id: str | None = None
    query_id: str | None = None
    cost_lambda: float | None = None
    answer_stream: AnswerStream | None = None  # receives the answer while it arrives, when it can be streamed


class EpisodeEngine:
    """Runs router episodes for one policy, one caller and one pool of target models."""

    def __init__(
        self,
        policy: RouterPolicy,
        caller: ModelCaller,
        catalog: Catalog,
        model_ids: Sequence[str],
        config: EpisodeConfig | None = None,
    ) -> None:
        if not model_ids:
            raise ValueError("the engine needs at least one target model")
        self.policy = policy
        self.caller = caller
        self.config = config or EpisodeConfig()
        specs = [catalog.resolve(m) for m in model_ids]
        self.models: list[ModelSpec] = list({s.id: s for s in specs}.values())
        self.tools_by_name = {s.tool_name: s for s in self.models}
        simple = self.config.mode == "simple"
        one_step = self.config.one_step_select and not simple
        self.tools = openai_tools(catalog, [s.id for s in self.models], simple=simple, one_step_select=one_step)
        self._tool_chars = len(json.dumps(self.tools))  # the tool schemas are part of every router prompt

    def _router_reserve(self, messages: list[dict[str, Any]], turn: int) -> tuple[float, float]:
        """(worst case of the router turn after `turn`, router cost per answer token) for the budget.

        A policy that costs money exposes `price` (a `RouterPrice`) and `max_tokens`; the worst case is the
        router chat so far (characters / 3, as for target calls) plus its full output budget. Nothing is
        reserved after the last allowed turn, which no router turn follows.
        """
        price = getattr(self.policy, "price", None)
        if price is None or turn >= self.config.max_turns:
            return 0.0, 0.0
        chars = self._tool_chars + sum(len(m.get("content") or "") for m in messages)
        for message in messages:
            chars += sum(len(c["function"]["arguments"]) for c in message.get("tool_calls") or ())
        worst = price.cost(Usage(chars // 3 + 16, int(getattr(self.policy, "max_tokens", 0) or 0)))
        return worst, price.input_usd_per_mtok / 1e6

    async def run(
        self,
        user_messages: Sequence[dict[str, Any]],
        options: RequestOptions | None = None,
        *,
        turns_out: list[TurnRecord] | None = None,
    ) -> Trajectory:
        """Run one episode for a user conversation; `RouterPolicyError` propagates (the server maps it to 502).

        `turns_out`, when given, receives the turns as they happen, so a caller can still account for
        what an episode spent when it fails or is cancelled half-way.
        """
        options = options or RequestOptions()
        cfg = self.config
        started = time.perf_counter()
        cost_lambda = options.cost_lambda if options.cost_lambda is not None else cfg.cost_lambda
        messages: list[dict[str, Any]] = router_messages(
            user_messages, cfg.mode, cfg.max_system_prompt_length, cost_lambda, cfg.one_step_select
        )
        budget_usd = options.max_cost_usd if options.max_cost_usd is not None else cfg.max_cost_usd
        budget = CallBudget(calls_left=cfg.max_total_calls, usd_left=budget_usd)
        temperature = options.temperature if options.temperature is not None else cfg.target_temperature
        turns: list[TurnRecord] = turns_out if turns_out is not None else []
        history: list[CallRecord] = []
        for number in range(1, cfg.max_turns + 1):
            turn, broken = await self._next_turn(messages, options.answer_stream)
            record = _turn_record(number, turn)
            turns.append(record)
            if broken is not None:
                raise broken
            if budget.usd_left is not None:
                budget.usd_left -= turn.cost_usd
            if not turn.tool_calls:
                break
            messages.append(turn.assistant_message())
            reserve, per_answer_token = (
                self._router_reserve(messages, number) if budget.usd_left is not None else (0, 0)
            )
            settings = CallSettings(
                mode=cfg.mode,
                turn=number,
                max_turns=cfg.max_turns,
                max_calls_per_turn=cfg.max_calls_per_turn,
                timeout_s=cfg.target_timeout_s,
                temperature=temperature,
                max_tokens_cap=options.max_tokens,
                request_id=options.request_id,
                query_id=options.query_id,
                router_reserve_usd=reserve,
                router_usd_per_answer_token=per_answer_token,
                answer_stream=options.answer_stream,
                one_step_select=cfg.one_step_select,
            )
            await self._run_turn_calls(turn.tool_calls, settings, budget, history, record, user_messages)
            messages.extend(
                {"role": "tool", "tool_call_id": c.call_id, "name": c.tool_name, "content": c.output}
                for c in record.calls
            )
            history.extend(record.calls)
            if ends_episode(cfg.mode, [c.view() for c in record.calls]):
                break
        return self._finish(turns, started, options.request_id, cost_lambda)

    async def _next_turn(
        self, messages: list[dict[str, Any]], stream: AnswerStream | None
    ) -> tuple[RouterTurn, Exception | None]:
        """The router's next turn, and the error that ends the episode after it is recorded (or None).

        While nothing of the answer went out yet and the policy can stream, the turn is streamed through a
        `DirectAnswerSieve`: a direct answer then reaches the user as the router writes it.
        """
        stream_turn = getattr(self.policy, "stream_turn", None) if getattr(self.policy, "streams", False) else None
        if stream is None or stream.started or stream_turn is None:
            return await self.policy.next_turn(messages, self.tools), None
        sieve = DirectAnswerSieve(stream)
        try:
            turn = await stream_turn(messages, self.tools, sieve.feed)
        except RouterTurnBroken as exc:
            if not sieve.sent:
                return exc.turn, RouterPolicyError(str(exc))
            return exc.turn, AnswerStreamBroken(
                f"the router's answer broke off mid-stream: {exc}", "router_stream_broken"
            )
        if turn.tool_calls and sieve.sent:  # the text already sent is not the answer any more
            message = "the router called tools after its answer had begun to stream; retry without stream"
            return turn, AnswerStreamBroken(message, "router_stream_broken")
        return turn, None

    async def _run_turn_calls(self, tool_calls, settings, budget, history, record, user_messages) -> None:
        """Check and run one turn's calls into `record.calls` (see `xrouter.engine.calls.run_turn_calls`)."""
        await run_turn_calls(
            self.caller, self.tools_by_name, tool_calls, settings, budget, history, record.calls, user_messages
        )

    def _finish(
        self, turns: list[TurnRecord], started: float, request_id: str | None, cost_lambda: float | None = None
    ) -> Trajectory:
        outcome = final_outcome([t.view(visible_text(t.text)) for t in turns], self.config.mode)
        calls = [c for t in turns for c in t.calls if c.executed and c.model]
        answer = outcome.answer
        if not outcome.valid:  # the user still gets the newest successful model answer, if any
            answer = next((c.output for c in reversed(calls) if c.success), NO_ANSWER_TEXT)
        hit_limit = len(turns) == self.config.max_turns and bool(turns[-1].calls)
        return Trajectory(
            mode=self.config.mode,
            router_model=self.policy.name,
            outcome=outcome,
            answer=answer,
            strategy=strategy_for(outcome, bool(calls), hit_limit),
            turns=turns,
            total_time_s=time.perf_counter() - started,
            request_id=request_id,
            cost_lambda=cost_lambda,
        )


def _turn_record(number: int, turn: RouterTurn) -> TurnRecord:
    """The trajectory's record of router turn `number`."""
    return TurnRecord(
        index=number,
        text=turn.text,
        router_input_tokens=turn.usage.input_tokens,
        router_output_tokens=turn.usage.output_tokens,
        router_cost_usd=turn.cost_usd,
        router_latency_s=turn.latency_s,
        note=turn.note,
        router_estimated=turn.estimated,
    )
