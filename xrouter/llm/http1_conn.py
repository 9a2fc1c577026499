"""One keep-alive HTTP/1.1 client connection of the lean client (`xrouter.llm.http1`), parsed by httptools.

`Connection.exchange` writes one request and waits for its complete answer; the parser's callbacks collect
status, headers and body, refuse a body over the size cap as it arrives, and turn a connection that ends early
into aiohttp's `ServerDisconnectedError` or `ClientPayloadError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from xrouter.llm.http1_wire import Headers, Reply, invalid_response


def _too_large() -> Exception:
    return ValueError("answer larger than the size cap")


class Connection(asyncio.Protocol):
    """One keep-alive connection; `exchange` sends a request and waits for its complete answer."""

    def __init__(self) -> None:
        import httptools

        self._parser = httptools.HttpResponseParser(self)
        self.transport: Any = None
        self.closed = False
        self.idle_since = 0.0
        self._limit, self._too_large = 0, _too_large
        self._waiter: asyncio.Future[Reply] | None = None
        self._reset()

    def _reset(self) -> None:
        self._status, self._reason, self._headers = 0, "", Headers()
        self._chunks: list[bytes] = []
        self._size, self._in_body, self._length = 0, False, None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._in_body and self._length is None and "chunked" not in self._headers.get("transfer-encoding", ""):
            self.on_message_complete()  # a body that runs until the connection closes
            return
        import aiohttp

        if self._in_body:
            error: Exception = aiohttp.ClientPayloadError(f"Response payload is not completed: {exc!r}")
        else:
            error = aiohttp.ServerDisconnectedError()
        self._waiter.set_exception(error)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():  # nothing was asked: the connection cannot be trusted
            self.close()
            return
        import httptools

        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(invalid_response()(f"invalid HTTP response: {exc}"))

    def _fail(self, error: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self.close()

    def on_status(self, status: bytes) -> None:
        """httptools callback: the reason phrase."""
        self._reason = status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        """httptools callback: one header."""
        self._headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        """httptools callback: the status and headers are in; refuse a declared length over the cap."""
        self._status, self._in_body = self._parser.get_status_code(), True
        declared = self._headers.get("content-length")
        if declared is not None and declared.isdigit():
            self._length = int(declared)
            if self._length > self._limit:
                self._fail(self._too_large())

    def on_body(self, body: bytes) -> None:
        """httptools callback: a piece of the body (chunked encoding already removed)."""
        self._size += len(body)
        if self._size > self._limit:
            self._fail(self._too_large())
            return
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        """httptools callback: the answer is complete."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if 100 <= self._status < 200:  # an informational answer (103 Early Hints): the real one follows, as aiohttp
            self._reset()
            return
        if not self._parser.should_keep_alive():
            self.close()
        body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        waiter.set_result(Reply(self._status, self._reason, self._headers, body))

    async def exchange(self, request: bytes, limit: int, too_large: Callable[[], Exception], deadline: float) -> Reply:
        """Send one request and wait for its answer until `deadline` (loop time; TimeoutError after it).

        The caller closes the connection on any failure. A plain timer ends the wait: cheaper than a
        `Timeout` context, which must find the task and cancel it.
        """
        self._reset()
        self._limit, self._too_large = limit, too_large
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_at(deadline, self._expire)
        self.transport.write(request)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _expire(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(TimeoutError())

    def close(self) -> None:
        """Close the connection (it is never reused afterwards)."""
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
