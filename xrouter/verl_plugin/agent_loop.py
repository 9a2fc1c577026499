"""`xrouter_agent`: verl's ToolAgentLoop with the serving engine's episode rules.

verl's stock `tool_agent` differs from the serving engine in ways that change the reward:
it never ends an episode on `select_response`, it stops at the turn limit before parsing the last
turn's calls, it silently drops calls beyond `max_parallel_calls`, and it has no call budget, no
per-turn call limit and no refusal messages. This subclass keeps verl's token bookkeeping (prompt
building, response masks, tool-message merging) and replaces only the decisions:

* each turn's calls are read like serving reads raw hermes blocks (a block that is not valid JSON is a call
  the engine refuses, where verl's parser would drop it), then checked and run by the engine's own
  `xrouter.engine.calls.run_turn_calls`, each accepted call going through the verl tool of its model
  (`ToolCaller`), so unknown tools, calls outside the row's pool, bad arguments, calls on the last allowed
  turn and over-limit calls get exactly the engine's `[error] ...` responses;
* the episode ends when the engine's `ends_episode` says so (a lone successful `select_response`,
  a delegation in simple mode), on a text turn, or after `xrouter.max_turns` generations;
* at the end the engine's `final_outcome` decides validity and the answer, and the trajectory's
  `xrouter_*` fields (trajectory contract) are written into `extra_fields`, from where the reward
  manager hands them to `compute_score`.

Settings come from the `xrouter:` block of the trainer config (`max_turns`, `max_calls_per_turn`,
`max_total_calls`, `max_cost_usd`, `target_timeout_s`, `target_temperature`), the mode and the model pool
from each row's `extra_info` (`mode`, `tool_selection`). What still differs from serving (verl's
trajectory token budget, truncated tool answers, a free policy) is listed in the README.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, register
from verl.experimental.agent_loop.tool_agent_loop import AgentData, AgentState, ToolAgentLoop
from verl.experimental.agent_loop.tool_parser import FunctionCall
from verl.tools.schemas import ToolResponse
from verl.utils.profiler import simple_timer

from xrouter.catalog import SELECT_TOOL_NAME, tool_name_for
from xrouter.engine.calls import CallBudget, CallSettings, run_turn_calls
from xrouter.engine.episode import EpisodeConfig
from xrouter.engine.policy import RouterToolCall
from xrouter.engine.router_response import hermes_calls  # serving's reading of raw hermes blocks
from xrouter.engine.rules import ends_episode
from xrouter.engine.trajectory import CallRecord, TurnRecord
from xrouter.errors import DataError
from xrouter.llm.local_lm import strip_special_tokens
from xrouter.verl_plugin.episode import attach, episode_from_row, trajectory_fields
from xrouter.verl_plugin.tools import CallModelTool, ToolCaller

# verl must hand every parsed call to the engine, which refuses extra calls with a message instead
# of dropping them silently; this only bounds the tokens of one turn.
_MAX_PARSED_CALLS = 64
_OUTPUTS_ATTR = "xrouter_turn_outputs"


def episode_config(trainer_config: Any) -> EpisodeConfig:
    """The engine's EpisodeConfig from the trainer config's `xrouter:` block (unknown keys ignored)."""
    block = trainer_config.get("xrouter", None) or {}
    # the mode comes from each row; λ is the reward's (xrouter.cost_lambda) and the row's own prompt states it
    names = {f.name for f in dataclasses.fields(EpisodeConfig)} - {"mode", "cost_lambda"}
    values = {k: block[k] for k in names if block.get(k, None) is not None}
    if "max_turns" not in values:
        turns = trainer_config.actor_rollout_ref.rollout.multi_turn.get("max_assistant_turns", None)
        values["max_turns"] = int(turns) if turns else 3
    return EpisodeConfig(**values)


@register("xrouter_agent")
class XRouterAgentLoop(ToolAgentLoop):
    """One router trajectory per instance (verl builds a new loop object for every sample)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.episode_config = episode_config(self.config)
        # The engine decides when the episode ends; verl's own limits would cut the last turn unparsed.
        self.max_assistant_turns = None
        self.max_user_turns = None
        self.max_parallel_calls = max(self.max_parallel_calls or 1, _MAX_PARSED_CALLS)
        self.call_tools = {name: t for name, t in self.tools.items() if isinstance(t, CallModelTool)}

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        """Run the episode; `extra_fields` gains the trajectory's `xrouter_*` keys."""
        started = time.perf_counter()
        extra_info = dict(kwargs.get("extra_info") or {})
        self.episode = episode_from_row(extra_info, self.episode_config.max_turns)
        self.pool = self._pool(extra_info)
        cfg = self.episode_config
        self.budget = CallBudget(calls_left=cfg.max_total_calls, usd_left=cfg.max_cost_usd)
        # verl's own per-sample filter then offers exactly the pool (plus select_response in agent mode).
        offered = list(self.pool) + ([SELECT_TOOL_NAME] if self.episode.mode == "agent" else [])
        kwargs["extra_info"] = {**extra_info, "tool_selection": offered}
        output = await super().run(sampling_params, **kwargs)
        output.extra_fields.update(trajectory_fields(self.episode, time.perf_counter() - started))
        return output

    def _pool(self, extra_info: dict[str, Any]) -> dict[str, CallModelTool]:
        """Call tools of this row's model pool; a pool tool missing from the tool config is a data error."""
        names = extra_info.get("tool_selection")
        if names is None and extra_info.get("model_pool") is not None:
            names = [tool_name_for(m) for m in extra_info["model_pool"]]
        names = [str(n) for n in (names if names is not None else self.call_tools) if n != SELECT_TOOL_NAME]
        missing = [n for n in names if n not in self.call_tools]
        if self.episode.mode == "agent" and SELECT_TOOL_NAME not in self.tools:
            missing.append(SELECT_TOOL_NAME)
        if missing:
            raise DataError(
                f"training row {self.episode.query_id}: tool(s) {', '.join(missing)} are not in the tool config "
                "(multi_turn.tool_config_path); regenerate it with `xrouter tools --format verl` for the full pool"
            )
        return {n: self.call_tools[n] for n in names}

    async def _handle_pending_state(self, agent_data: AgentData, sampling_params: dict[str, Any]) -> AgentState:
        attach(agent_data, self.episode)
        return await super()._handle_pending_state(agent_data, sampling_params)

    async def _handle_generating_state(
        self, agent_data: AgentData, sampling_params: dict[str, Any], ignore_termination: bool = False
    ) -> AgentState:
        parsed_before = len(agent_data.messages)
        state = await super()._handle_generating_state(agent_data, sampling_params, ignore_termination)
        turn = TurnRecord(index=agent_data.assistant_turns, text="")
        if len(agent_data.messages) > parsed_before:
            state = await self._keep_malformed_calls(agent_data, state)
            turn.text = self._plain(agent_data.messages[-1].get("content") or "")
        else:  # verl stopped at the response-length limit before parsing: its calls never run
            tools = [t.tool_schema for t in self.tools.values()]
            content, calls = await self.tool_parser.extract_tool_calls(agent_data.response_ids, tools)
            turn.text = self._plain(content)
            turn.calls = [
                CallRecord(call_id=f"cut_{i}", tool_name=c.name, turn=turn.index) for i, c in enumerate(calls)
            ]
        self.episode.turns.append(turn)
        return state

    async def _keep_malformed_calls(self, agent_data: AgentData, state: AgentState) -> AgentState:
        """Read the turn's hermes blocks as serving does, so a block that is not valid JSON is a refused call.

        verl's hermes parser drops such a block silently (a turn of only broken blocks would even end the
        episode as a "direct answer"); the serving engine keeps it as a call that `run_turn_calls` refuses
        (`unavailable_tool` / `bad_arguments`) and lets the router try again.
        """
        if self.tool_parser_name != "hermes":
            return state
        text = await self.loop.run_in_executor(None, self.tokenizer.decode, agent_data.response_ids)
        content, calls = hermes_calls(text)
        if len(calls) <= len(agent_data.tool_calls):
            return state
        agent_data.tool_calls = [FunctionCall(name=c.name, arguments=c.arguments) for c in calls]
        agent_data.messages[-1] = self._build_assistant_message(content, agent_data)
        return AgentState.PROCESSING_TOOLS

    async def _handle_processing_tools_state(self, agent_data: AgentData) -> AgentState:
        episode, cfg = self.episode, self.episode_config
        turn = episode.turns[-1]
        calls = [
            RouterToolCall(id=c.tool_call_id or f"call_{turn.index}_{i}", name=c.name, arguments=c.arguments)
            for i, c in enumerate(agent_data.tool_calls)
        ]
        settings = CallSettings(
            mode=episode.mode,
            turn=turn.index,
            max_turns=cfg.max_turns,
            max_calls_per_turn=cfg.max_calls_per_turn,
            timeout_s=cfg.target_timeout_s,
            temperature=cfg.target_temperature,
            max_tokens_cap=None,
            request_id=agent_data.request_id,
            query_id=episode.query_id,
        )
        specs = {name: tool.spec for name, tool in self.pool.items()}
        caller = ToolCaller({tool.spec.id: tool for tool in self.pool.values()}, episode.query_id)
        with simple_timer("tool_calls", agent_data.metrics):
            await run_turn_calls(
                caller, specs, calls, settings, self.budget, episode.history, turn.calls, episode.user_messages
            )
        episode.history.extend(turn.calls)
        if ends_episode(episode.mode, [c.view() for c in turn.calls]) or turn.index >= cfg.max_turns:
            return AgentState.TERMINATED  # nobody reads these tool messages: keep them out of the tokens
        setattr(
            agent_data, _OUTPUTS_ATTR, {id(c): r.output for c, r in zip(agent_data.tool_calls, turn.calls, strict=True)}
        )
        return await super()._handle_processing_tools_state(agent_data)

    async def _call_tool(self, tool_call: Any, tools_kwargs: dict[str, Any], agent_data: AgentData) -> tuple:
        """verl's merge step asks for each call's response: hand back what the engine already produced."""
        outputs = getattr(agent_data, _OUTPUTS_ATTR, None) or {}
        if id(tool_call) in outputs:
            return ToolResponse(text=self._truncate(outputs[id(tool_call)])), 0.0, {}
        return await super()._call_tool(tool_call, tools_kwargs, agent_data)

    def _truncate(self, text: str) -> str:
        """Cut a tool response to `multi_turn.max_tool_response_length` characters, like verl does."""
        limit = self.max_tool_response_length
        if len(text) <= limit:
            return text
        if self.tool_response_truncate_side == "left":
            return "(truncated)..." + text[-limit:]
        if self.tool_response_truncate_side == "right":
            return text[:limit] + "...(truncated)"
        half = limit // 2
        return text[:half] + "...(truncated)..." + text[-half:]

    def _plain(self, text: str) -> str:
        """Turn text without the tokenizer's special tokens (verl's parser decodes with them).

        Think markers stay: the engine's `visible_text` removes the thinking block itself.
        """
        return strip_special_tokens(text, self.tokenizer)
