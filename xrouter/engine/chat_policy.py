"""The router behind an OpenAI-compatible `/v1/chat/completions` endpoint: `--policy endpoint`.

It serves a trained router from vLLM or SGLang started with a hermes tool parser (the default with
`--router-api-base`); answers are read by `xrouter.engine.router_response` (hermes blocks in the text
included), and anything that is not a well-formed chat completion, or an answer over the size cap, is a
`RouterPolicyError`, which the server answers with 502. A catalog model as router is
`xrouter.engine.litellm_policy`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from xrouter.engine.router_response import broken_turn, parse_router_response
from xrouter.engine.router_turn import (
    PolicySettings,
    RouterPolicyError,
    RouterPrice,
    RouterTurn,
)
from xrouter.io import dumps_bytes, loads
from xrouter.llm.direct_http import AnswerTooLarge, read_capped, sse_lines
from xrouter.llm.http1 import LoopPools, lean_target, redirect
from xrouter.llm.http1 import aiohttp_timeout as _left
from xrouter.llm.redact import register_secret
from xrouter.llm.streaming import STREAM_PARAMS, StreamBroken, read_sse_stream

logger = logging.getLogger(__name__)
_JSON = {"Content-Type": "application/json"}


def _too_large(limit: int) -> RouterPolicyError:
    return RouterPolicyError(f"router answer larger than {limit} bytes (the answer size cap)")


async def _read_capped(response: Any, limit: int) -> bytes:
    """An aiohttp response body, refused (RouterPolicyError) rather than read past `limit` bytes."""
    try:
        return await read_capped(response, limit)
    except AnswerTooLarge:
        raise _too_large(limit) from None


class EndpointRouterPolicy:
    """A router served behind an OpenAI-compatible `/v1/chat/completions` (vLLM, SGLang, transformers serve).

    Uses aiohttp: one pooled session per event loop, created on first use (httpx's pool costs several
    times more CPU per request under concurrency, which dominated the server's overhead); a plain `http://`
    endpoint is POSTed through the leaner `xrouter.llm.http1` pool, with the same headers and errors.
    """

    def __init__(self, settings: PolicySettings) -> None:
        if not settings.api_base:
            raise RouterPolicyError("the endpoint policy needs --router-api-base (e.g. http://127.0.0.1:8001/v1)")
        self.name = settings.router_model
        self._settings = settings
        self._url = settings.api_base.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        register_secret(settings.api_key)
        self.price = settings.price or RouterPrice()  # read by the engine to keep the next turn in the budget
        self.max_tokens = settings.max_tokens
        self.streams = settings.stream_turns  # read by the engine: use `stream_turn` for streamed requests
        self._session: Any = None
        self._pools, self._lean = LoopPools(256), lean_target(self._url)
        self._tools: Any = None  # the tool list last serialised, and its JSON text (the same every turn)
        self._tools_json = b""

    def _client(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self._settings.timeout_s),
                connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300),
            )
        return self._session

    def _payload(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.name, "messages": messages, "max_tokens": self._settings.max_tokens}
        if tools:
            payload["tool_choice"] = "auto"
        if self._settings.temperature is not None:
            payload["temperature"] = self._settings.temperature
        return payload

    async def next_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> RouterTurn:
        """POST the router chat to the endpoint and parse its answer."""
        import asyncio

        import aiohttp

        started = time.perf_counter()
        data = self._body(self._payload(messages, tools), tools)
        try:
            raw, status = await self._send(data)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise RouterPolicyError(f"router endpoint unreachable: {exc.__class__.__name__}: {exc}") from None
        if status != 200:
            text = raw.decode("utf-8", "replace")[:300]
            raise RouterPolicyError(f"router endpoint answered HTTP {status}: {text}")
        return self._parse(raw, started, messages)

    def _parse(self, raw: bytes, started: float, messages: list[dict[str, Any]]) -> RouterTurn:
        try:
            body = loads(raw)
        except (ValueError, RecursionError):
            raise RouterPolicyError("router endpoint returned a body that is not JSON") from None
        return parse_router_response(body, self.price, time.perf_counter() - started, messages)

    async def _send(self, data: bytes) -> tuple[bytes, int]:
        """(body, status) of one POST: the lean pool for plain http (aiohttp follows its redirects), else aiohttp."""
        url, method, options, started = self._url, "POST", {}, time.monotonic()
        headers, limit = _JSON, self._settings.max_answer_bytes
        if self._lean is not None:
            reply = await self._pools.current().post(
                self._lean, data, {**self._headers, **headers}, timeout_s=self._settings.timeout_s, limit=limit,
                too_large=lambda: _too_large(limit),
            )  # fmt: skip
            if (moved := redirect(url, reply)) is None:
                return reply.body, reply.status
            method, url = moved  # within what is left of the turn's time
            options["timeout"] = _left(self._settings.timeout_s - (time.monotonic() - started))
        body = data if method == "POST" else None
        async with self._client().request(method, url, data=body, headers=headers, **options) as response:
            return await _read_capped(response, limit), response.status

    async def stream_turn(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], on_text: Callable[[str], None]
    ) -> RouterTurn:
        """Like `next_turn`, with `stream: true`: the turn's text goes to `on_text` piece by piece as it arrives.

        Raises `RouterTurnBroken` (with what arrived, usage estimated) when the stream stops after some text
        was handed on; an endpoint that ignores `stream` and answers in one body is parsed as usual.
        """
        import asyncio

        import aiohttp

        payload = {**self._payload(messages, tools), **STREAM_PARAMS}
        started, limit = time.perf_counter(), self._settings.max_answer_bytes
        try:
            async with self._client().post(self._url, data=self._body(payload, tools), headers=_JSON) as response:
                if response.status != 200:
                    text = (await _read_capped(response, limit)).decode("utf-8", "replace")[:300]
                    raise RouterPolicyError(f"router endpoint answered HTTP {response.status}: {text}")
                if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
                    return self._parse(await _read_capped(response, limit), started, messages)
                body = await read_sse_stream(sse_lines(response), on_text, limit)
        except StreamBroken as exc:
            raise broken_turn(exc, self.price, time.perf_counter() - started, messages) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:  # ConnectionError: before any text
            raise RouterPolicyError(f"router endpoint stream failed: {exc.__class__.__name__}: {exc}") from None
        return parse_router_response(body, self.price, time.perf_counter() - started, messages)

    def _body(self, payload: dict[str, Any], tools: list[dict[str, Any]]) -> bytes:
        """The request JSON; the tool schemas, the bulk of it and the same list every turn, are serialised once."""
        data = dumps_bytes(payload)
        if not tools:
            return data
        if tools is not self._tools:
            self._tools, self._tools_json = tools, dumps_bytes(tools)
        return b"".join((data[:-1], b',"tools":', self._tools_json, b"}"))

    async def aclose(self) -> None:
        """Close the HTTP connection pools."""
        self._pools.close()
        if self._session is not None and not self._session.closed:
            await self._session.close()


def endpoint_policy(arg: str, settings: PolicySettings) -> EndpointRouterPolicy:
    """Factory for `--policy endpoint[:URL]` (URL overrides --router-api-base)."""
    if arg:
        settings = PolicySettings(**{**settings.__dict__, "api_base": arg})
    return EndpointRouterPolicy(settings)
