"""Reading a router's chat completion into a `RouterTurn`: its text, its tool calls, its usage and cost.

One reading for every router that answers in the OpenAI format (an endpoint, LiteLLM, a streamed turn joined
back into a completion). If the server returns hermes `<tool_call>{...}</tool_call>` blocks in the text instead
of parsed `tool_calls` (no parser configured), they are parsed here, so both set-ups behave the same. Anything
else that is not a well-formed chat completion is a `RouterPolicyError`; a completion without usage is priced
from counted text (characters / 4).
"""

from __future__ import annotations

import json
import re
from typing import Any

from xrouter.catalog import Usage
from xrouter.engine.router_turn import RouterPolicyError, RouterPrice, RouterToolCall, RouterTurn, RouterTurnBroken
from xrouter.llm.charges import CHARS_PER_TOKEN, message_chars
from xrouter.llm.streaming import StreamBroken

_HERMES_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def hermes_calls(text: str) -> tuple[str, list[RouterToolCall]]:
    """Tool calls written as hermes blocks in the text; JSON that fails to parse is kept for the engine to refuse."""
    calls: list[RouterToolCall] = []
    for index, block in enumerate(_HERMES_CALL.findall(text)):
        try:
            data = json.loads(block)
            name = str(data.get("name", ""))
            arguments = data.get("arguments", {})
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        except (ValueError, AttributeError):
            name, raw = "", block
        calls.append(RouterToolCall(id=f"call_text_{index}", name=name, arguments=raw))
    return _HERMES_CALL.sub("", text).strip(), calls


def _tool_call(raw: Any, index: int) -> RouterToolCall:
    """One parsed `tool_calls` entry; RouterPolicyError when it is not an OpenAI tool-call object."""
    function = raw.get("function") if isinstance(raw, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name", ""), str):
        raise RouterPolicyError(f"router response tool_calls[{index}] is not a function call object")
    arguments = function.get("arguments", "{}")
    if isinstance(arguments, (dict, list)):
        arguments = json.dumps(arguments)
    elif not isinstance(arguments, str):
        raise RouterPolicyError(f"router response tool_calls[{index}].function.arguments is not JSON text")
    return RouterToolCall(id=str(raw.get("id") or f"call_{index}"), name=function.get("name", ""), arguments=arguments)


def _usage(body: dict[str, Any], message: dict[str, Any], prompt: list[dict[str, Any]]) -> tuple[Usage, bool]:
    """(usage, estimated): the reported counts, or counted text when the endpoint sent no usage."""
    raw = body.get("usage")
    if raw is None:
        out_chars = len(message.get("content") or "") + len(json.dumps(message.get("tool_calls") or []))
        in_chars = message_chars(prompt)
        tokens = (max(1, int(in_chars / CHARS_PER_TOKEN)), max(1, int(out_chars / CHARS_PER_TOKEN)))
        return Usage(*tokens), True
    prompt_tokens = raw.get("prompt_tokens") if isinstance(raw, dict) else None
    completion_tokens = raw.get("completion_tokens") if isinstance(raw, dict) else None
    if not (_whole(prompt_tokens) and _whole(completion_tokens)):
        raise RouterPolicyError("router response usage is not an object with whole prompt/completion token counts")
    return Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens), False


def _whole(count: Any) -> bool:
    return type(count) is int and count >= 0  # not bool, not float


def broken_turn(
    exc: StreamBroken, price: RouterPrice, latency_s: float, prompt: list[dict[str, Any]]
) -> RouterTurnBroken:
    """The error for a router stream that broke after text was handed on, carrying what arrived (estimated usage)."""
    partial = {"choices": [{"message": {"role": "assistant", "content": exc.received}}]}
    return RouterTurnBroken(
        f"router stream broke: {exc.reason}", parse_router_response(partial, price, latency_s, prompt)
    )


def parse_router_response(
    body: Any, price: RouterPrice, latency_s: float, prompt: list[dict[str, Any]] | None = None
) -> RouterTurn:
    """Turn an OpenAI chat-completion body into a `RouterTurn`; malformed bodies raise `RouterPolicyError`.

    `prompt` (the router chat sent) is what the input tokens are counted from when the body has no usage.
    """
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RouterPolicyError("router response has no choices[0] object")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise RouterPolicyError("router response has no choices[0].message object")
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise RouterPolicyError("router response content is not a string")
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise RouterPolicyError("router response tool_calls is not a list")
    calls = [_tool_call(raw, index) for index, raw in enumerate(raw_calls)]
    if not calls and "<tool_call>" in text:
        text, calls = hermes_calls(text)
    usage, estimated = _usage(body, message, prompt or [])
    return RouterTurn(
        text=text,
        tool_calls=tuple(calls),
        usage=usage,
        cost_usd=price.cost(usage),
        latency_s=latency_s,
        estimated=estimated,
    )
