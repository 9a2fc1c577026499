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
import weakref
from typing import Any

import httpx

from xrouter.catalog.models import ModelSpec

OPENAI_COMPATIBLE_PREFIXES: tuple[str, ...] = ("openai/", "hosted_vllm/")


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


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
    except (ValueError, AttributeError):
        message = None
    return " ".join(str(message or response.text[:300] or response.reason_phrase).split())


class DirectHTTPTransport:
    """POSTs chat completions with a pooled `httpx.AsyncClient` (one per event loop)."""

    def __init__(self, max_connections: int = 256) -> None:
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
        body: dict[str, Any] = {"model": wire_model(spec), "messages": messages, **params}
        if metadata:
            body["metadata"] = metadata
        send_headers = dict(headers)
        if api_key:
            send_headers["Authorization"] = f"Bearer {api_key}"
        response = await self._client().post(
            api_base.rstrip("/") + "/chat/completions", json=body, headers=send_headers, timeout=timeout_s
        )
        if response.status_code >= 400:
            raise HTTPStatusFailure(response.status_code, _error_message(response), response)
        data = json.loads(response.content)  # JSONDecodeError → classified as bad_response
        if not isinstance(data, dict):
            raise json.JSONDecodeError("expected a JSON object", response.text[:50], 0)
        return data

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
    import litellm  # heavy import, deferred to the first LiteLLM call

    # Display-only switch: without it LiteLLM prints a feedback banner on every provider error.
    litellm.suppress_debug_info = True
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
