"""A lean HTTP/1.1 client for the non-streamed JSON POSTs of the router turn and of direct target calls.

aiohttp's request machinery costs about three times the CPU of a bare exchange on loopback (320 against 100 µs
per POST measured), and `xrouter serve` makes three POSTs per request. `Http1Pool.post` sends over a pooled
keep-alive connection and parses with `httptools` (uvicorn's parser): the request line and headers aiohttp
sends, gzip/deflate, chunked and read-until-close bodies, the size cap enforced while reading. Only plain
`http://` URLs without user info take this path (`lean_target`); https, redirects and streams stay with aiohttp.
Failures are aiohttp's exception types (`xrouter.llm.http1_wire`), so callers treat them as before.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any

from xrouter.llm.http1_wire import (
    Headers,
    Reply,
    Target,
    aiohttp_timeout,
    check_header,
    connect_error,
    decoded,
    invalid_response,
    lean_target,
    redirect,
)

__all__ = ["Http1Pool", "LoopPools", "Reply", "Target", "aiohttp_timeout", "lean_target", "redirect"]
IDLE_TIMEOUT_S = 15.0  # idle keep-alive connections are closed after this long (aiohttp's default)
_TIMEOUT_CM = getattr(asyncio, "timeout", None)  # Python >= 3.11


def _too_large() -> Exception:
    return ValueError("answer larger than the size cap")


class _Connection(asyncio.Protocol):
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
        if not self._parser.should_keep_alive():
            self.close()
        body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        waiter.set_result(Reply(self._status, self._reason, self._headers, body))

    async def exchange(self, request: bytes, limit: int, too_large: Callable[[], Exception]) -> Reply:
        """Send one request and wait for its answer (the caller closes the connection on any failure)."""
        self._reset()
        self._limit, self._too_large = limit, too_large
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            return await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        """Close the connection (it is never reused afterwards)."""
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class Http1Pool:
    """Keep-alive connections of one event loop, at most `limit` in use at once (as aiohttp's connector).

    Made inside the running event loop that uses it.
    """

    def __init__(self, limit: int = 256) -> None:
        import aiohttp.http

        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._slots = asyncio.Semaphore(limit)
        self._agent = aiohttp.http.SERVER_SOFTWARE  # the User-Agent aiohttp sends
        self.closed = False
        self.loop = asyncio.get_running_loop()  # connections belong to the loop the pool is made in

    async def _connect(self, target: Target) -> _Connection:
        idle = self._idle.get((target.host, target.port))
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_TIMEOUT_S:
                return connection
            connection.close()
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(_Connection, target.host, target.port)
        except OSError as exc:
            raise connect_error(target, exc) from exc
        return connection

    def _request(self, target: Target, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.host_header}"]
        sent = {name.lower() for name in headers}
        for name, value in (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"), ("User-Agent", self._agent)):
            if name.lower() not in sent:
                lines.append(f"{name}: {value}")
        lines += [f"{check_header(name)}: {check_header(str(value))}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        return "\r\n".join(lines).encode("utf-8") + body

    async def post(
        self,
        target: Target,
        body: bytes,
        headers: dict[str, str],
        *,
        timeout_s: float,
        limit: int,
        too_large: Callable[[], Exception],
    ) -> Reply:
        """POST `body`; the answer within `timeout_s` (TimeoutError), never read past `limit` bytes (`too_large()`)."""
        if self.closed:
            raise RuntimeError("the connection pool is closed")
        request = self._request(target, body, headers)
        if _TIMEOUT_CM is None:  # Python 3.10
            reply = await asyncio.wait_for(self._send(target, request, limit, too_large), timeout_s)
        else:
            async with _TIMEOUT_CM(timeout_s):  # one timer for the slot, the connect and the whole answer
                reply = await self._send(target, request, limit, too_large)
        return decoded(reply, limit, too_large)

    async def _send(self, target: Target, request: bytes, limit: int, too_large: Callable[[], Exception]) -> Reply:
        async with self._slots:
            connection = await self._connect(target)
            try:
                reply = await connection.exchange(request, limit, too_large)
            except BaseException:
                connection.close()
                raise
            if not connection.closed:
                connection.idle_since = time.monotonic()
                self._idle.setdefault((target.host, target.port), []).append(connection)
        return reply

    def close(self) -> None:
        """Close every idle connection; the pool takes no more requests."""
        self.closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()


class LoopPools:
    """One `Http1Pool` per event loop, made on first use there."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Http1Pool] = weakref.WeakKeyDictionary()

    def current(self) -> Http1Pool:
        """The pool of the running event loop."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None or pool.closed:
            pool = self._pools[loop] = Http1Pool(self.limit)
        return pool

    def close(self) -> None:
        """Close the pool of the running event loop."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            pool.close()
