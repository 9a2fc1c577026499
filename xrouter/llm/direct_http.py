"""Direct HTTP to OpenAI-compatible endpoints with one pooled aiohttp session per event loop.

Used by the call layer for models reached through an explicitly configured `api_base` (the replay server, a
local vLLM). aiohttp is used rather than httpx: measured in `xrouter serve` with targets over HTTP, httpx's
connection pool and stream layers took about three times the CPU per request of aiohttp's. Non-streamed calls
to plain `http://` endpoints go through the leaner `xrouter.llm.http1` pool instead (same wire format, same
errors, a third of aiohttp's CPU per request). Errors are raised in
forms `xrouter.llm.errors.classify_exception` understands: `HTTPStatusFailure` (status and Retry-After),
aiohttp's connection errors, `asyncio.TimeoutError`, `json.JSONDecodeError`; `AnswerTooLarge` instead of
reading past the answer size cap.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

from xrouter.catalog.models import ModelSpec
from xrouter.io import dumps_bytes, loads
from xrouter.llm.http1 import LoopPools, lean_target, redirect
from xrouter.llm.limits import DEFAULT_MAX_ANSWER_BYTES
from xrouter.llm.streaming import STREAM_PARAMS, OnDelta, read_sse_stream


class AnswerTooLarge(ValueError):
    """The provider's answer is larger than the configured cap (not read past it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than {limit} bytes (the answer size cap); not read further")


class HTTPStatusFailure(Exception):
    """A non-2xx answer; `status_code` and `response` (for Retry-After) are what classification reads."""

    def __init__(self, status_code: int, message: str, response: Any) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.response = response


OPENAI_COMPATIBLE_PREFIXES: tuple[str, ...] = ("openai/", "hosted_vllm/")


def wire_model(spec: ModelSpec) -> str:
    """The `model` field sent on the wire: the LiteLLM id without its provider prefix."""
    for prefix in OPENAI_COMPATIBLE_PREFIXES:
        if spec.litellm_model.startswith(prefix):
            return spec.litellm_model[len(prefix) :]
    return spec.litellm_model


def _error_message(content: bytes, reason: str | None) -> str:
    try:
        body = json.loads(content)
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
    except (ValueError, AttributeError):
        message = None
    text = content[:300].decode("utf-8", "replace")
    return " ".join(str(message or text or reason or "").split())


async def read_capped(response: Any, limit: int) -> bytes:
    """The (decoded) body of an aiohttp response, raising AnswerTooLarge instead of reading past `limit` bytes."""
    declared = response.content_length
    if declared is not None and declared > limit:
        raise AnswerTooLarge(limit)
    if declared is not None and not response.headers.get("Content-Encoding"):
        return await response.read()  # an early end raises ClientPayloadError (a connection failure)
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(content: bytes) -> dict[str, Any]:
    data = loads(content)  # as json.loads: JSONDecodeError → classified as bad_response
    if not isinstance(data, dict):
        raise json.JSONDecodeError("expected a JSON object", content[:50].decode("utf-8", "replace"), 0)
    return data


async def sse_lines(response: Any) -> AsyncIterator[str]:
    """The text lines of a streamed body, however long (aiohttp's own line reader refuses long ones)."""
    pending = b""
    async for data in response.content.iter_any():
        pending += data
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            yield raw.decode("utf-8", "replace").rstrip("\r")
    if pending:
        yield pending.decode("utf-8", "replace").rstrip("\r")


class DirectHTTPTransport:
    """POSTs chat completions with a pooled `aiohttp.ClientSession` (one per event loop)."""

    def __init__(self, max_connections: int = 256, max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> None:
        self.max_answer_bytes = max_answer_bytes
        self.max_connections = max_connections
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._pools = LoopPools(max_connections)

    def _session(self) -> Any:
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self.max_connections, ttl_dns_cache=300)
            session = aiohttp.ClientSession(connector=connector, trust_env=False)
            self._sessions[loop] = session
        return session

    @staticmethod
    def _headers(api_key: str | None, extra: dict[str, str]) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **extra}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        return headers

    def _post(self, spec: ModelSpec, api_base: str, api_key: str | None, body: Any, call: dict) -> Any:
        import aiohttp

        url = call.get("url") or api_base.rstrip("/") + "/chat/completions"
        data = body if isinstance(body, bytes | None) else json.dumps(body)
        timeout = aiohttp.ClientTimeout(total=call["timeout_s"])
        headers = self._headers(api_key, call["headers"])
        return self._session().request(call.get("method", "POST"), url, data=data, headers=headers, timeout=timeout)

    @staticmethod
    def _body(spec: ModelSpec, messages: list[dict[str, Any]], params: dict[str, Any], metadata: dict[str, str]):
        body: dict[str, Any] = {"model": wire_model(spec), "messages": messages, **params}
        if metadata:
            body["metadata"] = metadata
        return body

    async def complete(
        self,
        spec: ModelSpec,
        *,
        api_base: str,
        api_key: str | None,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        timeout_s: float,
        headers: dict[str, str],
        metadata: dict[str, str],
    ) -> dict[str, Any]:
        """One chat completion as a parsed JSON dict; raises on HTTP, transport or JSON errors."""
        body = self._body(spec, messages, params, metadata)
        call: dict[str, Any] = {"headers": headers, "timeout_s": timeout_s}
        url = api_base.rstrip("/") + "/chat/completions"
        target = lean_target(url)
        if target is not None:  # plain http: the lean client (redirects are followed by aiohttp, as before)
            data = dumps_bytes(body)
            limit, started = self.max_answer_bytes, time.monotonic()
            reply = await self._pools.current().post(
                target, data, self._headers(api_key, headers), timeout_s=timeout_s, limit=limit,
                too_large=lambda: AnswerTooLarge(limit),
            )  # fmt: skip
            moved = redirect(url, reply)
            if moved is None:
                if reply.status >= 400:
                    raise HTTPStatusFailure(reply.status, _error_message(reply.body, reply.reason), reply)
                return _json_object(reply.body)
            call.update(method=moved[0], url=moved[1], timeout_s=max(timeout_s - (time.monotonic() - started), 1e-3))
            body = data if moved[0] == "POST" else None
        async with self._post(spec, api_base, api_key, body, call) as response:
            content = await read_capped(response, self.max_answer_bytes)
            if response.status >= 400:
                raise HTTPStatusFailure(response.status, _error_message(content, response.reason), response)
        return _json_object(content)

    async def stream(
        self,
        spec: ModelSpec,
        *,
        api_base: str,
        api_key: str | None,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        timeout_s: float,
        headers: dict[str, str],
        metadata: dict[str, str],
        on_delta: OnDelta,
    ) -> dict[str, Any]:
        """A streamed chat completion: pieces go to `on_delta`, the whole answer comes back as a dict."""
        body = {**self._body(spec, messages, params, metadata), **STREAM_PARAMS}
        async with self._post(spec, api_base, api_key, body, {"headers": headers, "timeout_s": timeout_s}) as response:
            if response.status >= 400:
                content = await read_capped(response, self.max_answer_bytes)
                raise HTTPStatusFailure(response.status, _error_message(content, response.reason), response)
            if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
                return _json_object(await read_capped(response, self.max_answer_bytes))  # stream=true ignored
            return await read_sse_stream(sse_lines(response), on_delta, self.max_answer_bytes)

    async def aclose(self) -> None:
        """Close the session of the running event loop."""
        self._pools.close()
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()
