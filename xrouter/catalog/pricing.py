"""Pricing: the one function that turns token usage into US dollars.

Example: gpt-5 ($1.25 in, $0.125 cached in, $10 out per 1M tokens) with 1,000 prompt tokens of
which 400 were cached, and 500 output tokens (300 of them hidden reasoning) costs
600·1.25e-6 + 400·0.125e-6 + 500·10e-6 = $0.00580.
"""

from __future__ import annotations

from dataclasses import dataclass

from xrouter.catalog.models import ModelSpec

_PER_TOKEN = 1e-6  # prices are per million tokens


@dataclass(frozen=True)
class Usage:
    """Token usage of one call.

    Args:
        input_tokens: all prompt tokens, cached ones included.
        output_tokens: all completion tokens, hidden reasoning tokens included.
        cached_input_tokens: the part of `input_tokens` served from the provider's prompt cache.
        reasoning_tokens: the part of `output_tokens` spent on hidden reasoning (informational).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"):
            if getattr(self, name) < 0:
                raise ValueError(f"Usage.{name} must be >= 0, got {getattr(self, name)}")
        if self.cached_input_tokens > self.input_tokens:
            raise ValueError("Usage.cached_input_tokens cannot exceed input_tokens")
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError("Usage.reasoning_tokens cannot exceed output_tokens (they are part of the output)")

    def to_dict(self) -> dict[str, int]:
        """Plain-dict form for JSON records."""
        return {
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


def cost_usd(spec: ModelSpec, usage: Usage) -> float | None:
    """USD cost of `usage` on `spec`; None when a needed price is unknown (never a silent 0)."""
    if not spec.has_price:
        return None
    assert spec.input_usd_per_mtok is not None and spec.output_usd_per_mtok is not None
    cached_price = spec.cached_input_usd_per_mtok
    if cached_price is None:  # no discount published: cached tokens cost the normal input price
        cached_price = spec.input_usd_per_mtok
    fresh_input = usage.input_tokens - usage.cached_input_tokens
    return _PER_TOKEN * (
        fresh_input * spec.input_usd_per_mtok
        + usage.cached_input_tokens * cached_price
        + usage.output_tokens * spec.output_usd_per_mtok
    )


def worst_case_cost_usd(spec: ModelSpec, input_tokens: int, max_output_tokens: int) -> float | None:
    """Upper bound of one call's cost: all input uncached and the full output budget used."""
    return cost_usd(spec, Usage(input_tokens=input_tokens, output_tokens=max_output_tokens))
