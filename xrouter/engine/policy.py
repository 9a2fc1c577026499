"""Router policies: whatever decides the router's next turn, behind one small protocol.

The episode loop (`xrouter.engine.episode`) only sees `RouterPolicy.next_turn(messages, tools)`,
so an LLM behind an OpenAI-compatible endpoint, a catalog model called through LiteLLM and a
learned (non-LLM) router are interchangeable. A new kind of policy plugs in with
`register_policy("kind", factory)`; `xrouter serve --policy kind:ARG` then builds it through
`build_policy`, e.g. `--policy learned:/path/to/dir`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from xrouter.engine.router_turn import (
    PolicySettings,
    RouterPolicyError,
    RouterPrice,
    RouterToolCall,
    RouterTurn,
)
from xrouter.errors import UsageError

__all__ = [
    "EXTERNAL_POLICIES",
    "PolicyFactory",
    "PolicySettings",
    "RouterPolicy",
    "RouterPolicyError",
    "RouterPrice",
    "RouterToolCall",
    "RouterTurn",
    "build_policy",
    "parse_policy_spec",
    "register_policy",
]


class RouterPolicy(Protocol):
    """Decides the router's next turn from the router chat so far and the offered tools."""

    name: str

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """Return the next turn; raise `RouterPolicyError` when no turn can be produced."""
        ...

    async def aclose(self) -> None:
        """Release connections and other resources."""
        ...


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
    from xrouter.engine.chat_policy import endpoint_policy
    from xrouter.engine.litellm_policy import litellm_policy

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
