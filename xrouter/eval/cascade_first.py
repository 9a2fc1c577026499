"""Which model a verify cascade calls first: the one whose cascade is worth most on the fit data, per lambda.

The per-task table picks the best *single* call for lambda; a cascade that may escalate can afford a cheaper
first call (a dear model is then paid only when the verifier doubts the cheap answer). For every task, every
candidate first model m and every lambda of the fit grid, the value of "call m; escalate to the model e with
the largest (P(e) - P(m)) * K - lambda * cost(e) when that is positive" is estimated on the fit queries with
out-of-fold verifier predictions (a verifier never scores the queries it was fitted on), counting the
escalated model's score and both costs. The plan stores the best first model per (task, lambda); the table's
own choice keeps ties.
"""

from __future__ import annotations

import numpy as np

from xrouter.eval import crossval
from xrouter.eval.fit_data import FitData
from xrouter.eval.verifier import fit_logistic, standardize


def out_of_fold_probs(x: np.ndarray, y: np.ndarray, folds: np.ndarray, c_value: float) -> np.ndarray:
    """P(correct) of every output column for every row, from logistic regressions fitted without the row's fold."""
    probs = np.zeros(y.shape)
    for f in np.unique(folds):
        test, train = folds == f, folds != f
        mu, sd = standardize(x[train])
        w, b = fit_logistic((x[train] - mu) / sd, y[train], c_value)
        probs[test] = 1.0 / (1.0 + np.exp(-np.clip(((x[test] - mu) / sd) @ w + b, -30, 30)))
    return probs


def cascade_values(p: np.ndarray, first: int, scores: np.ndarray, costs: np.ndarray, table_cost: np.ndarray,
                   lams: np.ndarray, k: float) -> np.ndarray:  # fmt: skip
    """Mean score * K - lambda * cost of the one-escalation cascade from `first`, for every lambda."""
    rows = np.arange(len(p))
    values = []
    for lam in lams:
        gain = (p - p[:, [first]]) * k - lam * table_cost
        gain[:, first] = -np.inf
        e = np.argmax(gain, axis=1)
        up = gain[rows, e] > 0
        score = np.where(up, scores[rows, e], scores[:, first])
        cost = costs[:, first] + np.where(up, costs[rows, e], 0.0)
        values.append(float(np.mean(score * k - lam * cost)))
    return np.asarray(values)


def fit_first_plan(data: FitData, features: dict[int, dict[int, np.ndarray]], labels: np.ndarray, candidates: list[list[int]],
                   table_p: np.ndarray, table_cost: np.ndarray, *, k: float, folds: int, seed: int, c_value: float,
                   mean_costs: list[float]) -> dict[str, np.ndarray]:  # fmt: skip
    """`verify_first_lams` (the grid) and `verify_first` (task x lambda -> first model, -1 = the table's choice).

    `features[t][m]` holds the single-answer verifier features (rows, features) of task t's fit rows for the
    candidate first model m; `candidates[t]` lists those models.
    """
    lams = crossval.lambda_grid(mean_costs, k)
    plan = np.full((len(data.tasks), len(lams)), -1, dtype=np.int64)
    fold = crossval.fold_index(data.ids, folds, seed)
    for t in range(len(data.tasks)):
        rows = np.flatnonzero(data.task_idx == t)
        if len(rows) < 2 * folds or t not in features or not candidates[t]:
            continue
        values = []
        for m in candidates[t]:
            p = out_of_fold_probs(features[t][m], labels[rows], fold[rows], c_value)
            values.append(cascade_values(p, m, data.scores[rows], data.costs[rows], table_cost[t], lams, k))
        values_arr, cands = np.vstack(values), np.asarray(candidates[t])
        for i, lam in enumerate(lams):
            table = int(np.argmax(table_p[t] * k - lam * table_cost[t]))
            best = int(np.argmax(values_arr[:, i]))
            keep = table in candidates[t] and values_arr[candidates[t].index(table), i] >= values_arr[best, i] - 1e-12
            plan[t, i] = table if keep else int(cands[best])
    return {"verify_first_lams": lams, "verify_first": plan}


def planned_first(arrays: dict[str, np.ndarray], task: int, lam: float) -> int:
    """The planned first model for `task` at `lam` (the grid point nearest on a log scale), -1 when none is planned."""
    if "verify_first" not in arrays or task >= len(arrays["verify_first"]):
        return -1
    lams = arrays["verify_first_lams"]
    i = 0 if lam <= 0 else 1 + int(np.argmin(np.abs(np.log(lams[1:]) - np.log(lam))))
    return int(arrays["verify_first"][task, i])
