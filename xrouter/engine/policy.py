"""Router policies: whatever decides the router's next turn, behind one small protocol.

The episode loop (`xrouter.engine.episode`) only sees `RouterPolicy.next_turn(messages, tools)`,
so an LLM behind an OpenAI-compatible endpoint, a catalog model called through LiteLLM and a
learned (non-LLM) router are interchangeable. A new kind of policy plugs in with
`register_policy("kind", factory)`; `xrouter serve --policy kind:ARG` then builds it through
`build_policy`, e.g. `--policy learned:/path/to/dir`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from xrouter.catalog import Usage
from xrouter.errors import UsageError


class RouterPolicyError(Exception):
    """The router model could not produce a turn (endpoint down, bad response); serving answers 502."""


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


class RouterPolicy(Protocol):
    """Decides the router's next turn from the router chat so far and the offered tools."""

    name: str

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """Return the next turn; raise `RouterPolicyError` when no turn can be produced."""
        ...

    async def aclose(self) -> None:
        """Release connections and other resources."""
        ...


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


PolicyFactory = Callable[[str, PolicySettings], RouterPolicy]
_FACTORIES: dict[str, PolicyFactory] = {}


def register_policy(kind: str, factory: PolicyFactory) -> None:
    """Make `--policy kind[:ARG]` build a policy with `factory(ARG, settings)`."""
    _FACTORIES[kind] = factory


def parse_policy_spec(value: str) -> tuple[str, str]:
    """Split a `--policy` value `kind[:ARG]` into (kind, ARG); the kind must be registered."""
    _register_builtins()
    kind, _, arg = value.partition(":")
    kind = kind.strip()
    if kind not in _FACTORIES:
        known = ", ".join(sorted(_FACTORIES))
        raise UsageError(f"--policy {value!r}: unknown policy kind {kind!r}; known kinds: {known}")
    return kind, arg


def build_policy(value: str, settings: PolicySettings) -> RouterPolicy:
    """Build the router policy named by a `--policy` value."""
    kind, arg = parse_policy_spec(value)
    return _FACTORIES[kind](arg, settings)


# Kinds implemented outside the engine, imported only when used: kind -> "module:factory".
# The factory has the `PolicyFactory` signature (ARG after the colon, PolicySettings) -> RouterPolicy.
EXTERNAL_POLICIES: dict[str, str] = {
    "learned": "xrouter.eval.serve_policy:build_learned_policy",
    "hf": "xrouter.engine.hf_policy:build_hf_policy",
}


def _register_builtins() -> None:
    """Register the built-in kinds lazily (no work at import time)."""
    if "endpoint" in _FACTORIES:
        return
    from xrouter.engine.chat_policy import endpoint_policy, litellm_policy

    _FACTORIES.setdefault("endpoint", endpoint_policy)
    _FACTORIES.setdefault("litellm", litellm_policy)
    for kind, target in EXTERNAL_POLICIES.items():
        _FACTORIES.setdefault(kind, _lazy_factory(kind, target))


def _lazy_factory(kind: str, target: str) -> PolicyFactory:
    def factory(arg: str, settings: PolicySettings) -> RouterPolicy:
        import importlib

        module_name, _, attr = target.partition(":")
        try:
            build = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UsageError(f"--policy {kind}: {target} is not available ({exc})") from None
        return build(arg, settings)

    return factory
