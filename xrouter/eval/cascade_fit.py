"""Fitting the answer-aware cascades on the recorded answers of the fit queries.

`verify`: for every task and first model m, a verifier V1 (logistic regressions on features of the query and of
m's answer) predicts every model's chance of being right given what m answered; for every task, every first
model the table can pick and every second model e, a verifier V2 on both answers and their agreement predicts
the chance of m, e and the task's strongest model. The regularisation strength is chosen by k-fold
cross-validated log-loss of the V1 verifiers of the table's middle choice.

`agree`: for every task, every pair of models (a, b) and every escalation model e (or none), the recorded
answers give the quality and cost of "call a and b; return their answer when they agree, else call e"; a
router with cost weight lambda uses the option with the best quality * K - lambda * cost.
"""

from __future__ import annotations

import logging
from itertools import combinations

import numpy as np

from xrouter.eval import answers as ans
from xrouter.eval import crossval
from xrouter.eval.cascade_first import fit_first_plan
from xrouter.eval.fit_data import Embed, FitData
from xrouter.eval.learned import LearnedRouter
from xrouter.eval.verifier import PCA_DIMS, fit_logistic, fit_pca, pair_features, single_features, standardize

log = logging.getLogger(__name__)

C_GRID = (0.03, 0.3, 3.0)
ANSWER_CHARS = 600  # the start of an answer is embedded (below the embedder's long-prompt threshold)


def fit_cascade(router: LearnedRouter, data: FitData, embed: Embed | None) -> None:
    """Fill `router.spec.cascade` and the verifier arrays for kind verify or agree."""
    responses = data.table.pivot("response").loc[data.ids].fillna("").astype(str).to_numpy()
    kinds = [ans.answer_kind(responses[data.task_idx == t].ravel().tolist()) for t in range(len(data.tasks))]
    router.spec.cascade = {"answer_kinds": kinds}
    if router.spec.kind == "agree":
        _fit_agree(router, data, responses, kinds)
    else:
        assert embed is not None
        _fit_verify(router, data, responses, kinds, embed)


def _fit_agree(router: LearnedRouter, data: FitData, responses: np.ndarray, kinds: list[str]) -> None:
    rows_out, qc_out = [], []
    n_models = len(router.models)
    if n_models < 3:
        log.warning("agree compares two models and escalates to a third: with %d models it is the per-task table",
                    n_models)  # fmt: skip
    for t, kind in enumerate(kinds):
        rows = np.flatnonzero(data.task_idx == t)
        if not len(rows):
            continue
        s, c = data.scores[rows], data.costs[rows]
        norm = [[ans.normalized(r, kind) for r in responses[i]] for i in rows]
        for m in range(n_models):  # a single model: the table's option
            rows_out.append((t, m, -1, -1))
            qc_out.append((s[:, m].mean(), c[:, m].mean()))
        for a, b in combinations(range(n_models), 2):
            same = np.array([x[a] is not None and x[a] == x[b] for x in norm])
            speaker = a if s[:, a].mean() >= s[:, b].mean() else b
            for e in range(n_models):
                if e in (a, b):
                    continue
                quality = np.where(same, s[:, speaker], s[:, e]).mean()
                cost = (c[:, a] + c[:, b] + np.where(same, 0.0, c[:, e])).mean()
                rows_out.append((t, speaker, b if speaker == a else a, e))
                qc_out.append((quality, cost))
    router.arrays["agree_options"] = np.asarray(rows_out, dtype=np.int64)
    router.arrays["agree_quality_cost"] = np.asarray(qc_out, dtype=np.float64)


def _answer_embeddings(data: FitData, responses: np.ndarray, embed: Embed) -> np.ndarray:
    """Embedding of every (query, model) answer, shape (queries, models, dims)."""
    flat = [r.strip()[:ANSWER_CHARS] for r in responses.ravel()]
    unique = list(dict.fromkeys(flat))
    vectors = np.asarray(embed(unique), dtype=np.float64)
    index = {text: i for i, text in enumerate(unique)}
    return vectors[[index[t] for t in flat]].reshape(*responses.shape, -1)


def _fit_verify(router: LearnedRouter, data: FitData, responses: np.ndarray, kinds: list[str], embed: Embed) -> None:
    spec, arrays = router.spec, router.arrays
    answer_emb = _answer_embeddings(data, responses, embed)
    arrays.update(fit_pca(data.emb, "q"))
    arrays.update(fit_pca(answer_emb.reshape(-1, answer_emb.shape[-1]), "a"))
    fmt = np.array([[ans.format_features(r, kinds[t]) for r in row] for row, t in zip(responses, data.task_idx, strict=True)])
    labels = (data.scores >= 0.5).astype(float)
    c_value = _choose_c(router, data, responses, answer_emb, fmt, labels, kinds)
    verifiers: list[dict] = []
    n_models = len(spec.models)
    candidates = [_first_choices(router, t) for t in range(len(data.tasks))]
    first_features: dict[int, dict[int, np.ndarray]] = {}
    for t in range(len(data.tasks)):
        rows = np.flatnonzero(data.task_idx == t)
        if len(rows) < 10:
            continue
        top = int(np.argmax(data.scores[rows].mean(axis=0)))
        for m in range(n_models):
            x = single_features(arrays, data.emb[rows], answer_emb[rows, m], fmt[rows, m])
            verifiers.append(_store(arrays, len(verifiers), t, [m], list(range(n_models)), x, labels[rows], c_value))
            if m in candidates[t]:
                first_features.setdefault(t, {})[m] = x
        for m in candidates[t]:
            for e in range(n_models):
                if e == m:
                    continue
                same = np.array([ans.agree(responses[i, m], responses[i, e], kinds[t]) for i in rows], dtype=float)
                x = pair_features(arrays, data.emb[rows], (answer_emb[rows, m], answer_emb[rows, e]),
                                  (fmt[rows, m], fmt[rows, e]), same)  # fmt: skip
                outputs = list(dict.fromkeys([m, e, top]))
                verifiers.append(_store(arrays, len(verifiers), t, [m, e], outputs, x, labels[rows], c_value))
    arrays.update(fit_first_plan(data, first_features, labels, candidates, arrays["table_p"], arrays["table_cost"],
                                 k=spec.quality_scale, folds=spec.folds, seed=spec.seed, c_value=c_value,
                                 mean_costs=spec.mean_cost_usd))  # fmt: skip
    spec.cascade.update({"verifiers": verifiers, "features": list(ans.FEATURE_NAMES), "pca_dims": PCA_DIMS,
                         "answer_chars": ANSWER_CHARS,
                         "top_model": [int(np.argmax(data.scores[data.task_idx == t].mean(axis=0)))
                                       if (data.task_idx == t).any() else 0 for t in range(len(data.tasks))]})  # fmt: skip


def _store(arrays: dict, idx: int, task: int, state: list[int], outputs: list[int], x: np.ndarray, y: np.ndarray,
           c_value: float) -> dict:  # fmt: skip
    """Fit one verifier (one logistic regression per output model) and store its arrays under `v<idx>_`."""
    y = y[:, outputs]
    mu, sd = standardize(x)
    w, b = fit_logistic((x - mu) / sd, y, c_value)
    arrays.update({f"v{idx}_W": w, f"v{idx}_b": b, f"v{idx}_mu": mu, f"v{idx}_sd": sd})
    return {"task": task, "state": state, "outputs": outputs, "key": f"v{idx}"}


def _first_choices(router: LearnedRouter, task: int) -> list[int]:
    """The models the table picks first for `task` anywhere on the lambda grid."""
    p, cost = router.arrays["table_p"][task], router.arrays["table_cost"][task]
    lams = crossval.lambda_grid(router.spec.mean_cost_usd, router.spec.quality_scale)
    return sorted({int(np.argmax(p * router.spec.quality_scale - lam * cost)) for lam in lams})


def _choose_c(router: LearnedRouter, data: FitData, responses: np.ndarray, answer_emb: np.ndarray, fmt: np.ndarray,
              labels: np.ndarray, kinds: list[str]) -> float:  # fmt: skip
    """Regularisation by k-fold log-loss of V1 for each task's middle table choice (cheap and representative)."""
    folds = crossval.fold_index(data.ids, router.spec.folds, router.spec.seed)
    losses = {c: 0.0 for c in C_GRID}
    for t in range(len(data.tasks)):
        rows = np.flatnonzero(data.task_idx == t)
        choices = _first_choices(router, t)
        if len(rows) < 2 * router.spec.folds or not choices:
            continue
        m = choices[len(choices) // 2]
        x = single_features(router.arrays, data.emb[rows], answer_emb[rows, m], fmt[rows, m])
        y = labels[rows]
        for c_value in C_GRID:
            for f in np.unique(folds[rows]):
                test, train = folds[rows] == f, folds[rows] != f
                mu, sd = standardize(x[train])
                w, b = fit_logistic((x[train] - mu) / sd, y[train], c_value)
                z = ((x[test] - mu) / sd) @ w + b
                prob = np.clip(1 / (1 + np.exp(-np.clip(z, -30, 30))), 1e-6, 1 - 1e-6)
                losses[c_value] -= float(np.sum(y[test] * np.log(prob) + (1 - y[test]) * np.log(1 - prob)))
    best = min(C_GRID, key=lambda c: losses[c])
    router.spec.cv.extend({"C": c, "cv_log_loss": round(v, 3)} for c, v in losses.items())
    router.spec.chosen = {"C": best}
    log.info("verifier regularisation: C=%s (cross-validated log-loss %s)", best, losses)
    return best
