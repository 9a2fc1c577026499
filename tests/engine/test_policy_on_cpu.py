"""Router policies: parsing router responses (parsed tool calls and hermes text) and the --policy registry."""

from __future__ import annotations

import pytest

from xrouter.engine.policy import (
    PolicySettings,
    RouterPrice,
    RouterTurn,
    build_policy,
    parse_policy_spec,
    register_policy,
)
from xrouter.engine.router_response import parse_router_response
from xrouter.errors import UsageError

PRICE = RouterPrice(1.0, 2.0)


def test_parsed_tool_calls_and_usage_become_a_priced_turn():
    """OpenAI tool_calls are kept with their raw arguments; usage is priced per 1M tokens."""
    body = {
        "choices": [
            {
                "message": {
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "call_gpt_5", "arguments": '{"optimized_system_prompt": "x"}'},
                        }
                    ],
                }
            }
        ],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 500},
    }
    turn = parse_router_response(body, PRICE, 0.1)
    assert turn.tool_calls[0].name == "call_gpt_5" and turn.tool_calls[0].id == "t1"
    assert turn.cost_usd == pytest.approx(0.002)


def test_hermes_tool_call_blocks_in_text_are_parsed():
    """A server without a tool parser returns <tool_call> blocks; they become calls, broken JSON kept raw."""
    text = (
        '<think>hm</think><tool_call>{"name": "call_gpt_5", "arguments": {"optimized_system_prompt": "p"}}</tool_call>'
        "<tool_call>{not json</tool_call>"
    )
    turn = parse_router_response({"choices": [{"message": {"content": text}}]}, PRICE, 0.0)
    assert [c.name for c in turn.tool_calls] == ["call_gpt_5", ""]
    assert turn.tool_calls[0].arguments == '{"optimized_system_prompt": "p"}'
    assert turn.tool_calls[1].arguments == "{not json" and turn.text == "<think>hm</think>"


def test_malformed_router_body_raises_policy_error():
    """A body without choices is a router failure (the server answers 502)."""
    from xrouter.engine.policy import RouterPolicyError

    with pytest.raises(RouterPolicyError, match="choices"):
        parse_router_response({"error": "boom"}, PRICE, 0.0)


def test_policy_spec_parsing_and_registration():
    """Known kinds parse, unknown kinds name the known ones, and a registered kind gets its argument."""
    assert parse_policy_spec("endpoint") == ("endpoint", "")
    assert parse_policy_spec("learned:/tmp/dir:0.5") == ("learned", "/tmp/dir:0.5")
    with pytest.raises(UsageError, match="known kinds: .*endpoint"):
        parse_policy_spec("oracle:x")

    class Fixed:
        name = "fixed"

        def __init__(self, arg: str) -> None:
            self.arg = arg

        async def next_turn(self, messages, tools) -> RouterTurn:
            return RouterTurn(text=self.arg)

        async def aclose(self) -> None:
            return None

    register_policy("fixed-test", lambda arg, settings: Fixed(arg))
    policy = build_policy("fixed-test:hello", PolicySettings())
    assert isinstance(policy, Fixed) and policy.arg == "hello"
