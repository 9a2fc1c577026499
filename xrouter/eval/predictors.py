"""The numbers inside the learned routers: per-kind fits and predictions of each model's P(correct).

Every function works on plain arrays (query embeddings `x`, shape (n, d); recorded scores, shape (n, models))
and returns or reads a dict of named numpy arrays, the form a router folder stores in `arrays.npz`:

* task classifier (`task_W`, `task_b`): multinomial logistic regression from the query embedding to the
  benchmark the query comes from, so a router can use per-task facts for requests that carry no task label;
* table (`table_p`, `table_cost`): each task's mean score and mean cost per model;
* MLP (`W0`, `b0`, `W1`, `b1`): one hidden ReLU layer with a sigmoid output per model;
* matrix factorisation (`mf_P`, `mf_pb`, `mf_V`, `mf_b`): logit_m(q) = (x_q P + pb) . V_m + b_m, a bilinear
  score of a projected query embedding against a learned embedding per model.
"""

from __future__ import annotations

import numpy as np

_EPOCHS = 60
_BATCH = 64


def fit_task_classifier(x: np.ndarray, labels: np.ndarray, n_tasks: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Logistic regression from embeddings to task indices (all-zero weights when there is one task)."""
    if n_tasks < 2:
        return {"task_W": np.zeros((x.shape[1], 1)), "task_b": np.zeros(1)}
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=10.0, max_iter=500, random_state=seed).fit(x, labels)
    coef, intercept = model.coef_, model.intercept_
    if n_tasks == 2:  # sklearn returns one column for two classes: make it a two-column softmax
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    full_w, full_b = np.zeros((x.shape[1], n_tasks)), np.full(n_tasks, -1e9)
    for col, cls in enumerate(model.classes_):  # classes absent from the fit data can never be predicted
        full_w[:, int(cls)], full_b[int(cls)] = coef[col], intercept[col]
    return {"task_W": full_w, "task_b": full_b}


def predict_task(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Task index per query."""
    return np.argmax(x.astype(np.float64) @ arrays["task_W"] + arrays["task_b"], axis=1)


def fit_table(tasks: np.ndarray, n_tasks: int, scores: np.ndarray, costs: np.ndarray) -> dict[str, np.ndarray]:
    """Per-task mean score and mean cost of every model (a task without queries gets the overall means)."""
    p = np.tile(scores.mean(axis=0), (n_tasks, 1))
    c = np.tile(costs.mean(axis=0), (n_tasks, 1))
    for t in range(n_tasks):
        mask = tasks == t
        if mask.any():
            p[t], c[t] = scores[mask].mean(axis=0), costs[mask].mean(axis=0)
    return {"table_p": p, "table_cost": c}


def table_predict(arrays: dict[str, np.ndarray], tasks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P(correct), expected cost) of every model for queries of the given tasks."""
    return arrays["table_p"][tasks], arrays["table_cost"][tasks]


def _train_bce(net, x: np.ndarray, y: np.ndarray, *, seed: int, weight_decay: float, epochs: int = _EPOCHS) -> None:  # noqa: ANN001
    """Minibatch AdamW on binary cross-entropy of (possibly fractional) scores, seeded, on one thread."""
    import torch

    threads = torch.get_num_threads()
    # the layers are tiny: a second intra-op thread only adds synchronisation, and on a busy machine its
    # waiting made a fit 20x slower (188 s against 8.7 s for one 944-query MLP)
    torch.set_num_threads(1)
    try:
        _train_loop(net, x, y, seed=seed, weight_decay=weight_decay, epochs=epochs)
    finally:
        torch.set_num_threads(threads)


def _train_loop(net, x: np.ndarray, y: np.ndarray, *, seed: int, weight_decay: float, epochs: int) -> None:  # noqa: ANN001
    import torch

    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(np.clip(y, 0.0, 1.0), dtype=torch.float32)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    for _epoch in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), _BATCH):
            batch = order[start : start + _BATCH]
            opt.zero_grad()
            loss_fn(net(xt[batch]), yt[batch]).backward()
            opt.step()


def fit_mlp(x: np.ndarray, scores: np.ndarray, *, hidden: int, seed: int, weight_decay: float = 1e-2) -> dict[str, np.ndarray]:
    """Multi-output MLP (one ReLU hidden layer, sigmoid head) trained by cross-entropy."""
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, scores.shape[1]))
    _train_bce(net, x, scores, seed=seed, weight_decay=weight_decay)
    out: dict[str, np.ndarray] = {}
    for i, layer in enumerate(m for m in net if isinstance(m, torch.nn.Linear)):
        out[f"W{i}"] = layer.weight.detach().numpy().T.astype(np.float64)
        out[f"b{i}"] = layer.bias.detach().numpy().astype(np.float64)
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def mlp_forward(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Forward pass of the stored MLP (ReLU hidden layers, sigmoid output) in numpy."""
    n_layers = sum(1 for k in arrays if k.startswith("W") and k[1:].isdigit())
    h = x.astype(np.float64)
    for i in range(n_layers):
        h = h @ arrays[f"W{i}"] + arrays[f"b{i}"]
        if i < n_layers - 1:
            h = np.maximum(h, 0.0)
    return _sigmoid(h)


def fit_mf(x: np.ndarray, scores: np.ndarray, *, dim: int, seed: int, weight_decay: float = 1e-2) -> dict[str, np.ndarray]:
    """Bilinear query x model factorisation trained by cross-entropy on the recorded scores."""
    import torch

    torch.manual_seed(seed)

    class Bilinear(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.project = torch.nn.Linear(x.shape[1], dim)
            self.models = torch.nn.Parameter(torch.randn(scores.shape[1], dim) / dim**0.5)
            self.bias = torch.nn.Parameter(torch.zeros(scores.shape[1]))

        def forward(self, batch):  # noqa: ANN001, ANN202 - torch tensors
            return self.project(batch) @ self.models.T + self.bias

    net = Bilinear()
    _train_bce(net, x, scores, seed=seed, weight_decay=weight_decay)
    return {
        "mf_P": net.project.weight.detach().numpy().T.astype(np.float64),
        "mf_pb": net.project.bias.detach().numpy().astype(np.float64),
        "mf_V": net.models.detach().numpy().astype(np.float64),
        "mf_b": net.bias.detach().numpy().astype(np.float64),
    }


def mf_forward(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """P(correct) per model from the stored factorisation."""
    q = x.astype(np.float64) @ arrays["mf_P"] + arrays["mf_pb"]
    return _sigmoid(q @ arrays["mf_V"].T + arrays["mf_b"])


def knn_predict(
    arrays: dict[str, np.ndarray], x: np.ndarray, *, k: int, prior: np.ndarray, prior_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-weighted neighbour means of scores and costs, scores shrunk towards `prior`."""
    train, scores, costs = arrays["emb"], arrays["scores"], arrays["costs"]
    k = min(k, len(train))
    sims = x @ train.T
    idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    w = np.clip(np.take_along_axis(sims, idx, axis=1), 0.0, None) + 1e-6  # similarity weights
    p = (np.einsum("nk,nkm->nm", w, scores[idx]) + prior_weight * prior) / (w.sum(axis=1, keepdims=True) + prior_weight)
    cost = np.einsum("nk,nkm->nm", w, costs[idx]) / w.sum(axis=1, keepdims=True)
    return p, cost
