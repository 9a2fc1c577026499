"""`router:<base_url>`: benchmark a running xrouter API server (`xrouter serve`) through its HTTP API.

Cost, calls and models come from the response's `router_metadata` (`total_cost`, `call_history` entries that
name a model, `models_called`, `model_used`). With `xrouter bench --lambda`, each request carries
`"xrouter": {"cost_lambda": λ}`. With recorded outcomes the answer is scored as the recorded outcome of the
model whose recorded response it reproduces (whitespace-normalised), else of `model_used`; an answer that
matches no recorded response (e.g. one the router wrote itself) scores 0 and is flagged in the sample.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from xrouter.eval.datasets import BenchItem
from xrouter.eval.episodes import episode_sample, recorded_answer_model
from xrouter.eval.policies import BenchContext, Policy, Sample


class RemoteRouterPolicy(Policy):
    """Sends each query to `<base_url>/v1/chat/completions` and reads `router_metadata`."""

    def __init__(
        self, name: str, base_url: str, *, api_key: str | None = None, model: str = "xrouter", timeout_s: float = 600
    ) -> None:
        super().__init__(name)
        base = base_url.rstrip("/")
        self.url = base if base.endswith("/v1") else f"{base}/v1"
        self.api_key = api_key
        self.model = model
        self.timeout_s = timeout_s
        self._clients: dict[int, Any] = {}

    def _client(self) -> Any:
        import httpx

        loop_id = id(asyncio.get_running_loop())  # one connection pool per event loop
        if loop_id not in self._clients:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._clients[loop_id] = httpx.AsyncClient(timeout=self.timeout_s, headers=headers)
        return self._clients[loop_id]

    async def run(self, item: BenchItem, ctx: BenchContext, cost_lambda: float | None = None) -> Sample:
        """One request to the router server (with λ as `xrouter.cost_lambda` when given); failures score 0."""
        import httpx

        # query_id lets a server answering targets from recorded outcomes match the query exactly
        body = {
            "model": self.model,
            "messages": [dict(m) for m in item.messages],
            "metadata": {"query_id": item.query_id},
        }
        if cost_lambda is not None:
            body["xrouter"] = {"cost_lambda": cost_lambda}
        started = time.perf_counter()
        try:
            response = await self._client().post(f"{self.url}/chat/completions", json=body)
            latency = time.perf_counter() - started
            if response.status_code != 200:
                reason = f"HTTP {response.status_code}: {response.text[:300]}"
                return Sample(self.name, item.dataset, item.query_id, 0.0, 0.0, 0, [], latency, "", reason)
            data = response.json()
            text = str(data["choices"][0]["message"].get("content") or "")
            meta = data.get("router_metadata") or {}
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            latency = time.perf_counter() - started
            return Sample(self.name, item.dataset, item.query_id, 0.0, 0.0, 0, [], latency, "", f"router error: {exc}")
        model = recorded_answer_model(item, ctx, text, meta)
        return episode_sample(self.name, item, ctx, text, meta, latency, model)

    async def aclose(self) -> None:
        """Close the HTTP connection pools."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
