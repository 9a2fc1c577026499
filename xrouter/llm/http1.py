"""A lean HTTP/1.1 client for the non-streamed JSON POSTs of the router turn and of direct target calls.

aiohttp's request machinery costs several times the CPU of the exchange itself on loopback, and `xrouter serve`
makes three POSTs per request (see docs/performance.md for what replacing it saved). `Http1Pool.post` sends over a pooled
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

from xrouter.llm.http1_conn import Connection
from xrouter.llm.http1_wire import (
    Reply,
    Target,
    aiohttp_timeout,
    connect_error,
    decoded,
    lean_target,
    redirect,
    request_bytes,
)

__all__ = ["Http1Pool", "LoopPools", "Reply", "Target", "aiohttp_timeout", "lean_target", "redirect"]
IDLE_TIMEOUT_S = 15.0  # idle keep-alive connections are closed after this long (aiohttp's default)
_TIMEOUT_AT = getattr(asyncio, "timeout_at", None)  # Python >= 3.11


class Http1Pool:
    """Keep-alive connections of one event loop, at most `limit` in use at once (as aiohttp's connector).

    Made inside the running event loop that uses it.
    """

    def __init__(self, limit: int = 256) -> None:
        import aiohttp.http

        self._idle: dict[tuple[str, int], list[Connection]] = {}
        self._slots = asyncio.Semaphore(limit)
        self._agent = aiohttp.http.SERVER_SOFTWARE  # the User-Agent aiohttp sends
        self.closed = False
        self.loop = asyncio.get_running_loop()  # connections belong to the loop the pool is made in

    def _idle_connection(self, target: Target) -> Connection | None:
        idle = self._idle.get((target.host, target.port))
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_TIMEOUT_S:
                return connection
            connection.close()
        return None

    async def _connect(self, target: Target, have_slot: bool) -> Connection:
        """A connection, after waiting for a slot unless `have_slot` (the caller's deadline bounds both)."""
        if not have_slot:
            await self._slots.acquire()
            connection = self._idle_connection(target)
            if connection is not None:
                return connection
        try:
            _, connection = await self.loop.create_connection(Connection, target.host, target.port)
        except OSError as exc:
            self._slots.release()
            raise connect_error(target, exc) from exc
        except BaseException:
            self._slots.release()
            raise
        return connection

    async def _acquire(self, target: Target, deadline: float) -> Connection:
        """A slot and a connection before `deadline`: an idle one at once, else waited for under a timer."""
        have_slot = not self._slots.locked()
        if have_slot:
            await self._slots.acquire()  # free: returns at once
            connection = self._idle_connection(target)
            if connection is not None:
                return connection
        if _TIMEOUT_AT is None:  # Python 3.10
            return await asyncio.wait_for(self._connect(target, have_slot), deadline - self.loop.time())
        async with _TIMEOUT_AT(deadline):  # `_connect` gives the slot back when it fails
            return await self._connect(target, have_slot)

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
        request = request_bytes(target, body, headers, self._agent)
        deadline = self.loop.time() + timeout_s  # one deadline for the slot, the connect and the whole answer
        connection = await self._acquire(target, deadline)
        try:
            reply = await connection.exchange(request, limit, too_large, deadline)
        except BaseException:
            connection.close()
            raise
        finally:
            self._slots.release()
        if not connection.closed:
            connection.idle_since = time.monotonic()
            self._idle.setdefault((target.host, target.port), []).append(connection)
        return decoded(reply, limit, too_large)

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
