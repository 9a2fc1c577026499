"""`--backend cache`: answer only from a response cache; a miss is a failed call, never a live request."""

from __future__ import annotations

import time
from typing import Any

from xrouter.catalog import Catalog
from xrouter.errors import CatalogError
from xrouter.llm.cache import ResponseCache, cache_key
from xrouter.llm.params import cache_fields, sampling_params
from xrouter.llm.types import CallError, CallResult


class CacheOnlyCaller:
    """A `ModelCaller` over a read-only `ResponseCache`, keyed exactly like `LLMClient` keys it."""

    def __init__(self, catalog: Catalog, cache: ResponseCache) -> None:
        self.catalog = catalog
        self.cache = cache

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
    ) -> CallResult:
        """The cached result for this request, or a `not_found` failure."""
        started = time.perf_counter()
        try:
            spec = self.catalog.resolve(model_id)
        except CatalogError as exc:
            return CallResult(model_id, "", False, error=CallError("not_found", str(exc)), request_id=request_id)
        params = sampling_params(spec, temperature=temperature, max_tokens=max_tokens)
        hit = self.cache.get(cache_key(cache_fields(spec, messages, params)))
        if hit is None:
            error = CallError("not_found", f"no cached response of {spec.id} for this request (cache-only backend)")
            return CallResult(spec.id, "", False, error=error, request_id=request_id,
                              latency_s=time.perf_counter() - started)  # fmt: skip
        return hit
