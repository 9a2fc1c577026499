"""verl tools of the router: `call_<model>` (CallModelTool) and `select_response` (SelectResponseTool).

`xrouter tools --format verl` writes the tool YAML that points at these classes; each call tool owns
one catalog model and a client for the configured backend (live, cache or replay; `backend.py`).

Inside the `xrouter_agent` loop a whole turn of calls is checked and run by the serving engine's own
code (`xrouter.engine.calls.run_turn_calls`), with `ToolCaller` routing each accepted call to
the tool of its model, so training and serving share every rule. `execute` (verl's per-call tool API)
runs one call through the same planner, records it in the trajectory's `EpisodeState` and in
`agent_data.extra_fields["xrouter_calls"]`, and returns the answer (or the one-line `[error] ...`
text the engine would show) as the tool response. Both need the episode state that `xrouter_agent`
attaches to verl's AgentData; without it they answer with an error text instead of calling a model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from uuid import uuid4

from verl.tools.base_tool import BaseTool
from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse

from xrouter.engine.calls import CallBudget, CallSettings, plan_call, run_planned
from xrouter.engine.policy import RouterToolCall
from xrouter.engine.rules import select_target
from xrouter.llm.types import CallResult
from xrouter.verl_plugin.backend import CLIENTS, ToolBackendConfig, load_tool_catalog
from xrouter.verl_plugin.episode import call_fields, episode_of

logger = logging.getLogger(__name__)

_NO_EPISODE = "[error] {name} can only run inside the xrouter_agent loop (set agent_name=xrouter_agent)."


def _metrics(record: Any) -> dict[str, Any]:
    return {"ok": bool(record.success), "output": record.output, "record": record}


class _XRouterTool(BaseTool):
    """Common constructor (validated config, no schema dump on stdout) and a stateless lifecycle."""

    def __init__(self, config: dict, tool_schema: OpenAIFunctionToolSchema | None):
        # BaseTool.__init__ prints the whole schema JSON for every tool in every worker; set its three
        # attributes ourselves so training logs stay readable.
        self.config = dict(config or {})
        self.tool_schema = tool_schema or self.get_openai_tool_schema()
        if self.tool_schema is None:
            raise ValueError(f"{type(self).__name__} needs a tool_schema in the tool YAML")
        self.name = self.tool_schema.function.name

    async def create(self, instance_id: str | None = None, **kwargs: Any) -> tuple[str, ToolResponse]:
        """Per-call instance id (state lives in the episode, not in the instance)."""
        return instance_id or uuid4().hex, ToolResponse()

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        """Nothing to free: the episode state belongs to the trajectory."""


class CallModelTool(_XRouterTool):
    """`call_<model>`: ask one catalog model to answer the user's conversation."""

    def __init__(self, config: dict, tool_schema: OpenAIFunctionToolSchema | None):
        super().__init__(config, tool_schema)
        self.settings = ToolBackendConfig.from_tool_config(self.config, self.name)
        self.catalog = load_tool_catalog(self.settings)
        self.spec = self.catalog.resolve(self.settings.model_id or self.name)
        # A model without a price would look free to the policy: refuse to start training instead.
        self.catalog.require_prices([self.spec.id])

    async def call_model(self, messages: list[dict[str, Any]], **kwargs: Any) -> CallResult:
        """Send target `messages` to this tool's model through the shared client (never raises)."""
        client = CLIENTS.get(self.settings, self.catalog)
        kwargs.setdefault("timeout_s", self.settings.timeout_s)
        return await client.call(self.spec.id, messages, **kwargs)

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[ToolResponse, float, dict[str, Any]]:
        """Check and run one call like the engine; returns (answer or error text, 0.0, {"ok", "output", "record"})."""
        agent_data = kwargs.get("agent_data")
        state = episode_of(agent_data)
        if state is None:
            return ToolResponse(text=_NO_EPISODE.format(name=self.name)), 0.0, {"ok": False, "output": ""}
        turn = max(len(state.turns), 1)
        settings = CallSettings(
            mode=state.mode,
            turn=turn,
            max_turns=max(state.max_turns, turn + (state.mode == "agent")),
            max_calls_per_turn=1,
            timeout_s=self.settings.timeout_s,
            temperature=None,
            max_tokens_cap=None,
            request_id=getattr(agent_data, "request_id", None),
            query_id=state.query_id,
        )
        call = RouterToolCall(id=instance_id, name=self.name, arguments=json.dumps(parameters or {}))
        budget = CallBudget(calls_left=1, usd_left=None)
        record, messages, _ = plan_call(call, {self.name: self.spec}, settings, (1, 0, budget, []), state.user_messages)
        if messages is not None:
            caller = ToolCaller({self.spec.id: self}, state.query_id)
            await run_planned(caller, [(record, messages)], settings)
        state.history.append(record)
        extra = getattr(agent_data, "extra_fields", None)
        if isinstance(extra, dict) and record.executed:
            extra.setdefault("xrouter_calls", []).append(call_fields(record))
        return ToolResponse(text=record.output), 0.0, _metrics(record)


class SelectResponseTool(_XRouterTool):
    """`select_response`: return an earlier successful call's answer to the user, word for word."""

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[ToolResponse, float, dict[str, Any]]:
        """Look the named call up in this trajectory (the engine's `select_target`); ok=False if it never succeeded."""
        state = episode_of(kwargs.get("agent_data"))
        if state is None:
            return ToolResponse(text=_NO_EPISODE.format(name=self.name)), 0.0, {"ok": False, "output": ""}
        name = parameters.get("model_call_name") if isinstance(parameters, Mapping) else None
        chosen = select_target(name, [c.view() for c in state.history]) if isinstance(name, str) else None
        if chosen is None:
            text = f"[error] {self.name} was not run: no successful earlier call named {name!r}"
            return ToolResponse(text=text), 0.0, {"ok": False, "output": ""}
        return ToolResponse(text=chosen.output), 0.0, {"ok": True, "output": chosen.output}


class ToolCaller:
    """A `ModelCaller` for the engine's call runner that sends each model's calls through its verl tool.

    It binds the trajectory's `query_id`, which the replay provider needs to answer from the recording.
    """

    def __init__(self, tools_by_model: Mapping[str, CallModelTool], query_id: str | None) -> None:
        self.tools_by_model = dict(tools_by_model)
        self.query_id = query_id

    async def call(self, model_id: str, messages: list[dict[str, Any]], **kwargs: Any) -> CallResult:
        """Route one call to the tool that owns `model_id`."""
        kwargs.setdefault("query_id", self.query_id)
        return await self.tools_by_model[model_id].call_model(messages, **kwargs)
