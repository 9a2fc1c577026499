"""Learned routers: predictors of each model's P(correct) per query, and the folders they are saved in.

A query-only router picks `argmax_m  p_m * K - lambda * cost_m` per query, where `p_m` is the predicted
probability that model m answers correctly, `cost_m` its expected cost in USD and `K` a quality scale
(default 1, so lambda is in accuracy points per USD). Sweeping lambda traces a cost-quality curve.

Kinds (`xrouter fit-router --kind`):

* `table` - each task's mean score and cost per model (the task is predicted from the query embedding);
* `knn` - similarity-weighted neighbour outcomes; `mlp` - a one-hidden-layer network (model mean cost);
* `mf` - bilinear query x model factorisation; `blend` - the table blended with an MLP (`mf`, `blend`:
  hyperparameters chosen by k-fold cross-validation on the fit data, saved in `chosen`);
* `verify`, `agree` - cascades that read the answers (`xrouter.eval.cascade`); their first call is the
  table's choice.

Fitted routers are folders holding `router.json` (settings, models, fit ids, chosen hyperparameters) and
`arrays.npz` (numbers only: no pickles, safe to load).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xrouter.errors import DataError, UsageError
from xrouter.eval import predictors
from xrouter.io import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

QUERY_KINDS = ("table", "knn", "mlp", "mf", "blend")
ANSWER_KINDS = ("verify", "agree")
KINDS = QUERY_KINDS + ANSWER_KINDS
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
    tasks: list[str] = field(default_factory=list)
    folds: int = 5
    chosen: dict[str, Any] = field(default_factory=dict)  # hyperparameters picked by cross-validation
    cv: list[dict[str, Any]] = field(default_factory=list)  # every candidate tried, with its cross-validated AIQ
    cascade: dict[str, Any] = field(default_factory=dict)  # answer-aware settings (see xrouter.eval.cascade)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"router kind must be one of {', '.join(KINDS)} (got {self.kind!r})")
        if self.k < 1:
            raise UsageError(f"--k must be at least 1 (got {self.k})")
        if self.hidden < 1:
            raise UsageError(f"--hidden must be at least 1 (got {self.hidden})")
        if not self.quality_scale > 0:
            raise UsageError(f"--quality-scale must be positive (got {self.quality_scale})")
        if self.folds < 2:
            raise UsageError(f"--folds must be at least 2 (got {self.folds})")


def resolve_lambda(spec: RouterSpec, lam: float | None) -> float:
    """The cost weight a decision uses: the one asked for, else the router's default (the one place for it)."""
    return spec.default_lambda if lam is None else float(lam)


class LearnedRouter:
    """A fitted router; `predict` gives P(correct) and expected cost, `choose` applies lambda."""

    def __init__(self, spec: RouterSpec, arrays: dict[str, np.ndarray]) -> None:
        self.spec = spec
        self.arrays = arrays

    @property
    def models(self) -> list[str]:
        """Model names in column order."""
        return self.spec.models

    def task_of(self, emb: np.ndarray) -> np.ndarray:
        """Predicted task index per query (0 for routers fitted without task labels)."""
        if "task_W" not in self.arrays:
            return np.zeros(len(emb), dtype=int)
        return predictors.predict_task(self.arrays, emb)

    def predict(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P(correct), expected cost USD), both shaped (n_queries, n_models)."""
        kind, a = self.spec.kind, self.arrays
        if kind == "knn":
            prior = np.asarray(self.spec.mean_score, dtype=float)
            return predictors.knn_predict(a, emb, k=self.spec.k, prior=prior, prior_weight=self.spec.prior_weight)
        if kind == "mlp":
            p = predictors.mlp_forward(a, emb)
            return p, np.broadcast_to(np.asarray(self.spec.mean_cost_usd, dtype=float), p.shape)
        p_table, cost = predictors.table_predict(a, self.task_of(emb))
        if kind == "mf":
            return predictors.mf_forward(a, emb), cost
        if kind == "blend":
            w = float(self.spec.chosen["blend_weight"])
            return w * p_table + (1.0 - w) * predictors.mlp_forward(a, emb), cost
        return p_table, cost  # table, and the first call of the cascades

    def choose(self, emb: np.ndarray, lam: float | None = None) -> np.ndarray:
        """Index of the chosen model per query for trade-off `lam` (default: the router's default lambda)."""
        p, cost = self.predict(emb)
        return np.argmax(p * self.spec.quality_scale - resolve_lambda(self.spec, lam) * cost, axis=1)

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
