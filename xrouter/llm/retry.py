"""Retry policy of the call layer: which failures are retried is `CallError.retryable`; how is here."""

from __future__ import annotations

import random
from dataclasses import dataclass

from xrouter.errors import UsageError


@dataclass(frozen=True)
class RetryConfig:
    """Retry policy: attempts, exponential backoff bounds, jitter and the total time budget of one call."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    total_timeout_s: float = 300.0
    jitter: float = 0.5  # each delay is multiplied by a uniform factor in [1 - jitter, 1 + jitter]

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError(f"RetryConfig.max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise UsageError("RetryConfig needs 0 <= base_delay_s <= max_delay_s")
        if self.total_timeout_s <= 0:
            raise UsageError(f"RetryConfig.total_timeout_s must be > 0, got {self.total_timeout_s}")
        if not 0 <= self.jitter <= 1:
            raise UsageError(f"RetryConfig.jitter must be within [0, 1], got {self.jitter}")

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """Backoff before attempt `attempt + 1` (attempt counts from 1)."""
        base = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return base * (1 + self.jitter * (2 * rng.random() - 1))
