"""Per-sample model pools: which source rows become training rows, and which models each row may call.

Three modes, all deterministic for a seed:

* random (default): every source row yields `num_repetitions` versions, each with its own pool drawn
  per tier (premium, budget, standard, specialized: a count drawn uniformly from [min, max], then that
  many distinct models of the tier); a seeded random `max_num_samples` of those versions is kept.
* proportional fixed sets (`use_fixed_sets`): `int(max_num_samples * pct_k)` rows use fixed set k and
  the rest are random rows. The source rows of the random part and of each fixed set do not overlap;
  when the file is too small every share is scaled down by the same factor.
* fixed set only: every row uses one fixed set (one version per source row), truncated to
  `max_num_samples`.

A row's pool depends only on (seed, file key, source row, version), never on worker or batch layout.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from xrouter.catalog import Catalog
from xrouter.errors import CatalogError, UsageError

# Upstream order in which tiers are sampled and concatenated into a pool.
SAMPLING_TIERS: tuple[str, ...] = ("premium", "budget", "standard", "specialized")
DEFAULT_RANGES: dict[str, tuple[int, int]] = {
    "premium": (1, 7),
    "budget": (1, 5),
    "standard": (0, 5),
    "specialized": (0, 3),
}
RANDOM = "random"


def set_type_name(code: int) -> str:
    """`model_set_type` label of a plan code: 0 is "random", k is "fixed_set_k"."""
    return RANDOM if code == 0 else f"fixed_set_{code}"


@dataclass(frozen=True)
class SamplingConfig:
    """How pools are drawn and how many rows each input file yields (validated at construction)."""

    ranges: Mapping[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_RANGES))
    num_repetitions: int = 3
    max_num_samples: int = 5000  # 0 keeps every row
    seed: int = 42
    use_fixed_sets: bool = False
    fixed_set_percentages: tuple[float, float, float] = (0.1, 0.1, 0.1)
    use_fixed_set_only: bool = False
    fixed_set_choice: int = 1

    def __post_init__(self) -> None:
        for tier in SAMPLING_TIERS:
            lo, hi = self.ranges.get(tier, (0, 0))
            if lo < 0 or hi < lo:
                raise UsageError(f"--{tier}-min/--{tier}-max: need 0 <= min <= max, got {lo} and {hi}")
        if self.max_num_samples < 0:
            raise UsageError(f"--max-num-samples must be >= 0 (0 keeps every row), got {self.max_num_samples}")
        if self.num_repetitions < 1:
            raise UsageError(f"--num-repetitions must be at least 1, got {self.num_repetitions}")
        if any(p < 0 for p in self.fixed_set_percentages) or sum(self.fixed_set_percentages) > 1 + 1e-9:
            raise UsageError(
                f"--fixed-set-{{1,2,3}}-percentage must be >= 0 and sum to at most 1, got {self.fixed_set_percentages}"
            )
        if self.use_fixed_sets and self.use_fixed_set_only:
            raise UsageError("--use-fixed-sets and --use-fixed-set-only exclude each other; pick one")
        if self.fixed_set_choice not in (1, 2, 3):
            raise UsageError(f"--fixed-set-choice must be 1, 2 or 3, got {self.fixed_set_choice}")

    def fixed_sets_used(self) -> list[int]:
        """Fixed-set numbers this configuration can assign."""
        if self.use_fixed_set_only:
            return [self.fixed_set_choice]
        if self.use_fixed_sets:
            return [k for k, pct in enumerate(self.fixed_set_percentages, start=1) if pct > 0]
        return []

    def check_catalog(self, catalog: Catalog) -> None:
        """Raise when the catalog cannot satisfy this configuration (no models to draw, missing fixed set)."""
        for k in self.fixed_sets_used():
            try:
                members = catalog.fixed_set(k)
            except CatalogError as exc:
                raise UsageError(f"fixed set {k} is needed but the catalog has none ({exc})") from None
            if not members:
                raise UsageError(f"fixed set {k} is empty in the catalog")
        if not self.use_fixed_set_only:
            smallest = sum(min(self.ranges[t][0], len(catalog.by_tier(t))) for t in SAMPLING_TIERS)
            if smallest < 1:
                sizes = ", ".join(f"{t} {len(catalog.by_tier(t))}" for t in SAMPLING_TIERS)
                raise UsageError(
                    f"random pools could be empty (tier sizes: {sizes}); raise a --<tier>-min for a non-empty tier"
                )


@dataclass(frozen=True)
class RowPlan:
    """Which (source row, version, set) triples a file yields, sorted by source row then version."""

    source: np.ndarray  # int64 source-row index
    version: np.ndarray  # int64 version number within the source row
    set_code: np.ndarray  # int8: 0 random, k fixed set k

    def __len__(self) -> int:
        return int(self.source.size)

    def counts(self) -> dict[str, int]:
        """Number of rows per `model_set_type`."""
        codes, counts = np.unique(self.set_code, return_counts=True)
        return {set_type_name(int(c)): int(n) for c, n in zip(codes, counts, strict=True)}


def file_rng(seed: int, file_key: str) -> np.random.Generator:
    """The generator that plans one file (independent of the other files in the folder)."""
    return np.random.default_rng([seed, zlib.crc32(file_key.encode("utf-8"))])


def _sorted_plan(source: np.ndarray, version: np.ndarray, code: np.ndarray) -> RowPlan:
    order = np.lexsort((version, source))
    return RowPlan(source[order].astype(np.int64), version[order].astype(np.int64), code[order].astype(np.int8))


def _choose(rng: np.random.Generator, population: int, limit: int) -> np.ndarray:
    """A seeded random subset of range(population) of size min(limit, population) (limit <= 0: all)."""
    size = population if limit <= 0 else min(limit, population)
    return rng.permutation(population)[:size]


def plan_rows(n_source: int, config: SamplingConfig, file_key: str) -> RowPlan:
    """Plan the output rows of one input file of `n_source` rows."""
    rng = file_rng(config.seed, file_key)
    reps = config.num_repetitions
    if config.use_fixed_set_only:
        keep = _choose(rng, n_source, config.max_num_samples)
        return _sorted_plan(keep, np.zeros_like(keep), np.full_like(keep, config.fixed_set_choice))
    if not config.use_fixed_sets:
        keep = _choose(rng, n_source * reps, config.max_num_samples)
        return _sorted_plan(keep // reps, keep % reps, np.zeros_like(keep))
    return _plan_proportional(n_source, config, rng)


def _plan_proportional(n_source: int, config: SamplingConfig, rng: np.random.Generator) -> RowPlan:
    reps = config.num_repetitions
    total = config.max_num_samples if config.max_num_samples > 0 else n_source * reps
    fixed = [int(total * pct) for pct in config.fixed_set_percentages]
    random_rows = total - sum(fixed)
    random_sources = math.ceil(random_rows / reps)
    needed = random_sources + sum(fixed)
    if needed > n_source:  # too few source rows: shrink every share by the same factor
        factor = n_source / needed
        fixed = [int(n * factor) for n in fixed]
        random_sources = int(random_sources * factor)
        random_rows = min(int(random_rows * factor), random_sources * reps)
    order = rng.permutation(n_source)
    parts = [order[:random_sources]]
    start = random_sources
    for n in fixed:
        parts.append(order[start : start + n])
        start += n
    candidates = np.repeat(parts[0], reps) * reps + np.tile(np.arange(reps), parts[0].size)
    chosen = candidates[rng.permutation(candidates.size)[:random_rows]]
    sources = [chosen // reps] + parts[1:]
    versions = [chosen % reps] + [np.zeros_like(p) for p in parts[1:]]
    codes = [np.full(p.size, code, dtype=np.int8) for code, p in enumerate(sources)]
    return _sorted_plan(np.concatenate(sources), np.concatenate(versions), np.concatenate(codes))


class PoolSampler:
    """Draws the model ids of one row's pool from a catalog."""

    def __init__(self, catalog: Catalog, config: SamplingConfig) -> None:
        self._tiers = {t: [m.id for m in catalog.by_tier(t)] for t in SAMPLING_TIERS}
        self._fixed = {k: [m.id for m in catalog.fixed_set(k)] for k in config.fixed_sets_used()}
        self._config = config

    def possible_models(self) -> list[str]:
        """Every model id some row can get under this configuration (catalog order of tiers, then fixed sets)."""
        ids: list[str] = []
        if not self._config.use_fixed_set_only:
            for tier in SAMPLING_TIERS:
                if self._config.ranges[tier][1] > 0:
                    ids.extend(self._tiers[tier])
        for members in self._fixed.values():
            ids.extend(members)
        return list(dict.fromkeys(ids))

    def pool(self, file_key: str, source: int, version: int, set_code: int) -> list[str]:
        """Model ids for one planned row (a fixed set, or a per-tier random draw)."""
        if set_code:
            return list(self._fixed[set_code])
        # A string seed is hashed with SHA-512, so the draw is the same in every process.
        rng = random.Random(f"{self._config.seed}:{file_key}:{source}:{version}")
        pool: list[str] = []
        for tier in SAMPLING_TIERS:
            lo, hi = self._config.ranges[tier]
            members = self._tiers[tier]
            k = min(rng.randint(lo, hi), len(members))
            pool.extend(rng.sample(members, k))
        return pool
