"""Fixtures for engine tests: a scripted router policy and a fake target caller (failure injection)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from xrouter.catalog import Catalog, Usage, load_catalog
from xrouter.engine.policy import RouterToolCall, RouterTurn
from xrouter.llm.types import CallError, CallResult

Step = RouterTurn | Callable[[list[dict[str, Any]]], RouterTurn]


def text(value: str) -> RouterTurn:
    """A text-only router turn."""
    return RouterTurn(text=value, usage=Usage(100, 10), cost_usd=0.001)


def calls(*items: tuple[str, dict[str, Any] | str]) -> RouterTurn:
    """A router turn of tool calls; a str argument is sent as raw (possibly broken) JSON."""
    tool_calls = []
    for index, (name, args) in enumerate(items):
        if isinstance(args, str):
            tool_calls.append(RouterToolCall(id=f"c{index}", name=name, arguments=args))
        else:
            tool_calls.append(RouterToolCall.of(name, call_id=f"c{index}", **args))
    return RouterTurn(text="<think>routing</think>", tool_calls=tuple(tool_calls), usage=Usage(100, 10), cost_usd=0.001)


@dataclass
class ScriptedPolicy:
    """Plays back router turns in order and records what it was shown."""

    steps: Sequence[Step]
    name: str = "scripted-router"
    seen: list[list[dict[str, Any]]] = field(default_factory=list)
    tools_seen: list[list[dict[str, Any]]] = field(default_factory=list)

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """The next scripted turn."""
        self.seen.append([dict(m) for m in messages])
        self.tools_seen.append(tools)
        step = self.steps[len(self.seen) - 1]
        return step(messages) if callable(step) else step

    async def aclose(self) -> None:
        """Nothing to close."""


@dataclass
class FakeCaller:
    """A ModelCaller: answers `answers[model]`; 'FAIL' fails, 'SLOW' sleeps past any timeout."""

    answers: dict[str, str]
    cost_usd: float = 0.002
    delay_s: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    async def call(self, model_id: str, messages: list[dict[str, Any]], **kwargs: Any) -> CallResult:
        """Answer from the table after `delay_s`."""
        self.received.append({"model": model_id, "messages": messages, **kwargs})
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            answer = self.answers.get(model_id, "FAIL")
            if answer == "SLOW":
                await asyncio.sleep(30)
            await asyncio.sleep(self.delay_s)
            if answer == "FAIL":
                error = CallError("server", "HTTP 500 from provider", 500)
                return CallResult(model_id, "", False, error=error, cost_usd=None)
            usage = Usage(input_tokens=50, output_tokens=20)
            return CallResult(model_id, answer, True, usage=usage, cost_usd=self.cost_usd, spent_usd=self.cost_usd)
        finally:
            self.in_flight -= 1


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The shipped catalog."""
    return load_catalog(None, use_env=False)


POOL = ("gpt-5-mini", "gpt-4.1-nano", "gpt-5")
