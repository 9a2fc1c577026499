"""Per-model guards of the call layer: a cap on an answer's size and a cooldown for models that keep failing.

Cooldown follows LiteLLM's router semantics: a model whose failed attempts within the last `window_s`
seconds exceed `allowed_fails` is not called for `cooldown_s` seconds; calls in that time fail at once with
kind `cooldown` (no request is sent, nothing is retried). A success clears the model's failures. The first call
after a cooldown is a probe: if it fails, the failures still in the window put the model straight back.
Counted are the failures that say something about the model rather than the request: rate limits, server
errors, timeouts and connection failures (LiteLLM also counts 401/404; here a 404 can mean an unknown
recorded query of the replay provider, which says nothing about the model).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from xrouter.errors import UsageError
from xrouter.llm.types import RETRYABLE_KINDS

DEFAULT_MAX_ANSWER_BYTES = 4 << 20


@dataclass(frozen=True)
class CallLimits:
    """Answer size cap and cooldown policy of a client.

    Args:
        max_answer_bytes: largest response body accepted from a target (direct HTTP stops reading there;
            the LiteLLM path rejects a larger answer text after reading it).
        allowed_fails: failed attempts per model within `window_s` that are tolerated before a cooldown.
        cooldown_s: how long a model is skipped; 0 turns cooldowns off.
        window_s: how far back failures count.
    """

    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    allowed_fails: int = 3
    cooldown_s: float = 5.0
    window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_answer_bytes < 1024:
            raise UsageError(f"max_answer_bytes must be at least 1024, got {self.max_answer_bytes}")
        if self.allowed_fails < 0 or self.cooldown_s < 0 or self.window_s <= 0:
            raise UsageError("allowed_fails and cooldown_s must be >= 0 and window_s > 0")


class Cooldowns:
    """Failure history and cooldown deadlines per model (one event loop, no locks needed)."""

    def __init__(self, limits: CallLimits) -> None:
        self.limits = limits
        self._fails: dict[str, deque[float]] = {}
        self._until: dict[str, float] = {}

    def remaining_s(self, model_id: str) -> float:
        """Seconds the model is still cooling down (0 when it may be called)."""
        until = self._until.get(model_id)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._until[model_id]
            return 0.0
        return left

    def failed(self, model_id: str, kind: str) -> bool:
        """Count a failed attempt; True when it put the model into cooldown."""
        if self.limits.cooldown_s <= 0 or kind not in RETRYABLE_KINDS:
            return False
        now = time.monotonic()
        fails = self._fails.setdefault(model_id, deque())
        fails.append(now)
        while fails and fails[0] < now - self.limits.window_s:
            fails.popleft()
        if len(fails) > self.limits.allowed_fails:
            self._until[model_id] = now + self.limits.cooldown_s
            return True
        return False

    def succeeded(self, model_id: str) -> None:
        """A success clears the model's failures."""
        if model_id in self._fails:
            del self._fails[model_id]

    def message(self, model_id: str) -> str:
        """Why a call is not made now."""
        fails = len(self._fails.get(model_id, ()))
        return (
            f"{model_id} is in cooldown for {self.remaining_s(model_id):.1f}s more after {fails} failed attempts "
            f"within {self.limits.window_s:g}s; try another model"
        )
