"""Episode rules shared by the serving engine, the verl agent loop and the reward.

A trajectory is a list of router turns. Each turn is either plain text (the router speaks to the
user) or a set of tool calls. These rules decide, in one place, whether a finished trajectory
returned a valid answer to the user and which text that answer is:

* agent mode: valid only if the last turn returns to the user, either as plain text (a direct
  answer or a summary of earlier answers) or as a lone `select_response` naming an earlier
  successful call. A trajectory that ends on model calls (turn limit, budget) is invalid.
* simple mode: a plain-text last turn is a direct answer, valid and scored on its merits (the
  upstream scored it 0); otherwise the first successful call of the last turn is the answer.

Example: turns = [calls(call_gpt_5_mini -> "42", ok), calls(select_response -> "42")] in agent mode
gives Outcome(valid=True, answer="42", finish="select_response").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from xrouter.engine.prompts import Mode

SELECT_TOOL = "select_response"
Finish = Literal["direct_answer", "select_response", "delegated", "no_answer"]
NO_ANSWER_TEXT = "No valid answer was produced."


@dataclass(frozen=True)
class ToolCallView:
    """One tool call as the rules need it: name, whether it succeeded, and the text it returned."""

    name: str
    ok: bool
    output: str = ""


@dataclass(frozen=True)
class TurnView:
    """One router turn: its visible text and the tool calls it made (empty for a text-only turn)."""

    text: str = ""
    calls: Sequence[ToolCallView] = field(default_factory=tuple)


@dataclass(frozen=True)
class Outcome:
    """What a trajectory returned to the user."""

    valid: bool
    answer: str
    finish: Finish
    reason: str = ""


def final_outcome(turns: Sequence[TurnView], mode: Mode) -> Outcome:
    """Apply the episode rules to a finished trajectory (see module docstring)."""
    if not turns:
        return Outcome(False, NO_ANSWER_TEXT, "no_answer", "the router produced no turn")
    last = turns[-1]
    if not last.calls:
        if not last.text.strip():
            return Outcome(False, NO_ANSWER_TEXT, "no_answer", "the last turn is empty")
        return Outcome(True, last.text, "direct_answer")
    if mode == "simple":
        for call in last.calls:
            if call.ok and call.name != SELECT_TOOL:
                return Outcome(True, call.output, "delegated")
        return Outcome(False, NO_ANSWER_TEXT, "no_answer", "the delegated call did not succeed")
    if len(last.calls) == 1 and last.calls[0].name == SELECT_TOOL:
        if last.calls[0].ok:
            return Outcome(True, last.calls[0].output, "select_response")
        return Outcome(False, NO_ANSWER_TEXT, "no_answer", "select_response named a call that did not succeed")
    if any(c.name == SELECT_TOOL for c in last.calls):
        return Outcome(False, NO_ANSWER_TEXT, "no_answer", "select_response was mixed with other calls")
    return Outcome(False, NO_ANSWER_TEXT, "no_answer", "the episode ended on model calls without an answer")


# ---------------------------------------------------------------------------------------------
# Turn-level rules, shared by the serving engine and the verl agent loop.

THINK_BLOCK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)


def visible_text(text: str | None) -> str:
    """Router text the user may see: `<think>...</think>` blocks (and an unclosed one) removed."""
    if not text:
        return ""
    return THINK_BLOCK.sub("", text).strip()


def executes_calls(mode: Mode, turn_number: int, max_turns: int) -> bool:
    """Whether `call_<model>` tools emitted on 1-based `turn_number` are run.

    Agent mode never runs model calls on the last allowed turn: nobody could read their answers,
    so they would cost money for nothing and the trajectory is invalid anyway. Simple mode runs
    them, because the delegated answer goes straight to the user.
    """
    return mode == "simple" or turn_number < max_turns


def ends_episode(mode: Mode, calls: Sequence[ToolCallView]) -> bool:
    """Whether a turn of tool calls finishes the episode (a successful select or simple delegation)."""
    if mode == "simple":
        return any(c.ok and c.name != SELECT_TOOL for c in calls)
    return len(calls) == 1 and calls[0].name == SELECT_TOOL and calls[0].ok


def select_target(model_call_name: str, history: Sequence[ToolCallView]) -> ToolCallView | None:
    """The newest successful earlier call of tool `model_call_name`, or None (the select then fails)."""
    for call in reversed(history):
        if call.name == model_call_name and call.ok and call.name != SELECT_TOOL:
            return call
    return None
