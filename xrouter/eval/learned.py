"""Learned baseline routers: kNN and MLP predictors of each model's P(correct) from query embeddings.

A router picks `argmax_m  p_m * K - lambda * cost_m` per query, where `p_m` is the predicted probability that
model m answers correctly, `cost_m` its expected cost in USD (kNN: similarity-weighted mean over the neighbours;
MLP: the model's mean cost on the fit data) and `K` a quality scale (default 1, so lambda is in accuracy
points per USD). Sweeping lambda traces a cost-quality curve. Fitted routers are folders holding
`router.json` (settings, models, fit ids) and `arrays.npz` (numbers only: no pickles, safe to load).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from xrouter.data.outcomes import OutcomeTable
from xrouter.errors import DataError, UsageError
from xrouter.io import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

KINDS = ("knn", "mlp")
FORMAT_VERSION = 1


@dataclass
class RouterSpec:
    """Settings and fit facts of a learned router (stored as router.json)."""

    kind: str
    models: list[str]
    quality_scale: float = 1.0
    default_lambda: float = 0.0
    k: int = 50
    prior_weight: float = 1.0
    hidden: int = 128
    seed: int = 0
    holdout: float = 0.3
    sources: list[str] = field(default_factory=list)
    fit_query_ids: list[str] = field(default_factory=list)
    mean_cost_usd: list[float] = field(default_factory=list)
    mean_score: list[float] = field(default_factory=list)
    embedding_model: str = "all-MiniLM-L6-v2"
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"router kind must be one of {', '.join(KINDS)} (got {self.kind!r})")
        if self.k < 1:
            raise UsageError(f"--k must be at least 1 (got {self.k})")
        if self.hidden < 1:
            raise UsageError(f"--hidden must be at least 1 (got {self.hidden})")
        if not self.quality_scale > 0:
            raise UsageError(f"--quality-scale must be positive (got {self.quality_scale})")


class LearnedRouter:
    """A fitted kNN or MLP router; `predict` gives P(correct) and expected cost, `choose` applies lambda."""

    def __init__(self, spec: RouterSpec, arrays: dict[str, np.ndarray]) -> None:
        self.spec = spec
        self.arrays = arrays

    @property
    def models(self) -> list[str]:
        """Model names in column order."""
        return self.spec.models

    def predict(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P(correct), expected cost USD), both shaped (n_queries, n_models)."""
        if self.spec.kind == "knn":
            return self._predict_knn(emb)
        p = _mlp_forward(self.arrays, emb)
        cost = np.broadcast_to(np.asarray(self.spec.mean_cost_usd, dtype=float), p.shape)
        return p, cost

    def _predict_knn(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        train, scores, costs = self.arrays["emb"], self.arrays["scores"], self.arrays["costs"]
        k = min(self.spec.k, len(train))
        sims = emb @ train.T
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        w = np.clip(np.take_along_axis(sims, idx, axis=1), 0.0, None) + 1e-6  # similarity weights
        prior = np.asarray(self.spec.mean_score, dtype=float)
        a = self.spec.prior_weight  # shrink towards the global mean when neighbours are few or far
        p = (np.einsum("nk,nkm->nm", w, scores[idx]) + a * prior) / (w.sum(axis=1, keepdims=True) + a)
        cost = np.einsum("nk,nkm->nm", w, costs[idx]) / w.sum(axis=1, keepdims=True)
        return p, cost

    def choose(self, emb: np.ndarray, lam: float | None = None) -> np.ndarray:
        """Index of the chosen model per query for trade-off `lam` (default: the router's default lambda)."""
        lam = self.spec.default_lambda if lam is None else float(lam)
        p, cost = self.predict(emb)
        return np.argmax(p * self.spec.quality_scale - lam * cost, axis=1)

    def save(self, out_dir: str | Path) -> Path:
        """Write router.json and arrays.npz into `out_dir` (atomically each)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "arrays.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **self.arrays)
        atomic_write_text(out / "router.json", json.dumps(asdict(self.spec), indent=1) + "\n")
        return out

    @classmethod
    def load(cls, path: str | Path) -> LearnedRouter:
        """Load a router folder written by `save` (or `xrouter fit-router`)."""
        folder = Path(path)
        spec_file, arrays_file = folder / "router.json", folder / "arrays.npz"
        if not spec_file.is_file() or not arrays_file.is_file():
            raise DataError(f"{folder}: not a learned router folder (needs router.json and arrays.npz)")
        try:
            raw = json.loads(spec_file.read_text(encoding="utf-8"))
            spec = RouterSpec(**raw)
        except (json.JSONDecodeError, TypeError) as exc:
            raise DataError(f"{spec_file}: invalid router settings ({exc})") from None
        if spec.format_version != FORMAT_VERSION:
            raise DataError(f"{spec_file}: format_version {spec.format_version}, this xrouter reads {FORMAT_VERSION}")
        with np.load(arrays_file, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        return cls(spec, arrays)


def _mlp_forward(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Forward pass of the stored MLP (ReLU hidden layers, sigmoid output) in numpy."""
    n_layers = sum(1 for k in arrays if k.startswith("W"))
    h = x.astype(np.float64)
    for i in range(n_layers):
        h = h @ arrays[f"W{i}"] + arrays[f"b{i}"]
        if i < n_layers - 1:
            h = np.maximum(h, 0.0)
    return 1.0 / (1.0 + np.exp(-np.clip(h, -30, 30)))


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
) -> LearnedRouter:
    """Fit a router on a complete outcome table; `emb` rows follow `table.queries()` order."""
    scores_w, costs_w = table.pivot("score"), table.pivot("cost_usd")
    if scores_w.isna().any().any() or costs_w.isna().any().any():
        raise DataError("fit_router: the table has missing outcomes; use OutcomeTable.complete() first")
    ids = list(table.queries()["query_id"])
    scores = scores_w.loc[ids].to_numpy(dtype=np.float64)
    costs = costs_w.loc[ids].to_numpy(dtype=np.float64)
    if len(ids) != len(emb):
        raise DataError(f"fit_router: {len(ids)} queries but {len(emb)} embeddings")
    if len(ids) < 2:
        raise DataError("fit_router: need at least 2 queries to fit a router")
    spec = RouterSpec(
        kind=kind,
        models=list(scores_w.columns),
        quality_scale=quality_scale,
        default_lambda=default_lambda,
        k=k,
        hidden=hidden,
        seed=seed,
        fit_query_ids=ids,
        mean_cost_usd=costs.mean(axis=0).tolist(),
        mean_score=scores.mean(axis=0).tolist(),
    )
    if kind == "knn":
        arrays = {"emb": emb.astype(np.float32), "scores": scores, "costs": costs}
    else:
        arrays = _fit_mlp(emb, scores, hidden=hidden, seed=seed)
    return LearnedRouter(spec, arrays)


def _fit_mlp(emb: np.ndarray, scores: np.ndarray, *, hidden: int, seed: int) -> dict[str, np.ndarray]:
    """Multi-output MLP with a sigmoid head trained on the (possibly fractional) scores by cross-entropy."""
    import torch

    torch.manual_seed(seed)
    x = torch.as_tensor(emb, dtype=torch.float32)
    y = torch.as_tensor(np.clip(scores, 0.0, 1.0), dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, y.shape[1]))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    for _epoch in range(60):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), 64):
            batch = order[start : start + 64]
            opt.zero_grad()
            loss = loss_fn(net(x[batch]), y[batch])
            loss.backward()
            opt.step()
    layers = [m for m in net if isinstance(m, torch.nn.Linear)]
    out: dict[str, np.ndarray] = {}
    for i, layer in enumerate(layers):
        out[f"W{i}"] = layer.weight.detach().numpy().T.astype(np.float64)
        out[f"b{i}"] = layer.bias.detach().numpy().astype(np.float64)
    return out


def parse_learned_policy(spec: str) -> tuple[str, float | None]:
    """Split `DIR[:lambda]` (the part after `learned:`) into the folder and the optional lambda."""
    head, sep, tail = spec.rpartition(":")
    if sep and head:
        try:
            return head, float(tail)
        except ValueError:
            pass  # a colon inside the path, not a lambda
    if not spec:
        raise UsageError("learned policy needs a folder: learned:<DIR>[:lambda]")
    return spec, None
