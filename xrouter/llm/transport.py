"""The two ways a request leaves the client: direct HTTP for OpenAI-compatible endpoints, or LiteLLM.

LiteLLM costs several milliseconds of CPU per call (request building, logging objects, its own
cost lookup). For a model whose endpoint is an explicitly configured OpenAI-compatible `api_base`
(`openai/<name>` or `hosted_vllm/<name>` plus `api_base`), the client can instead POST the same
request with one shared `httpx.AsyncClient` per event loop. Errors are raised as exceptions that
`xrouter.llm.errors.classify_exception` understands (status code, Retry-After header, httpx
transport errors, JSON decode errors), so retries behave exactly as with LiteLLM.
`litellm_completion` is the LiteLLM path, with per-call settings only and LiteLLM's own retries off.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import weakref
from typing import Any

import httpx

from xrouter.catalog.models import ModelSpec
from xrouter.llm.limits import DEFAULT_MAX_ANSWER_BYTES
from xrouter.llm.streaming import OnDelta, read_litellm_stream, read_sse_stream

OPENAI_COMPATIBLE_PREFIXES: tuple[str, ...] = ("openai/", "hosted_vllm/")
# LiteLLM fetches a price map (and more) from the internet unless told not to; offline is the default here.
LITELLM_OFFLINE_DEFAULTS = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true"}


class AnswerTooLarge(ValueError):
    """The provider's answer is larger than the configured cap (not read past it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than {limit} bytes (the answer size cap); not read further")


class HTTPStatusFailure(Exception):
    """A non-2xx answer; `status_code` and `response` (for Retry-After) are what classification reads."""

    def __init__(self, status_code: int, message: str, response: httpx.Response) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.response = response


def wire_model(spec: ModelSpec) -> str:
    """The `model` field sent on the wire: the LiteLLM id without its provider prefix."""
    for prefix in OPENAI_COMPATIBLE_PREFIXES:
        if spec.litellm_model.startswith(prefix):
            return spec.litellm_model[len(prefix) :]
    return spec.litellm_model


def supports_direct_http(spec: ModelSpec, api_base: str | None) -> bool:
    """True when the model is reached through an explicitly configured OpenAI-compatible endpoint."""
    return api_base is not None and spec.litellm_model.startswith(OPENAI_COMPATIBLE_PREFIXES)


def _error_message(content: bytes, response: httpx.Response) -> str:
    try:
        body = json.loads(content)
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
    except (ValueError, AttributeError):
        message = None
    text = content[:300].decode("utf-8", "replace")
    return " ".join(str(message or text or response.reason_phrase).split())


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The (decoded) body of a streamed response, raising AnswerTooLarge instead of reading past `limit` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise AnswerTooLarge(limit)
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class DirectHTTPTransport:
    """POSTs chat completions with a pooled `httpx.AsyncClient` (one per event loop)."""

    def __init__(self, max_connections: int = 256, max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> None:
        self.max_answer_bytes = max_answer_bytes
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(limits=self._limits, trust_env=False)
            self._clients[loop] = client
        return client

    def _request(self, spec: ModelSpec, api_base: str, api_key: str | None, body_extra: dict[str, Any], call: dict):
        body: dict[str, Any] = {"model": wire_model(spec), "messages": call["messages"], **call["params"]}
        if call["metadata"]:
            body["metadata"] = call["metadata"]
        body.update(body_extra)
        send_headers = dict(call["headers"])
        if api_key:
            send_headers["Authorization"] = f"Bearer {api_key}"
        client = self._client()
        url = api_base.rstrip("/") + "/chat/completions"
        return client, client.build_request("POST", url, json=body, headers=send_headers, timeout=call["timeout_s"])

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
        call = {"messages": messages, "params": params, "timeout_s": timeout_s, "headers": headers}
        client, request = self._request(spec, api_base, api_key, {}, {**call, "metadata": metadata})
        response = await client.send(request, stream=True)
        try:  # streamed so that an oversized answer is refused without being held in memory
            content = await read_capped(response, self.max_answer_bytes)
        finally:
            await response.aclose()
        if response.status_code >= 400:
            raise HTTPStatusFailure(response.status_code, _error_message(content, response), response)
        data = json.loads(content)  # JSONDecodeError → classified as bad_response
        if not isinstance(data, dict):
            raise json.JSONDecodeError("expected a JSON object", content[:50].decode("utf-8", "replace"), 0)
        return data

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
        call = {"messages": messages, "params": params, "timeout_s": timeout_s, "headers": headers}
        extra = {"stream": True, "stream_options": {"include_usage": True}}
        client, request = self._request(spec, api_base, api_key, extra, {**call, "metadata": metadata})
        response = await client.send(request, stream=True)
        try:
            if response.status_code >= 400:
                content = await read_capped(response, self.max_answer_bytes)
                raise HTTPStatusFailure(response.status_code, _error_message(content, response), response)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                content = await read_capped(response, self.max_answer_bytes)  # a server that ignored stream=true
                data = json.loads(content)
                if not isinstance(data, dict):
                    raise json.JSONDecodeError("expected a JSON object", content[:50].decode("utf-8", "replace"), 0)
                return data
            return await read_sse_stream(response.aiter_lines(), on_delta, self.max_answer_bytes)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


async def litellm_completion(
    spec: ModelSpec,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    timeout_s: float,
    endpoint: dict[str, Any],
    headers: dict[str, str],
    metadata: dict[str, str],
) -> Any:
    """One chat completion through `litellm.acompletion` with per-call settings only (no LiteLLM retries)."""
    litellm = load_litellm()
    kwargs: dict[str, Any] = {
        "model": spec.litellm_model,
        "messages": messages,
        "timeout": timeout_s,
        "num_retries": 0,  # our retries are the only ones
        "max_retries": 0,
        **params,
        **endpoint,
    }
    if headers:
        kwargs["extra_headers"] = headers
    if metadata:
        kwargs["extra_body"] = {"metadata": metadata}
    return await litellm.acompletion(**kwargs)


async def litellm_stream(
    spec: ModelSpec,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    timeout_s: float,
    route: tuple[dict[str, Any], dict[str, str], dict[str, str]],
    on_delta: OnDelta,
    limit: int,
) -> dict[str, Any]:
    """A streamed completion through LiteLLM (`route` = endpoint, headers, metadata); see `read_litellm_stream`."""
    endpoint, headers, metadata = route
    streamed = {**params, "stream": True, "stream_options": {"include_usage": True}}
    chunks = await litellm_completion(spec, messages, streamed, timeout_s, endpoint, headers, metadata)
    return await read_litellm_stream(chunks, on_delta, limit)


def load_litellm() -> Any:
    """Import LiteLLM offline by default (local price map, no self-initiated fetches) with its banner off.

    An explicit LITELLM_LOCAL_MODEL_COST_MAP / LITELLM_OFFLINE_MODE in the environment is respected.
    """
    for name, value in LITELLM_OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)
    import litellm  # heavy (seconds): done at server start-up by `warm_litellm`, else on the first LiteLLM call

    # Display-only switch: without it LiteLLM prints a feedback banner on every provider error.
    litellm.suppress_debug_info = True
    return litellm


def warm_litellm(litellm_models: list[str]) -> None:
    """Import LiteLLM and send one completion per model to a throw-away responder on 127.0.0.1.

    A mocked completion warms LiteLLM only in part; a real round trip through each provider route also builds its
    clients and serialisers, so the first real request does not pay for them (measured: 0.34 s of blocked event
    loop after a mocked warm-up, 0.01 s after this one). Runs in a thread with its own event loop, so it works
    whether or not the caller is inside one. Best effort: a model whose route does not speak OpenAI's format is
    still imported and set up before its call fails here.
    """
    litellm = load_litellm()
    models = list(dict.fromkeys(litellm_models))
    if models:
        thread = threading.Thread(target=asyncio.run, args=(_warm_up(litellm, models),), name="litellm-warm-up")
        thread.start()
        thread.join(timeout=120)


_CANNED = json.dumps(
    {
        "id": "chatcmpl-warm-up",
        "object": "chat.completion",
        "created": 0,
        "model": "warm-up",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()


async def _canned_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer one HTTP request, whatever it asks, with the canned chat completion."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        response = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
        writer.write(response + b"content-length: %d\r\n\r\n" % len(_CANNED) + _CANNED)
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError):
        pass
    finally:
        writer.close()


async def _warm_up(litellm: Any, models: list[str]) -> None:
    server = await asyncio.start_server(_canned_answer, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    async with server:
        for model in models:
            messages = [{"role": "user", "content": "warm-up"}]
            try:
                await litellm.acompletion(
                    model=model, messages=messages, api_base=base, api_key="warm-up", timeout=30, num_retries=0,
                    max_retries=0,
                )  # fmt: skip
            except Exception:  # noqa: BLE001 - warming is best effort; real calls report real errors
                continue
