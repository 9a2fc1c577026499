"""Hostile clients: non-finite numbers, absurd nesting, bodies that never arrive, oversized or endless headers."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.faults.conftest import API_KEY, BOUND_S, error_of

BODY = b'{"model": "router", "messages": [{"role": "user", "content": "hi [[r1=text]]"}], '


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_cost_usd", b"NaN"),
        ("temperature", b"NaN"),
        ("max_cost_usd", b"Infinity"),
        ("temperature", b"-Infinity"),
        ("max_cost_usd", b"1e999"),
        ("top_p", b"NaN"),
    ],
)
def test_non_finite_numbers_are_rejected_with_400(served, field, value):
    """NaN, ±Infinity and numbers that overflow to infinity are a 400 naming the field, never a run."""
    response = served.post_raw(None, content=BODY + b'"' + field.encode() + b'": ' + value + b"}")
    error = error_of(response, 400, "invalid_value")
    assert error["param"] == field or error["param"] is None
    assert served.request_line(response) is None  # nothing ran, nothing spent
    served.assert_still_serving()


@pytest.mark.parametrize("depth", [100, 5_000, 100_000])
def test_deeply_nested_body_is_a_400(served, depth):
    """A body nested far deeper than any chat request is rejected as invalid JSON, not a 500."""
    nested = b"[" * depth + b"]" * depth
    response = served.post_raw(None, content=BODY + b'"metadata": {"x": ' + nested + b"}}")
    error = error_of(response, 400, "invalid_json")
    assert "nested" in error["message"]
    served.assert_still_serving()


async def _half_body(port: int, hold_s: float) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {API_KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    )
    writer.write(head.encode() + BODY[:40])
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), hold_s)  # everything until the server closes
    finally:
        writer.close()


def test_clients_sending_half_a_body_get_408_and_others_are_served(make_served):
    """300 clients that stop mid-body are answered 408 after the body timeout; a normal client is served meanwhile."""
    served = make_served(body_timeout_s=1.0)
    port = int(served.url.rsplit(":", 1)[1])

    async def scenario() -> tuple[list[bytes], int]:
        stalled = [asyncio.ensure_future(_half_body(port, BOUND_S)) for _ in range(300)]
        await asyncio.sleep(0.2)
        normal = await asyncio.to_thread(served.post, "Normal client [[r1=text]]")
        return await asyncio.gather(*stalled), normal.status_code

    started = time.monotonic()
    answers, normal_status = asyncio.run(scenario())
    assert normal_status == 200 and time.monotonic() - started < BOUND_S
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), answers[0][:200]
    assert b"request_timeout" in answers[0]
    served.assert_still_serving()


def test_oversized_headers_get_431(make_served):
    """Headers above the limit are refused before the app sees them; the server keeps serving."""
    served = make_served(max_header_bytes=8192)
    port = int(served.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND_S) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431")
    served.assert_still_serving()


def test_connection_that_never_finishes_its_headers_is_closed(make_served):
    """A client that sends half a request line and waits is disconnected after the header timeout."""
    served = make_served(header_timeout_s=1.0)
    port = int(served.url.rsplit(":", 1)[1])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND_S) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        answer = sock.recv(4096)  # b"" (closed) or a 408 before the close
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < BOUND_S
    served.assert_still_serving()
