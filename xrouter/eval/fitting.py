"""Fitting learned routers on recorded outcomes, with k-fold cross-validation where a kind has choices to make.

    router = fit_router(table, emb, kind="blend", folds=5)     # emb rows follow table.queries() order
    router.spec.chosen   # {"blend_weight": 0.5, "hidden": 128}
    router.spec.cv       # every candidate with its cross-validated AIQ

`mf` chooses its latent size and `blend` its blend weight by the cross-validated AIQ of the out-of-fold
predictions (`xrouter.eval.crossval`); only the fit data is ever used. `verify` and `agree` also need the
recorded answers and an answer embedder (`xrouter.eval.cascade_fit`).
"""

from __future__ import annotations

import logging

import numpy as np

from xrouter.data.outcomes import OutcomeTable
from xrouter.errors import DataError
from xrouter.eval import crossval, predictors
from xrouter.eval.fit_data import Embed, FitData
from xrouter.eval.learned import LearnedRouter, RouterSpec

log = logging.getLogger(__name__)

MF_DIMS = (8, 32, 128)
BLEND_WEIGHTS = (1.0, 0.75, 0.5, 0.25, 0.0)  # ties keep the simpler, table-heavier blend


def fit_router(
    table: OutcomeTable,
    emb: np.ndarray,
    *,
    kind: str,
    k: int = 50,
    hidden: int = 128,
    seed: int = 0,
    quality_scale: float = 1.0,
    default_lambda: float = 0.0,
    folds: int = 5,
    embed: Embed | None = None,
) -> LearnedRouter:
    """Fit a router of `kind` on a complete outcome table; `emb` rows follow `table.queries()` order."""
    from threadpoolctl import threadpool_limits

    # the fits are many small matrix products: on a busy 2-core machine BLAS threads waiting for each other
    # made a RouterBench verify fit take 353 s instead of 13 s on one thread
    with threadpool_limits(limits=1):
        return _fit(table, emb, kind=kind, k=k, hidden=hidden, seed=seed, quality_scale=quality_scale,
                    default_lambda=default_lambda, folds=folds, embed=embed)  # fmt: skip


def _fit(table: OutcomeTable, emb: np.ndarray, *, kind: str, k: int, hidden: int, seed: int, quality_scale: float,
         default_lambda: float, folds: int, embed: Embed | None) -> LearnedRouter:  # fmt: skip
    data = FitData.of(table, emb)
    spec = RouterSpec(kind=kind, models=list(table.models), quality_scale=quality_scale,
                      default_lambda=default_lambda, k=k, hidden=hidden, seed=seed, fit_query_ids=data.ids,
                      mean_cost_usd=data.costs.mean(axis=0).tolist(), mean_score=data.scores.mean(axis=0).tolist(),
                      tasks=data.tasks, folds=folds)  # fmt: skip
    if kind in ("knn", "mlp"):
        return LearnedRouter(spec, _knn_or_mlp(kind, data, hidden, seed))
    arrays = predictors.fit_task_classifier(data.emb, data.task_idx, len(data.tasks), seed=seed)
    arrays.update(predictors.fit_table(data.task_idx, len(data.tasks), data.scores, data.costs))
    if kind in ("mf", "blend"):
        if len(data.ids) < 2 * folds:
            raise DataError(f"fit_router: {kind} cross-validates over {folds} folds and needs >= {2 * folds} queries")
        fitter = _fit_mf if kind == "mf" else _fit_blend
        arrays.update(fitter(data, spec))
    router = LearnedRouter(spec, arrays)
    if kind in ("verify", "agree"):
        from xrouter.eval.cascade_fit import fit_cascade

        if embed is None and kind == "verify":
            raise DataError("fit_router: verify needs an answer embedder (embed=...)")
        fit_cascade(router, data, embed)
    return router


def _knn_or_mlp(kind: str, data: FitData, hidden: int, seed: int) -> dict[str, np.ndarray]:
    if kind == "knn":
        return {"emb": data.emb.astype(np.float32), "scores": data.scores, "costs": data.costs}
    return predictors.fit_mlp(data.emb, data.scores, hidden=hidden, seed=seed)


def _table_costs(data: FitData, rows: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-task table (P, cost) of the `test` rows fitted on the `rows` rows (true task labels)."""
    tab = predictors.fit_table(data.task_idx[rows], len(data.tasks), data.scores[rows], data.costs[rows])
    return predictors.table_predict(tab, data.task_idx[test])


def _cv_record(spec: RouterSpec, params: dict, p: np.ndarray, cost: np.ndarray, data: FitData) -> float:
    value = crossval.curve_aiq(p, cost, data.scores, data.costs, quality_scale=spec.quality_scale)
    spec.cv.append({**params, "cv_aiq": round(value, 6)})
    log.info("cross-validation %s %s: AIQ %.4f", spec.kind, params, value)
    return value


def _fit_mf(data: FitData, spec: RouterSpec) -> dict[str, np.ndarray]:
    """Latent size by cross-validated AIQ, then a final fit on all fit queries."""
    folds = crossval.fold_index(data.ids, spec.folds, spec.seed)
    best_dim, best = MF_DIMS[0], -np.inf
    for dim in MF_DIMS:
        def fold_fit(rows: np.ndarray, test: np.ndarray, dim: int = dim) -> tuple[np.ndarray, np.ndarray]:
            model = predictors.fit_mf(data.emb[rows], data.scores[rows], dim=dim, seed=spec.seed)
            return predictors.mf_forward(model, data.emb[test]), _table_costs(data, rows, test)[1]

        p, cost = crossval.out_of_fold(fold_fit, folds, len(spec.models))
        value = _cv_record(spec, {"dim": dim}, p, cost, data)
        if value > best:
            best_dim, best = dim, value
    spec.chosen = {"dim": best_dim, "cv_aiq": round(float(best), 6)}
    return predictors.fit_mf(data.emb, data.scores, dim=best_dim, seed=spec.seed)


def _fit_blend(data: FitData, spec: RouterSpec) -> dict[str, np.ndarray]:
    """Blend weight by cross-validated AIQ (one MLP per fold serves every weight), then a final MLP."""
    folds = crossval.fold_index(data.ids, spec.folds, spec.seed)
    n, m = data.scores.shape
    p_table, p_mlp, cost = np.zeros((n, m)), np.zeros((n, m)), np.zeros((n, m))
    for f in np.unique(folds):
        test, rows = np.flatnonzero(folds == f), np.flatnonzero(folds != f)
        p_table[test], cost[test] = _table_costs(data, rows, test)
        mlp = predictors.fit_mlp(data.emb[rows], data.scores[rows], hidden=spec.hidden, seed=spec.seed)
        p_mlp[test] = predictors.mlp_forward(mlp, data.emb[test])
    best_w, best = BLEND_WEIGHTS[0], -np.inf
    for w in BLEND_WEIGHTS:
        value = _cv_record(spec, {"blend_weight": w}, w * p_table + (1 - w) * p_mlp, cost, data)
        if value > best + 1e-9:
            best_w, best = w, value
    spec.chosen = {"blend_weight": best_w, "hidden": spec.hidden, "cv_aiq": round(float(best), 6)}
    return predictors.fit_mlp(data.emb, data.scores, hidden=spec.hidden, seed=spec.seed)
