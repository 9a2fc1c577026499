"""A lean HTTP/1.1 client for the non-streamed JSON POSTs of the router turn and of direct target calls.

aiohttp's request machinery (URL objects, multidicts, cookie jar, tracing, payload registry, per-request timer
and response objects) costs about three times the CPU of the exchange itself on loopback; `xrouter serve` makes
three such POSTs per request. `Http1Pool.post` sends a request over a pooled keep-alive connection and parses
the answer with `httptools` (the parser uvicorn uses): the same request line and headers aiohttp sends (Host,
Accept, Accept-Encoding, User-Agent, Content-Length), gzip/deflate answers decoded, chunked and
read-until-close bodies, the answer size cap enforced while reading. Only plain `http://` URLs without user
info take this path (`lean_target`); https, redirects and streamed answers stay with aiohttp. Failures are
aiohttp's own exception types (`ClientConnectorError`, `ServerDisconnectedError`, `ClientPayloadError`), so
callers and `xrouter.llm.errors.classify_exception` treat them as before.
"""

from __future__ import annotations

import asyncio
import functools
import time
import zlib
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

IDLE_TIMEOUT_S = 15.0  # idle keep-alive connections are closed after this long (aiohttp's default)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TIMEOUT_CM = getattr(asyncio, "timeout", None)  # Python >= 3.11


class Target(NamedTuple):
    """Where a lean POST goes: host, port, the Host header and the request target (path and query)."""

    host: str
    port: int
    host_header: str
    path: str


@functools.lru_cache(maxsize=256)
def lean_target(url: str) -> Target | None:
    """The parts of a plain `http://` URL the lean client can serve, else None (https, user info, odd URLs)."""
    try:
        parts = urlsplit(url)
        port = parts.port or 80
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme != "http" or not host or parts.username is not None or parts.password is not None:
        return None
    if any(c in url for c in " \r\n\t%#"):  # let yarl quote and normalise anything unusual
        return None
    shown = f"[{host}]" if ":" in host else host
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(host, port, shown if port == 80 else f"{shown}:{port}", path)


class Reply(NamedTuple):
    """A complete answer: status, reason phrase, headers (lower-case names) and the decoded body."""

    status: int
    reason: str
    headers: _Headers
    body: bytes


class _Headers(dict):
    """Response headers with case-insensitive `get` (names are stored lower-case; the first value wins)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        """The header's value, whatever the case of `name`."""
        return super().get(name.lower(), default)


@functools.lru_cache(maxsize=1)
def _invalid_response() -> type[Exception]:
    """An aiohttp `ClientError` for an answer that is not HTTP/1.x (aiohttp's own is a ClientError too)."""
    import aiohttp

    class InvalidHTTPResponse(aiohttp.ClientError):
        """The peer answered something that is not HTTP/1.x."""

    return InvalidHTTPResponse


def _too_large() -> Exception:
    return ValueError("answer larger than the size cap")


def _check_header(text: str) -> str:
    if "\r" in text or "\n" in text or "\x00" in text:  # as aiohttp: no header injection through values
        raise ValueError("Newline or carriage return detected in headers. Potential header injection attack.")
    return text


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
        self._status, self._reason, self._headers = 0, "", _Headers()
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
            self._fail(_invalid_response()(f"invalid HTTP response: {exc}"))

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


def _decoded(reply: Reply, limit: int, too_large: Callable[[], Exception]) -> Reply:
    """The reply with a gzip/deflate body decoded (never past `limit` bytes)."""
    encoding = reply.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return reply
    import aiohttp

    if encoding not in ("gzip", "deflate"):
        raise aiohttp.ClientPayloadError(f"cannot decode content-encoding {encoding!r}")
    error: Exception | None = None
    for wbits in (47, -15) if encoding == "deflate" else (31,):  # deflate: zlib-wrapped or raw
        decoder = zlib.decompressobj(wbits)
        try:
            data = decoder.decompress(reply.body, limit + 1)
        except zlib.error as exc:
            error = exc
            continue
        if len(data) > limit or decoder.unconsumed_tail:
            raise too_large()
        return reply._replace(body=data)
    raise aiohttp.ClientPayloadError(f"Can not decode content-encoding: {encoding} ({error})")


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
            raise _connect_error(target, exc) from exc
        return connection

    def _request(self, target: Target, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.host_header}"]
        sent = {name.lower() for name in headers}
        for name, value in (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"), ("User-Agent", self._agent)):
            if name.lower() not in sent:
                lines.append(f"{name}: {value}")
        lines += [f"{_check_header(name)}: {_check_header(str(value))}" for name, value in headers.items()]
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
        return _decoded(reply, limit, too_large)

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


def _connect_error(target: Target, exc: OSError) -> Exception:
    """aiohttp's `ClientConnectorError` for a failed connect (the same type and text as before)."""
    import aiohttp
    from aiohttp.client_reqrep import ConnectionKey

    try:
        key = ConnectionKey(target.host, target.port, False, True, None, None, None)
        return aiohttp.ClientConnectorError(key, exc)
    except TypeError:  # another aiohttp version: the OSError says the same
        return exc


def redirect(url: str, reply: Reply) -> tuple[str, str] | None:
    """(method, URL) to follow a redirect of a POST to `url` the way aiohttp does, or None when `reply` is none."""
    location = reply.headers.get("location")
    if reply.status not in REDIRECTS or not location:
        return None
    from urllib.parse import urljoin

    return ("POST" if reply.status in (307, 308) else "GET"), urljoin(url, location)
