"""Where an episode sends its answer while it is still being written: the streaming hook of the engine.

When the answer of an episode is known before it arrives (simple mode: the one delegated call's answer goes to
the user unchanged), the engine runs that call streamed and hands each piece to `AnswerStream.send`; the
server forwards them to its client at once. `AnswerStream.text` is what was sent. A streamed call that fails
after something was sent cannot be taken back: the engine then stops the episode with `AnswerStreamBroken`.
"""

from __future__ import annotations

from collections.abc import Callable

from xrouter.engine.trajectory import CallRecord


class AnswerStreamBroken(Exception):
    """The streamed answer stopped half-way; `record` is the failed call (its partial cost is in the ledger)."""

    def __init__(self, record: CallRecord) -> None:
        super().__init__(f"the answer of {record.model} broke off mid-stream: {record.error}")
        self.record = record


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
