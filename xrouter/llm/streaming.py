"""Streamed target calls: chat.completion.chunk events read as they come, handed on piece by piece.

`read_sse_stream(lines, on_delta, limit)` (direct HTTP) and `read_litellm_stream(chunks, on_delta, limit)`
(LiteLLM) pass every content delta to `on_delta` as soon as it arrives, already redacted of registered
secrets (`StreamRedactor` holds back an end that could begin a secret, so one split across two deltas is
still caught), and return the whole answer as an ordinary chat.completion dict, so the call layer parses and
charges it like any other answer: `usage` from the final usage chunk, or none (the usage is then counted
from the texts, as for any answer without usage). Tool-call deltas (a router's turn) are joined by their
`index` into `message.tool_calls`, as a non-streamed completion carries them. A stream that breaks after `on_delta` was called raises
`StreamBroken` with the text delivered so far: it cannot be retried, since the reader has the first part.
A stream that breaks before any delta raises the underlying error, which is retried like any other.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from xrouter.llm.redact import redact, secret_prefix_at_end

OnDelta = Callable[[str], None]
# What a streamed chat-completion request adds to its body: the final chunk then carries the usage.
STREAM_PARAMS: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}


class StreamBroken(Exception):
    """A streamed answer ended early after part of it was delivered; `text` is that part, `received` all of it."""

    def __init__(self, text: str, reason: str, received: str | None = None) -> None:
        super().__init__(f"stream broke after {len(text)} characters were delivered: {reason}")
        self.text = text
        self.reason = reason
        self.received = text if received is None else received


class StreamRedactor:
    """Redacts registered secrets from a text that arrives in pieces, holding back a possible secret's start.

    Only an end of the text that begins some registered secret is held back (usually nothing), so redaction
    does not delay ordinary text.
    """

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> str:
        """The part of the text so far that is safe to hand on (redacted)."""
        buffered = redact(self._pending + text, patterns=False)
        cut = len(buffered) - secret_prefix_at_end(buffered)
        self._pending = buffered[cut:]
        return buffered[:cut]

    def flush(self) -> str:
        """What is still held back, at the end of the stream."""
        rest, self._pending = redact(self._pending, patterns=False), ""
        return rest


class _Assembler:
    """Collects a stream's content, finish reason and usage; hands redacted deltas on."""

    def __init__(self, on_delta: OnDelta, limit: int) -> None:
        self.on_delta = on_delta
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.delivered = ""
        self.finish: str | None = None
        self.usage: Any = None
        self.model = ""
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self._redactor = StreamRedactor()

    def content(self, text: str) -> None:
        if not text:
            return
        self.size += len(text.encode("utf-8"))
        if self.size > self.limit:
            raise self.broken(f"answer larger than {self.limit} bytes (the answer size cap); not read further")
        self.parts.append(text)
        self._hand_on(self._redactor.feed(text))

    def tool_call(self, raw: Any) -> None:
        """Add one tool-call delta: the first piece names the call, later ones extend its arguments."""
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(function, dict | None) or not isinstance(raw, dict):
            raise self.broken("a tool-call delta is not an object")
        index = raw.get("index", len(self.tool_calls))
        entry = self.tool_calls.setdefault(
            index if isinstance(index, int) else -1,
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        entry["id"] = raw.get("id") or entry["id"]
        for key in ("name", "arguments"):
            piece = (function or {}).get(key)
            if piece is not None and not isinstance(piece, str):
                raise self.broken(f"a tool-call delta's {key} is not a string")
            entry["function"][key] += piece or ""

    def _hand_on(self, safe: str) -> None:
        if safe:
            self.delivered += safe
            self.on_delta(safe)

    def broken(self, reason: str) -> Exception:
        """StreamBroken when something was delivered, else a plain error that may be retried."""
        if self.delivered:
            return StreamBroken(self.delivered, reason, "".join(self.parts))
        return ConnectionError(f"stream ended before any answer text: {reason}")

    def completion(self) -> dict[str, Any]:
        """The whole answer as a chat.completion dict (with `usage` only when the stream sent one)."""
        self._hand_on(self._redactor.flush())
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.parts)}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        body: dict[str, Any] = {
            "object": "chat.completion",
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish or "stop"}],
        }
        if self.usage is not None:
            body["usage"] = self.usage
        return body


def _take_chunk(chunk: Any, out: _Assembler) -> None:
    if not isinstance(chunk, dict):
        raise out.broken("a stream event is not a JSON object")
    if chunk.get("error") is not None:
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise out.broken(f"the provider sent an error event: {str(message)[:300]}")
    out.model = str(chunk.get("model") or out.model)
    if chunk.get("usage") is not None:
        out.usage = chunk["usage"]
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return
    for choice in choices:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else None
        if text is not None and not isinstance(text, str):
            raise out.broken("a delta's content is not a string")
        out.content(text or "")
        calls = delta.get("tool_calls") if isinstance(delta, dict) else None
        if calls is not None and not isinstance(calls, list):
            raise out.broken("a delta's tool_calls is not a list")
        for call in calls or ():
            out.tool_call(call)
        if choice.get("finish_reason"):
            out.finish = str(choice["finish_reason"])


async def read_sse_stream(lines: AsyncIterator[str], on_delta: OnDelta, limit: int) -> dict[str, Any]:
    """Read `data:` events of a chat-completion stream until `[DONE]`; see the module docstring."""
    out = _Assembler(on_delta, limit)
    done = False
    try:
        async for line in lines:
            if not line.startswith("data:"):
                continue  # comments (keep-alives), event names, blank separators
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise out.broken("a stream event is not valid JSON") from None
            _take_chunk(chunk, out)
    except (StreamBroken, ConnectionError):
        raise
    except Exception as exc:  # noqa: BLE001 - a transport error mid-stream
        if out.delivered:  # else the error itself is raised, and classified (and retried) like any other
            raise out.broken(f"{type(exc).__name__}: {exc}") from exc
        raise
    if not done and out.finish is None:
        raise out.broken("the connection closed before the answer was finished")
    return out.completion()


async def read_litellm_stream(chunks: Any, on_delta: OnDelta, limit: int) -> dict[str, Any]:
    """Read a LiteLLM `CustomStreamWrapper` (model-dump each chunk); see the module docstring."""
    out = _Assembler(on_delta, limit)
    try:
        async for chunk in chunks:
            _take_chunk(chunk.model_dump() if hasattr(chunk, "model_dump") else chunk, out)
    except (StreamBroken, ConnectionError):
        raise
    except Exception as exc:  # noqa: BLE001 - LiteLLM raises its own exception types mid-stream
        if out.delivered:  # else the error itself is raised, and classified (and retried) like any other
            raise out.broken(f"{type(exc).__name__}: {exc}") from exc
        raise
    if out.finish is None:
        raise out.broken("the stream ended before the answer was finished")
    return out.completion()
