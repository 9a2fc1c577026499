"""Router and target-model inputs: the router system prompts and the user-turn rules.

One home for the rule that decides how the user's own conversation reaches the router and the
target models, used identically by preprocessing (training rows), the verl tools and the serving
engine, so training and serving cannot drift apart.

Rule for the router's input: the router sees its own system prompt, then one user turn made of
the user's system prompt (under `USER_SYSTEM_LABEL`, or inlined before the query when it is longer
than `max_system_prompt_length` characters) and the user's conversation (under `USER_QUERY_LABEL`).

Rule for the cost weight: a request or training row with a cost weight λ gets one more paragraph at the
end of the router's system prompt (`cost_weight_text`): the value after `COST_WEIGHT_LABEL` and what it
means in the reward's terms (reward = quality × (1 − λ × dollars spent on calls), the default shaping).
Without a λ the system prompt is exactly the one above, so routers trained before λ existed see what they
were trained on. `prompt_cost_lambda` reads the value back from a router chat (learned routers use it).

Rule for target models: a target sees one system message, the router's `optimized_system_prompt`
followed by the user's own system prompt (kept, after a blank line), then the user's conversation
unchanged (all user and assistant turns).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

Mode = Literal["agent", "simple"]
USER_SYSTEM_LABEL = "USER SYSTEM PROMPT:"
USER_QUERY_LABEL = "USER REQUEST:"
DEFAULT_MAX_SYSTEM_PROMPT_LENGTH = 2000
COST_WEIGHT_LABEL = "COST WEIGHT:"
MAX_COST_LAMBDA = 100000.0  # λ above this prices every call out of the reward; a larger value is an error
_COST_WEIGHT_LINE = re.compile(rf"^{re.escape(COST_WEIGHT_LABEL)} λ = (\S+)$", re.MULTILINE)

ROUTER_SYSTEM_PROMPT_AGENT = """\
You are a routing assistant. For every request you decide who should answer it: yourself, or one \
or more of the language models offered to you as call_<model> tools. Each tool description lists \
the model's strengths, its price per million tokens and its limits.

How to work:
1. Read the request. If it is trivial (a greeting, a question about you, very simple arithmetic), \
answer it yourself in plain text.
2. Otherwise call the model or models most likely to answer correctly at the lowest cost. For each \
call write an optimized_system_prompt for that model (its role, the expected answer format and any \
constraints) and, if useful, a temperature and a max_tokens budget. Do not copy the user's request \
into the prompt: it is sent to the model for you.
3. Read the answers. Then either return one of them unchanged with select_response, or write a \
final answer yourself that combines and checks them. Never call select_response in the same turn \
as another tool.

Cost matters: every call is charged, so prefer the cheaper of two capable models and avoid calls \
that add little. A wrong answer is worse than a slightly more expensive right one, and you are a \
small model, so call a stronger model when you are unsure. Use low temperatures for factual or \
mathematical work and higher ones for creative writing.

Think briefly inside <think>...</think>, then either make tool calls or write the final answer."""

ROUTER_SYSTEM_PROMPT_SIMPLE = """\
You are a routing assistant. For every request choose exactly one of two options:
1. Answer it yourself in plain text. This is the cheapest option, but a poor answer is penalized.
2. Call exactly one of the call_<model> tools. That model's answer goes straight to the user, so \
write an optimized_system_prompt that makes it answer completely and in the right format.

Pick the cheapest model that can answer well; each tool description lists strengths and prices. \
Do not copy the user's request into the prompt: it is sent to the model for you. Use low \
temperatures for factual or mathematical work and higher ones for creative writing.

Think briefly inside <think>...</think>, then either make one tool call or write the answer."""


def check_cost_lambda(value: Any, what: str = "cost_lambda") -> float:
    """λ as a float; ValueError naming `what` unless it is a number in [0, MAX_COST_LAMBDA]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        finite = False
    if not finite or not 0 <= value <= MAX_COST_LAMBDA:
        raise ValueError(f"{what} must be a number between 0 and {MAX_COST_LAMBDA:g}, got {value!r}")
    return float(value)


def format_cost_lambda(cost_lambda: float) -> str:
    """λ as the prompt writes it (six significant digits; training samples use at most three)."""
    return f"{cost_lambda:.6g}"


def cost_weight_text(cost_lambda: float) -> str:
    """The paragraph that tells the router its cost weight λ, in the reward's own terms."""
    lam = check_cost_lambda(cost_lambda)
    per_cent = f"{lam / 100:.4g}"
    return (
        f"{COST_WEIGHT_LABEL} λ = {format_cost_lambda(lam)}\n"
        f"A right answer earns a reward of 1 − λ × (dollars spent on calls); a wrong one earns 0. So every cent "
        f"of calls costs {per_cent} reward, and a call pays off only if it raises the chance of a right answer "
        f"by at least about {format_cost_lambda(lam)} percentage points per cent it costs. λ = 0 ignores cost; a "
        "large λ asks for the cheapest answer that is still right."
    )


ONE_STEP_SELECT_TEXT = """\
To pass a request to one model without reading its answer first, call select_response right away \
with that model's call_<model> tool name (and, if useful, an optimized_system_prompt): the model is \
called then and its answer goes to the user unchanged, as soon as it is written."""


def router_system_prompt(mode: Mode, cost_lambda: float | None = None, one_step_select: bool = False) -> str:
    """The router's system prompt for a mode, stating the cost weight λ when one is given.

    `one_step_select` (agent mode) adds the paragraph saying a select may name a model not called yet.
    """
    if mode == "agent":
        prompt = ROUTER_SYSTEM_PROMPT_AGENT
    elif mode == "simple":
        prompt = ROUTER_SYSTEM_PROMPT_SIMPLE
    else:
        raise ValueError(f"unknown router mode {mode!r}; use 'agent' or 'simple'")
    if one_step_select and mode == "agent":
        prompt = f"{prompt}\n\n{ONE_STEP_SELECT_TEXT}"
    if cost_lambda is None:
        return prompt
    return f"{prompt}\n\n{cost_weight_text(cost_lambda)}"


def prompt_cost_lambda(messages: Sequence[dict[str, Any]]) -> float | None:
    """The λ the router's own system prompt states (first message only, never user text), else None."""
    if not messages or messages[0].get("role") != "system":
        return None
    found = _COST_WEIGHT_LINE.search(content_text(messages[0].get("content")))
    return float(found.group(1)) if found else None


def content_text(content: Any) -> str:
    """Text of a message content: a string, or OpenAI text parts joined with newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ValueError("only text content parts are supported")
            if not isinstance(part.get("text"), str):  # a missing or non-string text is a client bug, not ""
                raise ValueError("a text content part needs a string 'text'")
            parts.append(part["text"])
        return "\n".join(parts)
    raise ValueError(f"message content must be a string or a list of text parts, got {type(content).__name__}")


def split_user_system(messages: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """Separate the user's system prompt(s) from the conversation turns (text only)."""
    system_parts: list[str] = []
    turns: list[dict[str, str]] = []
    for message in messages:
        role = message.get("role")
        text = content_text(message.get("content"))
        if role in ("system", "developer"):
            system_parts.append(text)
        elif role in ("user", "assistant"):
            turns.append({"role": role, "content": text})
        else:
            raise ValueError(f"unsupported message role {role!r} in the user's conversation")
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("the conversation must end with a user message")
    return "\n\n".join(p for p in system_parts if p), turns


def _conversation_text(turns: Sequence[dict[str, str]]) -> str:
    if len(turns) == 1:
        return turns[0]["content"]
    return "\n\n".join(f"[{t['role']}] {t['content']}" for t in turns)


def router_user_turn(
    messages: Sequence[dict[str, Any]], max_system_prompt_length: int = DEFAULT_MAX_SYSTEM_PROMPT_LENGTH
) -> str:
    """The single user turn the router sees for a user conversation (see module docstring)."""
    system, turns = split_user_system(messages)
    query = _conversation_text(turns)
    if not system:
        return f"{USER_QUERY_LABEL}\n{query}"
    if len(system) > max_system_prompt_length:
        return f"{USER_QUERY_LABEL}\n{system}\n{query}"
    return f"{USER_SYSTEM_LABEL}\n{system}\n{USER_QUERY_LABEL}\n{query}"


def router_messages(
    messages: Sequence[dict[str, Any]],
    mode: Mode = "agent",
    max_system_prompt_length: int = DEFAULT_MAX_SYSTEM_PROMPT_LENGTH,
    cost_lambda: float | None = None,
    one_step_select: bool = False,
) -> list[dict[str, str]]:
    """The router's initial chat: its system prompt (with λ, if given) plus the user turn built from `messages`."""
    return [
        {"role": "system", "content": router_system_prompt(mode, cost_lambda, one_step_select)},
        {"role": "user", "content": router_user_turn(messages, max_system_prompt_length)},
    ]


def target_messages(optimized_system_prompt: str, messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """What a target model receives: the router's prompt, the user's system prompt, then the conversation."""
    system, turns = split_user_system(messages)
    prompt = optimized_system_prompt.strip()
    if system:
        prompt = f"{prompt}\n\n{system}" if prompt else system
    return [{"role": "system", "content": prompt}, *turns] if prompt else list(turns)
