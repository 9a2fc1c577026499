"""The two ways a request leaves the client: direct HTTP for OpenAI-compatible endpoints, or LiteLLM.

LiteLLM costs several milliseconds of CPU per call (request building, logging objects, its own
cost lookup). For a model whose endpoint is an explicitly configured OpenAI-compatible `api_base`
(`openai/<name>` or `hosted_vllm/<name>` plus `api_base`), the client can instead POST the same
request with one pooled aiohttp session per event loop (`xrouter.llm.direct_http`). Errors are raised as
exceptions that `xrouter.llm.errors.classify_exception` understands (status code, Retry-After header,
transport errors, JSON decode errors), so retries behave exactly as with LiteLLM.
`litellm_completion` is the LiteLLM path, with per-call settings only and LiteLLM's own retries off.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any

from xrouter.catalog.models import ModelSpec
from xrouter.llm.direct_http import (
    OPENAI_COMPATIBLE_PREFIXES,
    AnswerTooLarge,
    DirectHTTPTransport,
    HTTPStatusFailure,
    wire_model,
)
from xrouter.llm.streaming import STREAM_PARAMS, OnDelta, read_litellm_stream

__all__ = [
    "OPENAI_COMPATIBLE_PREFIXES",
    "AnswerTooLarge",
    "DirectHTTPTransport",
    "HTTPStatusFailure",
    "litellm_completion",
    "litellm_stream",
    "supports_direct_http",
    "warm_litellm",
    "wire_model",
]

# LiteLLM fetches a price map (and more) from the internet unless told not to; offline is the default here.
LITELLM_OFFLINE_DEFAULTS = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true"}


def supports_direct_http(spec: ModelSpec, api_base: str | None) -> bool:
    """True when the model is reached through an explicitly configured OpenAI-compatible endpoint."""
    return api_base is not None and spec.litellm_model.startswith(OPENAI_COMPATIBLE_PREFIXES)


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
    streamed = {**params, **STREAM_PARAMS}
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
