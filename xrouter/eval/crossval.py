"""k-fold cross-validation of routers on the fit data: folds by seeded hash, scored by cross-validated AIQ.

A candidate's out-of-fold predictions (every fit query predicted by a model fitted without it) are turned into
a cost-quality curve by sweeping lambda over `lambda_grid`, and the curve's AIQ (log10 cost axis) is taken over
the cost range of the single models on the fit data, the same range for every candidate of one fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from xrouter.eval.metrics import aiq
from xrouter.eval.split import split_fraction

FoldFit = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def fold_index(query_ids: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """Fold number in [0, folds) of every query, fixed by (seed, query id) and independent of the holdout split."""
    return np.array([int(split_fraction(f"cv:{q}", seed) * folds) for q in query_ids], dtype=int)


def lambda_grid(mean_costs: Sequence[float], quality_scale: float = 1.0, points: int = 32) -> np.ndarray:
    """0 plus log-spaced lambdas from 1/100 to 100 times (quality scale / price gap of the models)."""
    gap = max(float(np.max(mean_costs) - np.min(mean_costs)), 1e-12)
    return np.concatenate([[0.0], np.geomspace(0.01, 100.0, points) * quality_scale / gap])


def curve(
    p: np.ndarray, cost_pred: np.ndarray, scores: np.ndarray, costs: np.ndarray, lams: np.ndarray, quality_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """(mean cost, mean score) of the picks `argmax p*K - lambda*cost_pred` for every lambda."""
    rows = np.arange(len(p))
    out_cost, out_score = [], []
    for lam in lams:
        pick = np.argmax(p * quality_scale - lam * cost_pred, axis=1)
        out_cost.append(costs[rows, pick].mean())
        out_score.append(scores[rows, pick].mean())
    return np.asarray(out_cost), np.asarray(out_score)


def curve_aiq(
    p: np.ndarray, cost_pred: np.ndarray, scores: np.ndarray, costs: np.ndarray, *, quality_scale: float = 1.0
) -> float:
    """AIQ of the lambda sweep over the range of the single models' mean costs."""
    means = costs.mean(axis=0)
    lams = lambda_grid(means, quality_scale)
    c, q = curve(p, cost_pred, scores, costs, lams, quality_scale)
    return aiq(c, q, cost_min=float(means.min()), cost_max=float(means.max())).value


def out_of_fold(fit_predict: FoldFit, folds: np.ndarray, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """(P, expected cost) for every query from `fit_predict(train_rows, test_rows)` fitted without its fold."""
    n = len(folds)
    p, cost = np.zeros((n, n_models)), np.zeros((n, n_models))
    for f in np.unique(folds):
        test = np.flatnonzero(folds == f)
        train = np.flatnonzero(folds != f)
        p[test], cost[test] = fit_predict(train, test)
    return p, cost
