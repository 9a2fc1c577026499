"""Pricing of token usage. Run: .venv/bin/python -m pytest tests/catalog -q"""

from __future__ import annotations

import pytest

from xrouter.catalog import ModelSpec, Usage, cost_usd, load_catalog, worst_case_cost_usd


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(use_env=False)


def test_plain_input_and_output_tokens(catalog):
    """1M input + 1M output tokens cost exactly the two list prices."""
    assert cost_usd(catalog.get("gpt-4o"), Usage(1_000_000, 1_000_000)) == pytest.approx(12.5)


def test_cached_input_tokens_get_the_cached_price(catalog):
    """Cached prompt tokens are charged at the cached price, the rest at the input price."""
    usage = Usage(input_tokens=1000, cached_input_tokens=400, output_tokens=500, reasoning_tokens=300)
    assert cost_usd(catalog.get("gpt-5"), usage) == pytest.approx((600 * 1.25 + 400 * 0.125 + 500 * 10) / 1e6)


def test_no_cached_discount_means_full_input_price(catalog):
    """Models without a cached price charge cached tokens as normal input."""
    spec = catalog.get("kimi-k2")
    assert spec.cached_input_usd_per_mtok is None
    cached = cost_usd(spec, Usage(input_tokens=1000, cached_input_tokens=1000))
    assert cached == cost_usd(spec, Usage(input_tokens=1000))


def test_reasoning_tokens_are_part_of_output_not_extra(catalog):
    """Reasoning tokens are already inside output_tokens and are not charged twice."""
    spec = catalog.get("o3")
    assert cost_usd(spec, Usage(0, 1000, reasoning_tokens=900)) == cost_usd(spec, Usage(0, 1000))


def test_unknown_price_gives_none_not_zero():
    """A model with an unknown price has cost None."""
    spec = ModelSpec(
        id="local",
        litellm_model="hosted_vllm/x",
        provider="local",
        tier="budget",
        input_usd_per_mtok=None,
        output_usd_per_mtok=0.1,
        context_window=100,
        max_output_tokens=10,
    )
    assert cost_usd(spec, Usage(10, 10)) is None
    assert worst_case_cost_usd(spec, 10, 10) is None


def test_free_model_costs_zero():
    """An explicit zero price is a genuine zero cost."""
    spec = ModelSpec(
        id="free",
        litellm_model="x",
        provider="local",
        tier="budget",
        input_usd_per_mtok=0.0,
        output_usd_per_mtok=0.0,
        context_window=100,
        max_output_tokens=10,
    )
    assert cost_usd(spec, Usage(10, 10)) == 0.0


def test_worst_case_uses_full_output_budget(catalog):
    """The worst case charges all input uncached and the whole output budget."""
    assert worst_case_cost_usd(catalog.get("gpt-4o"), 1000, 2000) == pytest.approx((1000 * 2.5 + 2000 * 10) / 1e6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"input_tokens": -1}, "input_tokens must be >= 0"),
        ({"input_tokens": 1, "cached_input_tokens": 2}, "cannot exceed"),
        ({"output_tokens": 1, "reasoning_tokens": 2}, "part of the output"),
    ],
)
def test_inconsistent_usage_is_rejected(kwargs, match):
    """Negative or inconsistent token counts raise ValueError."""
    with pytest.raises(ValueError, match=match):
        Usage(**kwargs)


def test_budget_tokens_capped_by_model_limit(catalog):
    """A per-call output budget never exceeds the model's max output tokens."""
    spec = catalog.get("gpt-4o")
    assert spec.budget_tokens(10**9) == spec.max_output_tokens
    assert spec.budget_tokens(100) == 100
    assert spec.budget_tokens(None) == 2048
    assert catalog.get("o3").budget_tokens(None) == 8192
