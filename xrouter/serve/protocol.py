"""HTTP/1.1 connection guards in front of the app: a header size limit and a header-read timeout.

uvicorn accepts request headers of any size and waits forever for a request that never finishes its headers.
`guarded_protocol(max_header_bytes, header_timeout_s)` returns uvicorn's httptools protocol with two rules added:
a request whose header block grows past `max_header_bytes` gets `431` and the connection is closed before the
app sees anything; a request that has not finished its headers `header_timeout_s` after it began (or after the
connection opened) gets `408` and is closed. The body has its own timeout in the app (`--body-timeout-s`).
`server_options(settings)` gives the uvicorn keyword arguments for `xrouter serve` and the test servers.
"""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger(__name__)
_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


def _error_bytes(status: int, message: str, code: str) -> bytes:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}})
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body.encode()


class HeaderGuard:
    """Mixed into uvicorn's httptools protocol: refuses oversized headers (431), closes slow ones (408)."""

    max_header_bytes = 32 << 10
    header_timeout_s = 10.0
    loop: Any
    transport: Any

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._header_timer: Any = None
        self._await_headers()

    def _await_headers(self) -> None:
        self._in_headers, self._header_bytes, self._tail = True, 0, b""
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _refuse(self, status: int, message: str, code: str) -> None:
        self._in_headers = False
        self._stop_header_timer()
        if not self.transport.is_closing():
            self.transport.write(_error_bytes(status, message, code))
            self.transport.close()

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._in_headers:
            self._refuse(408, f"request headers not received within {self.header_timeout_s:g}s", "request_timeout")

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            limit = self.max_header_bytes
            if self._header_bytes + len(data) > limit:
                end = (self._tail + data).find(b"\r\n\r\n")  # does the header block end within the limit?
                if end < 0 or self._header_bytes - len(self._tail) + end + 4 > limit:
                    self._refuse(431, f"request headers exceed {limit} bytes", "request_header_fields_too_large")
                    return
            self._header_bytes += len(data)
            self._tail = data[-3:]
        super().data_received(data)  # type: ignore[misc]

    def on_message_begin(self) -> None:
        super().on_message_begin()  # type: ignore[misc]
        if not self._in_headers:  # the next request on a kept-alive connection
            self._await_headers()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._stop_header_timer()
        super().on_headers_complete()  # type: ignore[misc]

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]


def guarded_protocol(max_header_bytes: int, header_timeout_s: float) -> type | None:
    """uvicorn's httptools protocol with the header guards, or None when httptools is not installed."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return None
    limits = {"max_header_bytes": max_header_bytes, "header_timeout_s": header_timeout_s}
    return type("GuardedHttpToolsProtocol", (HeaderGuard, HttpToolsProtocol), limits)


def server_options(settings: Any) -> dict[str, Any]:
    """uvicorn.Config keyword arguments that apply the header guards of `settings` (a `ServeSettings`)."""
    protocol = guarded_protocol(settings.max_header_bytes, settings.header_timeout_s)
    if protocol is None:  # pure-Python h11: it enforces a header size itself, but has no header timeout
        logger.warning("httptools is not installed: no header-read timeout (pip install 'xrouter[serve]')")
        return {"http": "h11", "h11_max_incomplete_event_size": settings.max_header_bytes}
    return {"http": protocol}
