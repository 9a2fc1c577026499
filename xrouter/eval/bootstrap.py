"""Paired bootstrap of AIQ differences: is a router's curve really above the baseline's on these queries?

Every resample draws the benchmark's queries with replacement, once, and recomputes every point of both
families (mean score and mean cost per 1k queries of each policy on the same resampled queries), then both
AIQs over the fixed cost range of the point estimate. The 95% interval is the 2.5th-97.5th percentile of the
differences; a router beats the baseline when the whole interval is above zero.

    diffs = paired_aiq_differences(points, {"learned:knn": [...], "learned:table": [...]}, "learned:table",
                                   cost_range=(0.18, 4.0), resamples=1000, seed=0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from xrouter.eval.metrics import aiq


@dataclass(frozen=True)
class Difference:
    """AIQ(family) - AIQ(baseline) on the benchmark, with its paired bootstrap 95% interval."""

    value: float
    low: float
    high: float

    @property
    def beats(self) -> bool:
        """The whole interval is above zero."""
        return self.low > 0


def _family_aiq(costs: np.ndarray, quality: np.ndarray, lo: float, hi: float) -> float:
    keep = costs > 0
    if keep.sum() < 1:
        return float("nan")
    return aiq(costs[keep].tolist(), quality[keep].tolist(), cost_min=lo, cost_max=hi).value


def paired_aiq_differences(
    points: Mapping[str, tuple[np.ndarray, np.ndarray]],
    families: Mapping[str, Sequence[str]],
    baseline: str,
    *,
    cost_range: tuple[float, float],
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Difference]:
    """Per family: the AIQ difference against `baseline` and its interval.

    `points[policy]` is (per-query scores, per-query costs in USD), every policy over the same queries in
    the same order; `families` maps a family to its policies.
    """
    lo, hi = cost_range
    n = len(next(iter(points.values()))[0])
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)  # (resamples, n)
    means: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for policy, (score, cost) in points.items():
        score, cost = np.asarray(score, dtype=float), np.asarray(cost, dtype=float)
        means[policy] = (np.append(counts @ score / n, score.mean()), np.append(1000.0 * counts @ cost / n,
                                                                               1000.0 * cost.mean()))  # fmt: skip

    def curve_aiqs(family: str) -> np.ndarray:
        q = np.stack([means[p][0] for p in families[family]], axis=1)
        c = np.stack([means[p][1] for p in families[family]], axis=1)
        return np.array([_family_aiq(c[b], q[b], lo, hi) for b in range(resamples + 1)])

    base = curve_aiqs(baseline)
    out = {}
    for family in families:
        diff = curve_aiqs(family) - base
        low, high = np.nanpercentile(diff[:-1], [2.5, 97.5])
        out[family] = Difference(float(diff[-1]), float(low), float(high))
    return out
