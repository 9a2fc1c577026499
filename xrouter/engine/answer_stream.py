"""Where an episode sends its answer while it is still being written: the streaming hook of the engine.

Two kinds of answers can go out while they are being written:

* a target model's answer returned unchanged (simple mode's delegated call): the engine runs that call
  streamed and hands each piece to `AnswerStream.send`;
* the router's own direct answer: a router turn is streamed through `DirectAnswerSieve`, which passes on
  the text the user will see (`visible_text`: no `<think>` blocks, no surrounding blank space) and stops
  passing anything on as soon as the turn shows a hermes `<tool_call>`.

The server forwards the pieces to its client at once; `AnswerStream.text` is what was sent. A streamed
answer that fails after something was sent cannot be taken back: the engine then stops the episode with
`AnswerStreamBroken` (so does a router turn that calls tools after its text began to go out).
"""

from __future__ import annotations

from collections.abc import Callable

from xrouter.engine.rules import THINK_BLOCK
from xrouter.engine.trajectory import CallRecord

_HIDDEN_TAGS = ("<think>", "<tool_call>")


class AnswerStreamBroken(Exception):
    """The streamed answer stopped half-way; `code` names the side that broke (its cost is in the ledger)."""

    def __init__(self, message: str, code: str = "target_stream_broken") -> None:
        super().__init__(message)
        self.code = code

    @classmethod
    def of_call(cls, record: CallRecord) -> AnswerStreamBroken:
        """The streamed target call `record` failed after part of its answer went out."""
        return cls(f"the answer of {record.model} broke off mid-stream: {record.error}")


class AnswerStream:
    """Receives answer pieces as they arrive and passes them to `forward` (e.g. a queue's `put_nowait`)."""

    def __init__(self, forward: Callable[[str], None]) -> None:
        self._forward = forward
        self._parts: list[str] = []

    def send(self, piece: str) -> None:
        """Hand one piece of the answer on."""
        self._parts.append(piece)
        self._forward(piece)

    @property
    def text(self) -> str:
        """Everything sent so far."""
        return "".join(self._parts)

    @property
    def started(self) -> bool:
        """True once any piece was sent."""
        return bool(self._parts)


def _tag_start_at_end(text: str) -> int:
    """Length of the longest end of `text` that could begin a `<think>` or `<tool_call>` tag."""
    start = text.rfind("<", max(0, len(text) - max(map(len, _HIDDEN_TAGS))))
    if start < 0:
        return 0
    tail = text[start:]
    return len(tail) if any(tag.startswith(tail) for tag in _HIDDEN_TAGS) else 0


def visible_prefix(raw: str) -> str | None:
    """The part of a router text still being written that the user will surely see; None once it calls a tool.

    It is always a prefix of `visible_text` of the finished text: complete `<think>` blocks are left out,
    an open one hides everything after it, and an end that may begin a tag or be trailing blank space waits.
    """
    reader = _VisibleReader()
    return reader.read(raw)


class _VisibleReader:
    """Reads a router text piece by piece, keeping what is settled so that each piece costs only its own length.

    `_text` is the visible text of the settled part (complete think blocks removed, leading blank space
    dropped); `_tail` is the raw rest, which begins outside any tag: an open think block or the possible
    start of a tag, kept until a later piece settles it.
    """

    def __init__(self) -> None:
        self._text = ""
        self._tail = ""

    def read(self, piece: str) -> str | None:
        """All visible text settled so far, trailing blank space held back; None once a tool call shows."""
        tail = self._tail + piece
        if "<tool_call>" in tail:
            return None
        cut = len(tail) - _tag_start_at_end(tail)
        opened = next((m.start() for m in THINK_BLOCK.finditer(tail, 0, cut) if not m.group(1)), cut)
        settled, self._tail = tail[:opened], tail[opened:]
        visible = THINK_BLOCK.sub("", settled)  # only whole blocks here: none spans the cut
        self._text += visible if self._text else visible.lstrip()  # leading blank space is never the answer
        return self._text.rstrip()


class DirectAnswerSieve:
    """Feeds a router turn's text, piece by piece, to an `AnswerStream` as far as it is surely the answer."""

    def __init__(self, stream: AnswerStream) -> None:
        self.stream = stream
        self._reader = _VisibleReader()
        self._sent = 0
        self.calls_tools = False  # the text showed a hermes tool call: nothing more is passed on

    def feed(self, piece: str) -> None:
        """Take the next piece of the router's text."""
        if self.calls_tools:
            return
        safe = self._reader.read(piece)
        if safe is None:
            self.calls_tools = True
        elif len(safe) > self._sent:
            self.stream.send(safe[self._sent :])
            self._sent = len(safe)

    @property
    def sent(self) -> bool:
        """True once any of the router's text went out."""
        return self._sent > 0
