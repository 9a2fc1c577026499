"""Server-sent events for `stream: true`: the answer goes out while the episode runs.

`stream_episode(run, ...)` starts the episode (`run(answer_stream)`) and waits for the first thing to send:
an answer piece, the end of the episode, or `keepalive_s` of silence. Only then does the HTTP answer begin, so
an episode that fails before sending anything still gets its proper error status (502, 504, ...). Events: a
role chunk; the answer's pieces as the engine hands them on (simple mode streams the delegated model's
tokens as they arrive); SSE comments `: keep-alive` while nothing else is ready (agent mode, where the answer
is known only after all calls); the rest of the answer when the episode ends; a last chunk with
`finish_reason`, `usage` and `router_metadata`; `data: [DONE]`. A failure after the stream began ends it with
one `data: {"error": {...}}` event (no [DONE]), the form OpenAI clients raise as an API error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi.responses import Response, StreamingResponse

from xrouter.engine.answer_stream import AnswerStream
from xrouter.engine.trajectory import Trajectory
from xrouter.io import dumps_strict
from xrouter.serve.requests import ChatRequest, HTTPFailure

logger = logging.getLogger(__name__)
KEEPALIVE = b": keep-alive\n\n"
_DONE = object()  # queued when the episode task finishes


def _error_event(failure: HTTPFailure) -> bytes:
    error = {"message": str(failure), "type": failure.err_type, "param": failure.param, "code": failure.code}
    return f"data: {dumps_strict({'error': error})}\n\n".encode()


class _Events:
    """Formats the chunks of one streamed answer."""

    def __init__(self, request_id: str, chat: ChatRequest, final: Callable[[Trajectory], dict[str, Any]]) -> None:
        self.base = {"id": request_id, "object": "chat.completion.chunk", "created": int(time.time())}
        self.base["model"] = chat.model
        self.final = final

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {**self.base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {dumps_strict(body)}\n\n".encode()

    def ending(self, trajectory: Trajectory, sent: str) -> list[bytes]:
        """The rest of the answer (what was not streamed yet), the final chunk and [DONE]."""
        out = []
        answer = trajectory.answer
        if answer.startswith(sent):
            if len(answer) > len(sent):
                out.append(self.chunk({"content": answer[len(sent) :]}))
        else:  # cannot happen while the engine streams only answers it returns unchanged; never resend
            logger.error("request %s: the streamed text is not a prefix of the answer", self.base["id"])
        out.append(self.chunk({}, "stop", **self.final(trajectory)))
        out.append(b"data: [DONE]\n\n")
        return out


async def _next(queue: asyncio.Queue, timeout_s: float) -> Any:
    """The next queued item, or None after `timeout_s` of silence."""
    try:
        return await asyncio.wait_for(queue.get(), timeout_s)
    except asyncio.TimeoutError:
        return None


async def stream_episode(
    run: Callable[[AnswerStream], Awaitable[Trajectory]],
    request_id: str,
    chat: ChatRequest,
    keepalive_s: float,
    final: Callable[[Trajectory], dict[str, Any]],
    error: Callable[[HTTPFailure], Response],
) -> Response:
    """The SSE answer of one episode, or `error(failure)` when it failed before anything was sent."""
    queue: asyncio.Queue = asyncio.Queue()
    answer = AnswerStream(queue.put_nowait)
    task = asyncio.ensure_future(run(answer))
    task.add_done_callback(lambda _: queue.put_nowait(_DONE))
    first = await _next(queue, keepalive_s)
    if first is _DONE and task.exception() is not None:
        exc = task.exception()
        if isinstance(exc, HTTPFailure):
            return error(exc)
        raise exc  # type: ignore[misc]
    events = _Events(request_id, chat, final)

    async def body() -> AsyncIterator[bytes]:
        item = first
        try:
            yield events.chunk({"role": "assistant", "content": ""})
            while True:
                if item is None:
                    yield KEEPALIVE
                elif item is _DONE:
                    break
                else:
                    yield events.chunk({"content": item})
                item = await _next(queue, keepalive_s)
            failure = task.exception()
            if failure is not None:
                if not isinstance(failure, HTTPFailure):
                    failure = HTTPFailure(
                        500, "internal server error (see the server log)", "server_error", "internal_error"
                    )
                yield _error_event(failure)
                return
            for part in events.ending(task.result(), answer.text):
                yield part
        finally:
            if not task.done():  # the client went away mid-stream: stop the episode (it accounts for itself)
                task.cancel()

    headers = {"Cache-Control": "no-cache", "x-xrouter-request-id": request_id}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
