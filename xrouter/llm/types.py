"""Value types of the call layer: what one target-model call returns.

A call never raises out of a tool: failures come back as `CallResult(success=False, error=...)`
with a message the router can read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from xrouter.catalog.pricing import Usage

ErrorKind = Literal[
    "rate_limit",
    "server",
    "timeout",
    "connection",
    "bad_request",
    "auth",
    "not_found",
    "budget",
    "bad_response",
    "cooldown",
    "unknown",
]
RETRYABLE_KINDS: frozenset[str] = frozenset({"rate_limit", "server", "timeout", "connection"})


@dataclass(frozen=True)
class CallError:
    """Why a call failed, typed so callers can branch on `kind`."""

    kind: ErrorKind
    message: str
    status_code: int | None = None

    @property
    def retryable(self) -> bool:
        """True for failures worth retrying (429, 5xx, timeouts, connection resets)."""
        return self.kind in RETRYABLE_KINDS

    def for_router(self, model_id: str) -> str:
        """One-line text shown to the router model in place of an answer."""
        return f"[error] call to {model_id} failed ({self.kind}): {self.message}"


@dataclass(frozen=True)
class CallResult:
    """Outcome of one target-model call.

    Args:
        model_id: catalog id of the called model.
        text: the answer text ('' on failure).
        success: False when the call failed; `error` then says why.
        usage: token counts reported by the provider (or the recording).
        cost_usd: what the call costs at catalog prices (None = unknown price). A cache or replay hit
            still reports the recorded cost, which the reward must charge.
        spent_usd: money actually spent now (0.0 for cache and replay hits).
        latency_s: wall time of the call including retries.
        cache_hit: served from the response cache.
        provider: provider name from the catalog ('replay' for replayed answers).
        finish_reason: provider finish reason ('stop', 'length', ...).
        attempts: number of HTTP attempts made.
        litellm_cost_usd: LiteLLM's own cost estimate, kept only as a cross-check.
        request_id: caller's id for the request this call belongs to.
        estimated: the provider sent no usable usage; the token counts (and so the cost) are estimates.
        cost_replaced: the provider's reported cost was implausible and the catalog price was charged.
    """

    model_id: str
    text: str
    success: bool
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = 0.0
    spent_usd: float = 0.0
    latency_s: float = 0.0
    cache_hit: bool = False
    provider: str = ""
    finish_reason: str | None = None
    error: CallError | None = None
    attempts: int = 1
    litellm_cost_usd: float | None = None
    request_id: str | None = None
    estimated: bool = False
    cost_replaced: bool = False

    def router_view(self) -> str:
        """The text the router model sees as the tool response."""
        if self.success:
            return self.text
        assert self.error is not None
        return self.error.for_router(self.model_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly record (usage flattened, error as a dict)."""
        data = asdict(self)
        data["usage"] = self.usage.to_dict()
        return data


class ModelCaller(Protocol):
    """Anything that can call a catalog model: the LiteLLM client, a replay store, a test fake."""

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
        """Call `model_id` with chat `messages`; never raises for provider failures.

        `query_id` names the recorded query a replay provider should answer from (sent to the replay
        server as header `x-xrouter-query-id` and in `metadata`); live providers ignore it.
        """
        ...
