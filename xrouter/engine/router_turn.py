"""Value types of a router turn: what a policy returns, how it is priced, what a factory is given.

They live apart from the policy registry (`xrouter.engine.policy`) so that policy implementations
(`xrouter.engine.chat_policy`, `xrouter.eval.serve_policy`) import them without importing the registry
that builds them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from xrouter.catalog import Usage
from xrouter.llm.limits import DEFAULT_MAX_ANSWER_BYTES


class RouterPolicyError(Exception):
    """The router model could not produce a turn (endpoint down, bad response); serving answers 502."""


class RouterTurnBroken(RouterPolicyError):
    """A streamed router turn stopped after part of its text was handed on; `turn` is what arrived (estimated)."""

    def __init__(self, message: str, turn: RouterTurn) -> None:
        super().__init__(message)
        self.turn = turn


@dataclass(frozen=True)
class RouterToolCall:
    """One tool call emitted by the router; `arguments` is the raw JSON text, parsed by the engine."""

    id: str
    name: str
    arguments: str = "{}"

    @classmethod
    def of(cls, name: str, call_id: str | None = None, **arguments: Any) -> RouterToolCall:
        """Build a call from keyword arguments (used by scripted and learned policies)."""
        return cls(id=call_id or f"call_{name}", name=name, arguments=json.dumps(arguments))


@dataclass(frozen=True)
class RouterTurn:
    """One router generation: its raw text, its tool calls and what producing it cost."""

    text: str = ""
    tool_calls: tuple[RouterToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    estimated: bool = False  # the router endpoint sent no usage: `usage` is counted from the texts
    note: str = ""  # why a policy made this turn (non-LLM routers); shown in the trace, never to the user

    def assistant_message(self) -> dict[str, Any]:
        """The OpenAI assistant message that records this turn in the router's chat."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return message


@dataclass(frozen=True)
class RouterPrice:
    """The router's own price in USD per 1M input and output tokens."""

    input_usd_per_mtok: float = 0.0
    output_usd_per_mtok: float = 0.0

    def cost(self, usage: Usage) -> float:
        """USD cost of one router generation."""
        return (usage.input_tokens * self.input_usd_per_mtok + usage.output_tokens * self.output_usd_per_mtok) / 1e6


@dataclass(frozen=True)
class PolicySettings:
    """Everything a policy factory may need; a factory reads the fields that apply to it."""

    router_model: str = "router"
    api_base: str | None = None
    api_key: str | None = None
    price: RouterPrice | None = None  # None: the policy's default (litellm: its catalog entry; endpoint: free)
    temperature: float | None = 1.0
    max_tokens: int = 4096
    timeout_s: float = 120.0
    catalog: Any = None
    model_ids: tuple[str, ...] = ()
    max_turns: int | None = None  # the engine's turn limit, for policies that plan several call turns
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    stream_turns: bool = True  # policies that can: stream turns of streamed requests (direct answers go out early)
