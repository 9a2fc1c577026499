"""Pool sampling and row planning: tier ranges, fixed-set shares, repetitions, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from xrouter.data.sampling import SAMPLING_TIERS, PoolSampler, SamplingConfig, plan_rows
from xrouter.errors import UsageError


def test_default_plan_keeps_max_num_samples_versions_in_source_order():
    """Random mode yields num_repetitions versions per row, keeps a random max_num_samples, sorted by row."""
    plan = plan_rows(10, SamplingConfig(num_repetitions=3, max_num_samples=12), "a.parquet")
    assert len(plan) == 12
    pairs = list(zip(plan.source.tolist(), plan.version.tolist(), strict=True))
    assert pairs == sorted(pairs) and len(set(pairs)) == 12
    assert set(plan.version.tolist()) <= {0, 1, 2}
    assert plan.counts() == {"random": 12}


def test_plan_keeps_everything_when_max_num_samples_is_zero():
    """max_num_samples <= 0 keeps every (row, version)."""
    plan = plan_rows(5, SamplingConfig(num_repetitions=2, max_num_samples=0), "a")
    assert len(plan) == 10


def test_plan_is_deterministic_for_a_seed_and_changes_with_it():
    """Same seed and file give the same plan; another seed gives another one."""
    config = SamplingConfig(max_num_samples=20)
    a, b = plan_rows(50, config, "f"), plan_rows(50, config, "f")
    c = plan_rows(50, SamplingConfig(max_num_samples=20, seed=7), "f")
    assert np.array_equal(a.source, b.source) and np.array_equal(a.version, b.version)
    assert not np.array_equal(a.source, c.source)


def test_proportional_fixed_sets_have_exact_shares_and_disjoint_source_rows():
    """int(max * pct) rows per fixed set, the rest random, and no source row is shared between parts."""
    config = SamplingConfig(
        num_repetitions=2, max_num_samples=100, use_fixed_sets=True, fixed_set_percentages=(0.3, 0.2, 0.1)
    )
    plan = plan_rows(1000, config, "f")
    assert plan.counts() == {"random": 40, "fixed_set_1": 30, "fixed_set_2": 20, "fixed_set_3": 10}
    parts = [set(plan.source[plan.set_code == code].tolist()) for code in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not parts[i] & parts[j]
    assert (plan.version[plan.set_code > 0] == 0).all()


def test_proportional_shares_shrink_together_when_the_file_is_small():
    """With too few source rows every share is scaled by the same factor and no row is reused."""
    config = SamplingConfig(
        num_repetitions=1, max_num_samples=100, use_fixed_sets=True, fixed_set_percentages=(0.5, 0.1, 0.1)
    )
    plan = plan_rows(50, config, "f")
    counts = plan.counts()
    assert counts == {"random": 15, "fixed_set_1": 25, "fixed_set_2": 5, "fixed_set_3": 5}
    assert len(set(plan.source.tolist())) == len(plan) == 50


def test_fixed_set_only_uses_one_set_for_every_row():
    """--use-fixed-set-only gives one version per source row with the chosen set, truncated."""
    plan = plan_rows(30, SamplingConfig(use_fixed_set_only=True, fixed_set_choice=3, max_num_samples=20), "f")
    assert plan.counts() == {"fixed_set_3": 20}
    assert len(set(plan.source.tolist())) == 20


def test_random_pools_respect_tier_ranges_and_come_from_the_catalog(catalog):
    """Each tier contributes between min and max distinct models of that tier, all in the catalog."""
    ranges = {"premium": (1, 2), "budget": (2, 3), "standard": (0, 1), "specialized": (1, 1)}
    sampler = PoolSampler(catalog, SamplingConfig(ranges=ranges))
    for row in range(30):
        pool = sampler.pool("f", row, 0, 0)
        assert len(pool) == len(set(pool))
        for tier in SAMPLING_TIERS:
            n = sum(catalog.get(m).tier == tier for m in pool)
            assert ranges[tier][0] <= n <= ranges[tier][1]
        assert set(pool) <= set(sampler.possible_models())


def test_pool_depends_only_on_seed_file_row_and_version(catalog):
    """Two samplers agree row by row (so worker layout cannot change pools); versions differ."""
    a, b = PoolSampler(catalog, SamplingConfig()), PoolSampler(catalog, SamplingConfig())
    assert [a.pool("f", r, 1, 0) for r in range(10)] == [b.pool("f", r, 1, 0) for r in range(10)]
    assert any(a.pool("f", r, 0, 0) != a.pool("f", r, 1, 0) for r in range(10))


def test_fixed_set_pool_is_the_catalog_set(catalog):
    """A fixed-set row's pool is exactly the catalog's set."""
    sampler = PoolSampler(catalog, SamplingConfig(use_fixed_sets=True))
    assert sampler.pool("f", 0, 0, 2) == [m.id for m in catalog.fixed_set(2)]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ranges": {"premium": (3, 1), "budget": (1, 5), "standard": (0, 5), "specialized": (0, 3)}}, "premium"),
        ({"num_repetitions": 0}, "num-repetitions"),
        ({"fixed_set_percentages": (0.6, 0.3, 0.2)}, "sum to at most 1"),
        ({"use_fixed_sets": True, "use_fixed_set_only": True}, "exclude each other"),
        ({"fixed_set_choice": 4}, "fixed-set-choice"),
    ],
)
def test_bad_sampling_settings_are_usage_errors(kwargs, message):
    """Inconsistent settings raise UsageError naming the flag."""
    with pytest.raises(UsageError, match=message):
        SamplingConfig(**kwargs)


def test_catalog_without_fixed_sets_is_rejected_for_fixed_set_modes(catalog):
    """Asking for a fixed set the catalog lacks is a clear UsageError."""
    from xrouter.catalog import Catalog

    bare = Catalog(models=dict(catalog.models))
    with pytest.raises(UsageError, match="fixed set 1"):
        SamplingConfig(use_fixed_set_only=True).check_catalog(bare)
    zero = {t: (0, 0) for t in SAMPLING_TIERS}
    with pytest.raises(UsageError, match="could be empty"):
        SamplingConfig(ranges=zero).check_catalog(catalog)
