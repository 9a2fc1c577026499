"""The router's own answer streamed as it is written: only text the user will see goes out, in order."""

from __future__ import annotations

import pytest

from xrouter.engine.answer_stream import AnswerStream, DirectAnswerSieve, visible_prefix
from xrouter.engine.rules import visible_text

TEXTS = [
    "The answer is 42.",
    "  \n Leading blank space is dropped.  \n",
    "<think>first 6*7, then check</think>\n\nIt is 42.",
    "Before <think>hidden</think> after, and <b>bold</b> stays.",
    "A tag that is not one: <thinking aloud> and < 3 and <tool_cal.",
    "An open block hides the rest <think>never closed",
    "Trailing space waits   ",
]


def _feed(text: str, size: int) -> tuple[DirectAnswerSieve, list[str]]:
    pieces: list[str] = []
    sieve = DirectAnswerSieve(AnswerStream(pieces.append))
    for start in range(0, len(text), size):
        sieve.feed(text[start : start + size])
    return sieve, pieces


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("size", [1, 3, 1000])
def test_what_goes_out_is_the_visible_answer_however_the_text_is_cut(text, size):
    """Fed in pieces of any size, the sent text is the finished turn's visible text (nothing resent, no extra)."""
    sieve, pieces = _feed(text, size)
    sent = "".join(pieces)
    assert sent == visible_text(text)
    assert all(pieces) and not sieve.calls_tools


def test_nothing_of_a_think_block_goes_out_while_it_is_open():
    sieve, pieces = _feed("Sure. <think>secret plan", 2)
    assert "".join(pieces) == "Sure." and "plan" not in "".join(pieces)


def test_a_hermes_tool_call_stops_the_stream_before_its_text_goes_out():
    """The start of `<tool_call>` is held back; once it is whole nothing more is passed on."""
    sieve, pieces = _feed('<tool_call>{"name": "call_a", "arguments": {}}</tool_call>', 1)
    assert pieces == [] and sieve.calls_tools and not sieve.sent
    sieve, pieces = _feed('Let me ask. <tool_call>{"name": "call_a"}</tool_call> done', 1)
    assert "".join(pieces) == "Let me ask." and sieve.calls_tools and sieve.sent


def test_visible_prefix_holds_back_a_possible_tag_start():
    assert visible_prefix("Hello <thi") == "Hello"
    assert visible_prefix("Hello <tool_c") == "Hello"
    assert visible_prefix("x < y") == "x < y"
    assert visible_prefix("<tool_call>") is None
