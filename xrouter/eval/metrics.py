"""Cost-quality metrics: Pareto membership, upper convex hull, AIQ, cost per correct answer, oracle.

Points are (cost, quality) pairs; lower cost and higher quality are better. The hull and AIQ follow
RouterBench (arXiv 2403.12031): a router's achievable set is the upper convex hull of its points (mixing two
operating points linearly interpolates cost and quality), and AIQ is the area under that hull over a cost
range divided by the width of the range. We offer both a linear and a log10 cost axis; the log axis is
the default here because per-query costs span two orders of magnitude, and it is always stated in outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xrouter.errors import DataError


def _as_points(costs: Sequence[float], qualities: Sequence[float]) -> np.ndarray:
    c = np.asarray(costs, dtype=float)
    q = np.asarray(qualities, dtype=float)
    if c.shape != q.shape or c.ndim != 1:
        raise DataError(f"costs and qualities must be 1-D and of equal length (got {c.shape} and {q.shape})")
    if np.isnan(c).any() or np.isnan(q).any():
        raise DataError("costs and qualities must not contain NaN")
    return np.stack([c, q], axis=1)


def pareto_mask(costs: Sequence[float], qualities: Sequence[float]) -> np.ndarray:
    """True for points no other point dominates (another point with cost <= and quality >=, one strictly)."""
    pts = _as_points(costs, qualities)
    mask = np.ones(len(pts), dtype=bool)
    for i, (c, q) in enumerate(pts):
        dominated = (pts[:, 0] <= c) & (pts[:, 1] >= q) & ((pts[:, 0] < c) | (pts[:, 1] > q))
        mask[i] = not dominated.any()
    return mask


def upper_hull(costs: Sequence[float], qualities: Sequence[float]) -> np.ndarray:
    """Vertices (cost, quality) of the non-decreasing upper convex hull, sorted by cost.

    Starts at the best cheapest point and keeps only vertices where quality rises, since paying more
    for less quality is never a sensible operating point.
    """
    pts = _as_points(costs, qualities)
    if len(pts) == 0:
        return pts.reshape(0, 2)
    # sort by cost ascending, quality descending so ties keep the best point first
    order = np.lexsort((-pts[:, 1], pts[:, 0]))
    hull: list[tuple[float, float]] = []
    for c, q in pts[order]:
        if hull and q <= hull[-1][1]:
            continue  # not better than the last kept point: dominated
        while len(hull) >= 2:
            (c1, q1), (c2, q2) = hull[-2], hull[-1]
            # drop the middle vertex when it lies on or below the chord from hull[-2] to the new point
            if (q2 - q1) * (c - c1) <= (q - q1) * (c2 - c1):
                hull.pop()
            else:
                break
        hull.append((float(c), float(q)))
    return np.asarray(hull, dtype=float)


def hull_quality_at(hull: np.ndarray, cost: float) -> float:
    """Quality the hull reaches at `cost` (flat after the last vertex; NaN before the first)."""
    if len(hull) == 0 or cost < hull[0, 0]:
        return float("nan")
    return float(np.interp(cost, hull[:, 0], hull[:, 1]))


def cost_to_reach(hull: np.ndarray, quality: float) -> float:
    """The lowest cost at which the hull reaches `quality` (NaN when it never does)."""
    if len(hull) == 0 or hull[-1, 1] < quality - 1e-12:
        return float("nan")
    if hull[0, 1] >= quality:
        return float(hull[0, 0])
    i = int(np.argmax(hull[:, 1] >= quality - 1e-12))
    (c1, q1), (c2, q2) = hull[i - 1], hull[i]
    return float(c1 + (quality - q1) * (c2 - c1) / (q2 - q1))


@dataclass(frozen=True)
class AIQ:
    """Area under the cost-quality hull divided by the cost range width."""

    value: float
    cost_min: float
    cost_max: float
    log_cost: bool

    def describe(self) -> str:
        """One line naming the range and axis the value was computed over."""
        axis = "log10 cost" if self.log_cost else "linear cost"
        return f"AIQ={self.value:.4f} over cost [{self.cost_min:.4g}, {self.cost_max:.4g}] ({axis})"


def aiq(
    costs: Sequence[float],
    qualities: Sequence[float],
    *,
    cost_min: float | None = None,
    cost_max: float | None = None,
    log_cost: bool = True,
) -> AIQ:
    """Normalised area under the upper hull of the points over [cost_min, cost_max].

    Default range: from the cheapest to the most expensive point. Below the hull's first vertex the
    quality counts as 0 (nothing is achievable there); above its last vertex the hull stays flat. With
    `log_cost` the integral is taken over log10(cost), which needs a positive range.
    """
    hull = upper_hull(costs, qualities)
    if len(hull) == 0:
        raise DataError("AIQ needs at least one point")
    c = np.asarray(costs, dtype=float)
    lo = float(c.min()) if cost_min is None else float(cost_min)
    hi = float(c.max()) if cost_max is None else float(cost_max)
    if hi < lo:
        raise DataError(f"AIQ cost range is empty: cost_max {hi} < cost_min {lo}")
    if log_cost and lo <= 0:
        raise DataError(f"AIQ on a log cost axis needs cost_min > 0 (got {lo}); pass log_cost=False or a range")
    if hi == lo:
        q = hull_quality_at(hull, lo)
        return AIQ(0.0 if math.isnan(q) else q, lo, hi, log_cost)
    # breakpoints: the range ends plus hull vertices inside it; quality is linear in cost between them
    inside = hull[(hull[:, 0] > lo) & (hull[:, 0] < hi), 0]
    xs = np.unique(np.concatenate([[lo, hi], inside]))
    area = 0.0
    for a, b in zip(xs[:-1], xs[1:], strict=True):
        if a < hull[0, 0]:
            continue  # before the first vertex nothing is achievable: quality 0
        qa, qb = hull_quality_at(hull, a), hull_quality_at(hull, b)
        area += _log_segment_area(a, b, qa, qb) if log_cost else 0.5 * (qa + qb) * (b - a)
    width = math.log10(hi / lo) if log_cost else hi - lo
    return AIQ(area / width, lo, hi, log_cost)


def _log_segment_area(a: float, b: float, qa: float, qb: float) -> float:
    """Exact integral over u=log10(c) of a quality that is linear in c between c=a and c=b."""
    if b <= a:
        return 0.0
    slope = (qb - qa) / (b - a)
    # q(c) = qa + slope (c - a); integral of q dc/(c ln10) from a to b
    return ((qa - slope * a) * math.log(b / a) + slope * (b - a)) / math.log(10)


def cost_per_correct(total_cost: float, n_correct: float) -> float:
    """Dollars spent per correct answer (inf when nothing was correct)."""
    return float("inf") if n_correct <= 0 else float(total_cost) / float(n_correct)


def cheapest_correct_oracle(scores: pd.DataFrame, costs: pd.DataFrame, *, threshold: float = 1.0) -> pd.DataFrame:
    """Per query: the cheapest model whose score reaches `threshold`, else the cheapest model overall.

    `scores` and `costs` are wide frames (query x model) such as `OutcomeTable.pivot("score")`. Returns a
    frame indexed like `scores` with columns model, score, cost_usd. Queries with no correct model get the
    cheapest model (an oracle that knows nothing works spends as little as possible).
    """
    if list(scores.columns) != list(costs.columns) or not scores.index.equals(costs.index):
        raise DataError("oracle: scores and costs must have the same query index and model columns")
    if scores.isna().any().any() or costs.isna().any().any():
        raise DataError("oracle: missing outcomes; call OutcomeTable.complete() first")
    s, c = scores.to_numpy(dtype=float), costs.to_numpy(dtype=float)
    ok = s >= threshold - 1e-9
    masked = np.where(ok, c, np.inf)
    pick = np.where(ok.any(axis=1), masked.argmin(axis=1), c.argmin(axis=1))
    rows = np.arange(len(s))
    return pd.DataFrame(
        {"model": np.asarray(scores.columns)[pick], "score": s[rows, pick], "cost_usd": c[rows, pick]},
        index=scores.index,
    )
