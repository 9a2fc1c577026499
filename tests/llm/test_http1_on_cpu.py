"""The lean HTTP/1.1 client: what it sends, the answers it reads, and the failures it reports as aiohttp would."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from xrouter.llm.http1 import Http1Pool, lean_target, redirect

BODY = json.dumps({"choices": [{"message": {"content": "hello"}}]}).encode()


def _answer(path: str) -> bytes:
    """The raw HTTP answer the test server gives for a request path."""
    plain = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(BODY) + BODY
    if path == "/chunked":
        half = len(BODY) // 2
        chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, BODY[:half], len(BODY) - half, BODY[half:])
        return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks
    if path == "/hints":
        return b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n" + plain
    if path == "/gzip":
        packed = gzip.compress(BODY)
        return b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n" % len(packed) + packed
    if path == "/until-close":
        return b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + BODY
    if path == "/cut":
        return b"HTTP/1.1 200 OK\r\ncontent-length: 4000\r\n\r\n" + BODY
    if path == "/moved":
        return b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n"
    if path == "/retry":
        return b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\ncontent-length: 2\r\n\r\n{}"
    return plain


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[bytes], list[int]]]:
    """(port, raw requests received, ids of the connections they came on) of a raw HTTP/1.1 test server."""
    seen: list[bytes] = []
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                seen.append(head + await reader.readexactly(length))
                connections.append(id(writer))
                path = head.split(b" ")[1].decode()
                if path == "/hang":
                    continue  # never answers
                writer.write(_answer(path))
                await writer.drain()
                if path in ("/until-close", "/cut"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield srv.sockets[0].getsockname()[1], seen, connections
    srv.close()


async def _post(pool: Http1Pool, port: int, path: str, headers: dict | None = None, limit: int = 1 << 20, wait=5.0):
    target = lean_target(f"http://127.0.0.1:{port}{path}")
    assert target is not None
    return await pool.post(
        target, b'{"x": 1}', headers or {}, timeout_s=wait, limit=limit, too_large=lambda: OverflowError("cap")
    )


async def test_sends_aiohttp_headers_and_reuses_the_connection(server) -> None:
    port, seen, connections = server
    pool = Http1Pool()
    first = await _post(pool, port, "/v1/chat/completions", {"Authorization": "Bearer k"})
    await _post(pool, port, "/v1/chat/completions")
    assert first.status == 200 and json.loads(first.body) == json.loads(BODY)
    head = seen[0].decode()
    assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n") and f"Host: 127.0.0.1:{port}\r\n" in head
    assert "Accept-Encoding: gzip, deflate\r\n" in head and "aiohttp/" in head and "Authorization: Bearer k" in head
    assert seen[0].endswith(b'{"x": 1}') and connections[0] == connections[1]
    pool.close()


@pytest.mark.parametrize("path", ["/chunked", "/gzip", "/until-close", "/hints"])
async def test_reads_chunked_compressed_until_close_and_hinted_answers(server, path: str) -> None:
    pool = Http1Pool()
    assert (await _post(pool, server[0], path)).body == BODY
    pool.close()


async def test_failures_are_aiohttp_errors_and_the_cap_is_kept(server) -> None:
    port = server[0]
    pool = Http1Pool()
    with pytest.raises(aiohttp.ClientPayloadError):
        await _post(pool, port, "/cut")
    with pytest.raises(OverflowError):
        await _post(pool, port, "/v1/chat/completions", limit=len(BODY) - 1)
    with pytest.raises(ValueError, match="header injection"):
        await _post(pool, port, "/v1/chat/completions", {"x-xrouter-query-id": "a\r\nInjected: 1"})
    with pytest.raises(aiohttp.ClientConnectorError):
        await _post(pool, 1, "/v1/chat/completions")
    pool.close()


async def test_redirects_are_handed_on_and_retry_after_is_readable(server) -> None:
    port = server[0]
    pool = Http1Pool()
    url = f"http://127.0.0.1:{port}/moved"
    assert redirect(url, await _post(pool, port, "/moved")) == ("POST", f"http://127.0.0.1:{port}/elsewhere")
    limited = await _post(pool, port, "/retry")
    assert limited.status == 429 and limited.headers.get("retry-after") == "2" and redirect(url, limited) is None
    pool.close()


def test_only_plain_http_urls_take_the_lean_path() -> None:
    assert lean_target("http://[::1]:8000/v1/chat/completions").host_header == "[::1]:8000"
    assert lean_target("http://example.org/v1?k=1").path == "/v1?k=1"
    for url in ("https://api.openai.com/v1/chat/completions", "http://user:pw@127.0.0.1/v1", "http://h/a b"):
        assert lean_target(url) is None


async def test_a_late_answer_times_out_and_frees_its_slot(server) -> None:
    port = server[0]
    pool = Http1Pool(limit=1)
    with pytest.raises(TimeoutError):
        await _post(pool, port, "/hang", wait=0.2)
    held = asyncio.ensure_future(_post(pool, port, "/hang", wait=0.5))
    await asyncio.sleep(0.05)  # the only slot is taken: the next request waits for it within its own deadline
    with pytest.raises(TimeoutError):
        await _post(pool, port, "/v1/chat/completions", wait=0.1)
    with pytest.raises(TimeoutError):
        await held
    assert (await _post(pool, port, "/v1/chat/completions")).status == 200  # every slot was given back
    pool.close()
