"""The learned verifier's features and logistic regressions, shared by fitting and by the serving policy.

Features of a state with one answer: the answer's format features (`xrouter.eval.answers`), its embedding and
the query's embedding, each projected on the first `PCA_DIMS` principal components of the fit data. A state
with two answers adds the second answer's features and whether the two answers agree. Each verifier is one
logistic regression per output model on standardised features; arrays are stored under `v<i>_W`, `_b`,
`_mu`, `_sd`.
"""

from __future__ import annotations

import numpy as np

PCA_DIMS = 16


def fit_pca(x: np.ndarray, name: str, dims: int = PCA_DIMS) -> dict[str, np.ndarray]:
    """Mean and the first `dims` principal directions of `x`, as arrays `pca_<name>_mean` and `pca_<name>_W`."""
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    w = np.zeros((x.shape[1], dims))
    w[:, : min(dims, len(vt))] = vt[:dims].T
    return {f"pca_{name}_mean": mean, f"pca_{name}_W": w}


def project(arrays: dict[str, np.ndarray], x: np.ndarray, name: str) -> np.ndarray:
    """Coordinates of `x` on the stored principal directions."""
    return (np.asarray(x, dtype=np.float64) - arrays[f"pca_{name}_mean"]) @ arrays[f"pca_{name}_W"]


def single_features(arrays: dict[str, np.ndarray], q_emb: np.ndarray, a_emb: np.ndarray, fmt: np.ndarray) -> np.ndarray:
    """Features of (query, one answer) for each row."""
    return np.hstack([fmt, project(arrays, a_emb, "a"), project(arrays, q_emb, "q")])


def pair_features(
    arrays: dict[str, np.ndarray],
    q_emb: np.ndarray,
    a_emb: tuple[np.ndarray, np.ndarray],
    fmt: tuple[np.ndarray, np.ndarray],
    same: np.ndarray,
) -> np.ndarray:
    """Features of (query, first answer, second answer, agreement) for each row."""
    first, second = (np.hstack([f, project(arrays, a, "a")]) for f, a in zip(fmt, a_emb, strict=True))
    return np.hstack([first, second, project(arrays, q_emb, "q"), np.asarray(same, dtype=float).reshape(-1, 1)])


def standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and spreads (a constant column gets spread 1)."""
    sd = x.std(axis=0)
    return x.mean(axis=0), np.where(sd > 1e-9, sd, 1.0)


def fit_logistic(x: np.ndarray, y: np.ndarray, c_value: float) -> tuple[np.ndarray, np.ndarray]:
    """One L2 logistic regression per column of `y` (0/1); a constant column gets zero weights and its rate.

    Minimises C * sum(log-loss) + |w|^2 / 2 (intercept not penalised, as scikit-learn's LogisticRegression) by
    Newton's method: the problems are small (tens of features, hundreds of rows), where a few exact steps
    beat a quasi-Newton solver's thousands of small calls by far.
    """
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    ridge = np.eye(d + 1)
    ridge[d, d] = 1e-8  # the intercept is free; a tiny ridge keeps the system solvable
    w, b = np.zeros((d, y.shape[1])), np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        labels = y[:, j]
        rate = float(labels.mean())
        if rate <= 0.0 or rate >= 1.0:
            clipped = min(max(rate, 0.01), 0.99)
            b[j] = np.log(clipped / (1 - clipped))
            continue
        theta = np.zeros(d + 1)
        theta[d] = np.log(rate / (1 - rate))
        for _ in range(50):
            p = 1.0 / (1.0 + np.exp(-np.clip(xb @ theta, -30, 30)))
            grad = c_value * (xb.T @ (p - labels)) + ridge @ theta
            hess = c_value * (xb.T * (p * (1 - p))) @ xb + ridge
            step = np.linalg.solve(hess, grad)
            theta -= step
            if np.max(np.abs(step)) < 1e-7:
                break
        w[:, j], b[j] = theta[:d], theta[d]
    return w, b


def verifier_probs(arrays: dict[str, np.ndarray], key: str, x: np.ndarray) -> np.ndarray:
    """P(correct) of each output model of verifier `key`, shape (rows, outputs)."""
    z = ((np.atleast_2d(x) - arrays[f"{key}_mu"]) / arrays[f"{key}_sd"]) @ arrays[f"{key}_W"] + arrays[f"{key}_b"]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
