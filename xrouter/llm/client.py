"""The async client every `call_<model>` goes through: LiteLLM with retries, limits, cache and ledger.

    client = LLMClient(load_catalog(), cache=ResponseCache("cache.db"), ledger=Ledger("calls.jsonl"))
    result = await client.call("gpt-5-mini", [{"role": "user", "content": "2+2?"}], max_tokens=256)

Transports: models reached through an explicitly configured OpenAI-compatible endpoint
(`openai/<name>` or `hosted_vllm/<name>` with an `api_base`, e.g. the replay server or a local vLLM)
are POSTed directly with a pooled aiohttp session (LiteLLM adds ~6 ms of CPU per call); every other model
goes through `litellm.acompletion`. `transport="litellm"` sends everything through LiteLLM.
Only per-call LiteLLM settings are used; the one global touched is the display-only
`litellm.suppress_debug_info`. LiteLLM's own retries are off so that `RetryConfig` is the single
retry policy: exponential backoff with jitter on retryable failures (429, 5xx, timeouts, connection
resets), bounded by `total_timeout_s` over all attempts.

Streaming: `call(..., on_delta=f)` asks for a streamed answer and hands each piece of text to `f` as it
arrives (`xrouter.llm.streaming`); the call still returns the whole answer as a `CallResult`, charged from the
final usage chunk or, when the provider sends none, from the counted tokens. A stream that breaks after its
first piece is not retried and comes back as a failure charged for the tokens delivered.

Cost: a provider-reported `usage.cost` (OpenRouter, the replay server) wins when plausible; otherwise the
catalog prices the reported usage, or estimated usage when the provider sent none (`xrouter.llm.charges`).
LiteLLM's `response_cost` is kept as `litellm_cost_usd`, a cross-check. Guards (`xrouter.llm.limits`): an
answer size cap and a per-model cooldown after repeated failures. Error texts and answers are redacted of
known keys (`xrouter.llm.redact`) before anyone sees them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import weakref
from dataclasses import replace
from functools import partial
from typing import Any, Literal

from xrouter.catalog.catalog import Catalog
from xrouter.catalog.models import ModelSpec
from xrouter.errors import CatalogError, UsageError
from xrouter.llm.cache import ResponseCache, cache_key
from xrouter.llm.charges import charge, partial_charge
from xrouter.llm.errors import classify_exception, retry_after_s
from xrouter.llm.ledger import Ledger
from xrouter.llm.limits import CallLimits, Cooldowns
from xrouter.llm.params import cache_fields, check_request, sampling_params
from xrouter.llm.redact import redact, register_secret
from xrouter.llm.response import parse_response
from xrouter.llm.retry import RetryConfig
from xrouter.llm.streaming import OnDelta, StreamBroken
from xrouter.llm.transport import (
    AnswerTooLarge,
    DirectHTTPTransport,
    litellm_completion,
    litellm_stream,
    supports_direct_http,
)
from xrouter.llm.types import CallError, CallResult

__all__ = ["QUERY_ID_HEADER", "REQUEST_ID_HEADER", "CallLimits", "LLMClient", "RetryConfig", "Transport"]

logger = logging.getLogger(__name__)

QUERY_ID_HEADER = "x-xrouter-query-id"
REQUEST_ID_HEADER = "x-xrouter-request-id"
DEFAULT_TIMEOUT_S = 120.0
# "auto": direct HTTP for OpenAI-compatible endpoints with an explicit api_base, LiteLLM otherwise;
# "litellm": every call through LiteLLM.
Transport = Literal["auto", "litellm"]
_TIMEOUT_CM = getattr(asyncio, "timeout", None)


class LLMClient:
    """Calls catalog models (LiteLLM, or direct HTTP for OpenAI-compatible endpoints); a `ModelCaller`."""

    supports_streaming = True  # `call` takes `on_delta`

    def __init__(
        self,
        catalog: Catalog,
        *,
        cache: ResponseCache | None = None,
        ledger: Ledger | None = None,
        retry: RetryConfig | None = None,
        max_concurrency_per_model: int = 16,
        api_base: str | None = None,
        api_key: str | None = None,
        transport: Transport = "auto",
        limits: CallLimits | None = None,
    ) -> None:
        if transport not in ("auto", "litellm"):
            raise UsageError(f"transport must be 'auto' or 'litellm', got {transport!r}")
        if max_concurrency_per_model < 1:
            raise UsageError(f"max_concurrency_per_model must be >= 1, got {max_concurrency_per_model}")
        self.catalog = catalog
        self.cache = cache
        self.ledger = ledger
        self.retry = retry or RetryConfig()
        self.max_concurrency_per_model = max_concurrency_per_model
        self.api_base = api_base
        self.api_key = api_key
        self.transport = transport
        self.limits = limits or CallLimits()
        self._cooldowns = Cooldowns(self.limits)
        self._http = DirectHTTPTransport(max_answer_bytes=self.limits.max_answer_bytes)
        self._rng = random.Random()
        register_secret(api_key)  # keys this client may send must never come back out of it
        for spec in catalog.models.values():
            if spec.api_key_env:
                register_secret(os.environ.get(spec.api_key_env))
        # asyncio primitives belong to one event loop; keep one semaphore per (loop, model).
        self._limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
            weakref.WeakKeyDictionary()
        )

    def _semaphore(self, model_id: str) -> asyncio.Semaphore:
        per_loop = self._limits.setdefault(asyncio.get_running_loop(), {})
        if model_id not in per_loop:
            per_loop[model_id] = asyncio.Semaphore(self.max_concurrency_per_model)
        return per_loop[model_id]

    def _endpoint(self, spec: ModelSpec) -> dict[str, Any]:
        """api_base / api_key for a model: client override, else the catalog entry, else LiteLLM's env."""
        base = self.api_base or spec.api_base
        key = self.api_key
        if key is None and spec.api_key_env:
            key = os.environ.get(spec.api_key_env)
        if key is None and base is not None:
            key = "unused"  # OpenAI-compatible local servers need some key string
        out: dict[str, Any] = {}
        if base is not None:
            out["api_base"] = base
        if key is not None:
            out["api_key"] = key
        return out

    def uses_litellm(self, spec: ModelSpec) -> bool:
        """True when calls of `spec` go through LiteLLM rather than direct HTTP."""
        return self.transport == "litellm" or not supports_direct_http(spec, self._endpoint(spec).get("api_base"))

    async def call(
        self,
        model_id: str,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout_s: float | None = None,
        request_id: str | None = None,
        query_id: str | None = None,
        top_p: float | None = None,
        on_delta: OnDelta | None = None,
    ) -> CallResult:
        """Call `model_id` with chat `messages`; failures come back as `success=False` results.

        With `on_delta` the answer is streamed and each piece handed to `on_delta` as it arrives.
        """
        started = time.monotonic()
        try:
            spec = self.catalog.resolve(model_id)
        except CatalogError as exc:
            return self._failed(model_id, CallError("not_found", str(exc)), request_id, query_id, None, started)
        try:
            check_request(messages, timeout_s)
            params = sampling_params(spec, temperature=temperature, max_tokens=max_tokens, top_p=top_p)
        except (TypeError, ValueError) as exc:  # a bad argument is the caller's error, reported like a 400
            return self._failed(spec.id, CallError("bad_request", str(exc)), request_id, query_id, spec, started)
        key = self._cache_key(spec, messages, params)
        if key is not None and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                hit = replace(hit, model_id=spec.id, request_id=request_id, latency_s=time.monotonic() - started)
                if on_delta is not None and hit.text:
                    on_delta(hit.text)
                return self._record(hit, query_id, spec)
        if self._cooldowns.remaining_s(spec.id) > 0:
            error = CallError("cooldown", self._cooldowns.message(spec.id))
            return self._failed(spec.id, error, request_id, query_id, spec, started)
        slot = self._semaphore(spec.id)
        if not await self._acquire(slot, started):
            waited = time.monotonic() - started
            message = (
                f"no free slot for {spec.id} within the {waited:.3g}s call budget "
                f"({self.max_concurrency_per_model} calls in flight)"
            )
            return self._failed(spec.id, CallError("timeout", message), request_id, query_id, spec, started)
        try:
            ids = (request_id, query_id)
            result = await self._call_with_retries(spec, messages, params, timeout_s, ids, started, on_delta)
        finally:
            slot.release()
        if key is not None and result.success and self.cache is not None and self.cache.writable:
            await self._store(key, result, started)
        return self._record(result, query_id, spec)

    async def _store(self, key: str, result: CallResult, started: float) -> None:
        """Cache a result off the event loop, waiting for it no longer than the call's budget allows.

        A store normally takes a millisecond (so the next identical call hits); on a locked database it
        can wait up to the cache's busy timeout, which must neither stall other calls nor this answer.
        """
        store = asyncio.ensure_future(asyncio.to_thread(self.cache.put, key, result))  # type: ignore[union-attr]
        remaining = started + self.retry.total_timeout_s - time.monotonic()
        await asyncio.wait({store}, timeout=max(remaining, 0.0))

    async def _acquire(self, slot: asyncio.Semaphore, started: float) -> bool:
        """Take a concurrency slot, waiting no longer than the call's total budget allows."""
        if not slot.locked():
            await slot.acquire()  # free slot: no timer needed
            return True
        remaining = started + self.retry.total_timeout_s - time.monotonic()
        try:
            await asyncio.wait_for(slot.acquire(), timeout=max(remaining, 0.0))
        except asyncio.TimeoutError:
            return False
        return True

    def _cache_key(self, spec: ModelSpec, messages: list[dict[str, Any]], params: dict[str, Any]) -> str | None:
        """The cache key of this request, or None when there is no cache or the request cannot be keyed."""
        if self.cache is None or self.cache.mode == "off":
            return None
        try:
            return cache_key(cache_fields(spec, messages, params, self.api_base))
        except (TypeError, ValueError) as exc:  # e.g. NaN or non-JSON objects in messages: skip the cache
            logger.warning("call %s: request cannot be cached (%s); calling without the cache", spec.id, exc)
            return None

    def _failed(
        self,
        model_id: str,
        error: CallError,
        request_id: str | None,
        query_id: str | None,
        spec: ModelSpec | None,
        started: float,
    ) -> CallResult:
        """A failure decided before any HTTP attempt (unknown model, bad arguments, no free slot)."""
        result = CallResult(
            model_id,
            "",
            False,
            latency_s=time.monotonic() - started,
            provider=spec.provider if spec is not None else "",
            error=error,
            attempts=0,
            request_id=request_id,
        )
        return self._record(result, query_id, spec)

    def _record(self, result: CallResult, query_id: str | None, spec: ModelSpec | None) -> CallResult:
        if self.ledger is not None:
            try:
                self.ledger.append(result, query_id=query_id, litellm_model=spec.litellm_model if spec else None)
            except OSError as exc:  # accounting must not turn a good answer into a failure
                logger.error("ledger %s: append failed (%s)", self.ledger.path, exc)
        return result

    async def _call_with_retries(
        self,
        spec: ModelSpec,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        timeout_s: float | None,
        ids: tuple[str | None, str | None],
        started: float,
        on_delta: OnDelta | None = None,
    ) -> CallResult:
        request_id, query_id = ids
        deadline = started + self.retry.total_timeout_s
        per_attempt = timeout_s or DEFAULT_TIMEOUT_S
        error = CallError("timeout", f"no attempt fitted in the {self.retry.total_timeout_s:g}s call budget")
        attempt = 0
        while attempt < self.retry.max_attempts:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            attempt += 1
            try:
                budget = min(per_attempt, remaining)
                response = await self._send(spec, messages, params, budget, ids, on_delta)
                result = self._success(spec, response, attempt, started, request_id, messages)
                self._cooldowns.succeeded(spec.id)
                return result
            except StreamBroken as exc:  # the reader has the first part: no retry, charge what was delivered
                self._cooldowns.failed(spec.id, "connection")
                return self._broken(spec, exc, messages, attempt, started, request_id)
            except Exception as exc:  # noqa: BLE001 - every provider failure becomes a CallResult
                error = _attempt_error(exc, min(per_attempt, remaining))
                logger.info("call %s attempt %d failed: %s (%s)", spec.id, attempt, error.kind, error.message)
                if self._cooldowns.failed(spec.id, error.kind):  # no more attempts on a model now cooling down
                    logger.warning("%s: %s", spec.id, self._cooldowns.message(spec.id))
                    break
                if not error.retryable or attempt >= self.retry.max_attempts:
                    break
                delay = self.retry.delay_s(attempt, self._rng)
                hinted = retry_after_s(exc)
                if hinted is not None:
                    delay = max(delay, min(hinted, self.retry.max_delay_s))
                if time.monotonic() + delay >= deadline:
                    break
                await asyncio.sleep(delay)
        return CallResult(
            spec.id,
            "",
            False,
            latency_s=time.monotonic() - started,
            provider=spec.provider,
            error=error,
            attempts=attempt,
            request_id=request_id,
        )

    async def _send(
        self,
        spec: ModelSpec,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        timeout_s: float,
        ids: tuple[str | None, str | None],
        on_delta: OnDelta | None = None,
    ) -> Any:
        endpoint = self._endpoint(spec)
        headers, metadata = self._ids(spec, endpoint, *ids)
        if self.transport == "auto" and supports_direct_http(spec, endpoint.get("api_base")):
            send = self._http.complete if on_delta is None else partial(self._http.stream, on_delta=on_delta)
            call = send(
                spec,
                api_base=endpoint["api_base"],
                api_key=endpoint.get("api_key"),
                messages=messages,
                params=params,
                timeout_s=timeout_s,
                headers=headers,
                metadata=metadata,
            )
            if on_delta is None:  # one deadline covers the whole exchange there: no hard stop is needed
                return await call
        elif on_delta is None:
            call = litellm_completion(spec, messages, params, timeout_s, endpoint, headers, metadata)
        else:
            limit = self.limits.max_answer_bytes
            call = litellm_stream(spec, messages, params, timeout_s, (endpoint, headers, metadata), on_delta, limit)
        # Hard stop slightly after the provider timeout, in case a transport ignores it.
        if _TIMEOUT_CM is not None:  # Python >= 3.11: no extra task per call, unlike wait_for
            async with _TIMEOUT_CM(timeout_s + 1.0):
                return await call
        return await asyncio.wait_for(call, timeout=timeout_s + 1.0)

    def _ids(
        self, spec: ModelSpec, endpoint: dict[str, Any], request_id: str | None, query_id: str | None
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Request/query ids as headers (explicit endpoints only) and body metadata (replay endpoints only).

        Native providers get neither: OpenAI, for one, rejects `metadata` unless `store` is set.
        """
        ids = {"query_id": query_id, "request_id": request_id}
        metadata = {k: str(v) for k, v in ids.items() if v is not None}
        if "api_base" not in endpoint:
            return {}, {}
        names = {"query_id": QUERY_ID_HEADER, "request_id": REQUEST_ID_HEADER}
        headers = {names[k]: v for k, v in metadata.items()}
        to_replay = spec.provider == "replay" or self.api_base is not None
        return headers, (metadata if to_replay else {})

    def _broken(
        self,
        spec: ModelSpec,
        exc: StreamBroken,
        messages: list[dict[str, Any]],
        attempt: int,
        started: float,
        request_id: str | None,
    ) -> CallResult:
        """The failure of a stream that broke after delivering part of its answer, charged for that part."""
        billed = partial_charge(spec, messages, exc.received)  # every token received is paid for
        logger.warning("call %s: %s", spec.id, redact(str(exc)))
        return CallResult(
            spec.id,
            "",
            False,
            usage=billed.usage,
            cost_usd=billed.cost_usd,
            spent_usd=0.0 if spec.provider == "replay" else (billed.cost_usd or 0.0),
            latency_s=time.monotonic() - started,
            provider=spec.provider,
            error=CallError("connection", redact(str(exc))),
            attempts=attempt,
            request_id=request_id,
            estimated=True,
        )

    async def aclose(self) -> None:
        """Close pooled HTTP connections of the running event loop (LiteLLM manages its own)."""
        await self._http.aclose()

    def _success(
        self,
        spec: ModelSpec,
        response: Any,
        attempt: int,
        started: float,
        request_id: str | None,
        messages: list[dict[str, Any]],
    ) -> Any:
        try:
            parsed = parse_response(response)
        except (ValueError, TypeError, AttributeError) as exc:
            raise _MalformedResponse(str(exc)) from exc
        if len(parsed.text) > self.limits.max_answer_bytes:  # the LiteLLM path reads before anyone can check
            raise AnswerTooLarge(self.limits.max_answer_bytes)
        replayed = parsed.replayed or spec.provider == "replay"
        billed = charge(spec, parsed, messages, replayed)
        cost = billed.cost_usd
        return CallResult(
            model_id=spec.id,
            text=redact(parsed.text, patterns=False),
            success=True,
            usage=billed.usage,
            cost_usd=cost,
            spent_usd=0.0 if replayed else (cost or 0.0),
            latency_s=time.monotonic() - started,
            provider="replay" if replayed else spec.provider,
            finish_reason=parsed.finish_reason,
            attempts=attempt,
            litellm_cost_usd=parsed.litellm_cost_usd,
            request_id=request_id,
            estimated=billed.estimated,
            cost_replaced=billed.cost_replaced,
        )


def _attempt_error(exc: BaseException, timeout_s: float) -> CallError:
    """The redacted `CallError` of one failed attempt."""
    if isinstance(exc, asyncio.TimeoutError):
        return CallError("timeout", f"no answer within {timeout_s:.3g}s")
    if isinstance(exc, AnswerTooLarge):
        return CallError("bad_response", str(exc))
    error = classify_exception(exc)
    return replace(error, message=redact(error.message))


class _MalformedResponse(ValueError):
    """The provider answered 200 but the body is not a usable chat completion."""

    def __str__(self) -> str:
        return f"invalid json / unusable completion: {super().__str__()}"
