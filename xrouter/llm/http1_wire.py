"""What the lean HTTP/1.1 client (`xrouter.llm.http1`) puts on and takes off the wire.

URL targets it can serve, the complete reply, header checks, gzip/deflate decoding under the size cap,
redirects (followed by aiohttp, as before) and aiohttp's exception types for failures, so that callers and
`xrouter.llm.errors.classify_exception` see what they saw with aiohttp.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

REDIRECTS = frozenset({301, 302, 303, 307, 308})


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
    headers: Headers
    body: bytes


class Headers(dict):
    """Response headers with case-insensitive `get` (names are stored lower-case; the first value wins)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        """The header's value, whatever the case of `name`."""
        return super().get(name.lower(), default)


@functools.lru_cache(maxsize=1)
def invalid_response() -> type[Exception]:
    """An aiohttp `ClientError` for an answer that is not HTTP/1.x (aiohttp's own is a ClientError too)."""
    import aiohttp

    class InvalidHTTPResponse(aiohttp.ClientError):
        """The peer answered something that is not HTTP/1.x."""

    return InvalidHTTPResponse


def check_header(text: str) -> str:
    """`text` unchanged; ValueError when it could end the header line (CR, LF or NUL), as aiohttp refuses."""
    if "\r" in text or "\n" in text or "\x00" in text:  # as aiohttp: no header injection through values
        raise ValueError("Newline or carriage return detected in headers. Potential header injection attack.")
    return text


def decoded(reply: Reply, limit: int, too_large: Callable[[], Exception]) -> Reply:
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


def connect_error(target: Target, exc: OSError) -> Exception:
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


def aiohttp_timeout(seconds: float) -> Any:
    """aiohttp's total timeout for what is left of a deadline (a redirect followed after a lean request)."""
    import aiohttp

    return aiohttp.ClientTimeout(total=max(seconds, 1e-3))


def request_bytes(target: Target, body: bytes, headers: dict[str, str], agent: str) -> bytes:
    """The POST as aiohttp writes it: request line, Host, its default headers (unless given), `headers`, length."""
    lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.host_header}"]
    sent = {name.lower() for name in headers}
    for name, value in (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"), ("User-Agent", agent)):
        if name.lower() not in sent:
            lines.append(f"{name}: {value}")
    lines += [f"{check_header(name)}: {check_header(str(value))}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "\r\n".join(lines).encode("utf-8") + body
