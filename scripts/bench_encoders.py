"""Compare query encoders for the learned routers: cross-validated AIQ on the fit split and CPU cost per 1k queries.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_encoders.py --data DIR_OR_FILE [--data ...] \
        --encoder all-MiniLM-L6-v2 --encoder /path/to/sentence-transformers-folder

For every encoder: the fit split's queries (the same split `xrouter fit-router` uses) are embedded with an
empty cache (CPU seconds of this process per 1k queries, and wall seconds), then the query-only kinds that
read the embedding are cross-validated on the fit split exactly as `fit-router` does it (5 folds by seeded
hash): knn (k=50), mlp, mf (best latent size) and blend (best weight; w=1 is the per-task table, the
reference that ignores the embedding beyond the task). Figures of different encoders come from one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from xrouter.data.outcomes import load_outcomes
from xrouter.eval import crossval, predictors
from xrouter.eval.embed import Embedder
from xrouter.eval.fit_data import FitData
from xrouter.eval.fitting import fit_router
from xrouter.eval.split import select_split


def fit_split(paths: list[str], holdout: float, seed: int):  # noqa: ANN201 - an OutcomeTable
    """The complete fit-split table `fit-router` would fit on."""
    table = load_outcomes(paths)
    ids = list(table.queries()["query_id"])
    return table.subset(select_split(ids, "fit", holdout=holdout, seed=seed)).complete()[0]


def embed_timed(encoder: str, texts: list[str]) -> tuple[np.ndarray, float, float]:
    """Embeddings with an empty cache, CPU seconds and wall seconds (model loading excluded)."""
    with tempfile.TemporaryDirectory() as cache:
        embedder = Embedder(cache, model=encoder)
        embedder.encode(["warm up"])  # loads the model
        cpu, wall = time.process_time(), time.perf_counter()
        emb = embedder.encode(texts)
        return emb, time.process_time() - cpu, time.perf_counter() - wall


def cv_scores(table, emb: np.ndarray, folds: int, seed: int) -> dict[str, float]:  # noqa: ANN001
    """Cross-validated AIQ of knn and mlp (out-of-fold) and the best candidate of mf and blend."""
    data = FitData.of(table, emb)
    fold = crossval.fold_index(data.ids, folds, seed)
    out: dict[str, float] = {}
    for kind in ("knn", "mlp"):
        def fold_fit(rows: np.ndarray, test: np.ndarray, kind: str = kind) -> tuple[np.ndarray, np.ndarray]:
            tab = predictors.fit_table(data.task_idx[rows], len(data.tasks), data.scores[rows], data.costs[rows])
            cost = predictors.table_predict(tab, data.task_idx[test])[1]
            if kind == "knn":
                arrays = {"emb": data.emb[rows].astype(np.float32), "scores": data.scores[rows], "costs": data.costs[rows]}
                prior = data.scores[rows].mean(axis=0)
                return predictors.knn_predict(arrays, data.emb[test], k=50, prior=prior, prior_weight=1.0)[0], cost
            mlp = predictors.fit_mlp(data.emb[rows], data.scores[rows], hidden=128, seed=seed)
            return predictors.mlp_forward(mlp, data.emb[test]), cost

        p, cost = crossval.out_of_fold(fold_fit, fold, data.scores.shape[1])
        out[kind] = crossval.curve_aiq(p, cost, data.scores, data.costs)
    for kind in ("mf", "blend"):
        router = fit_router(table, emb, kind=kind, folds=folds, seed=seed)
        out[kind] = float(router.spec.chosen["cv_aiq"])
        if kind == "blend":
            out["table (blend w=1)"] = next(c["cv_aiq"] for c in router.spec.cv if c["blend_weight"] == 1.0)
            out["blend chosen w"] = float(router.spec.chosen["blend_weight"])
    return out


def main() -> None:
    """Parse flags, measure every encoder, print one table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", required=True, help="outcome tables (repeatable)")
    parser.add_argument("--encoder", action="append", required=True, help="encoder name or folder (repeatable)")
    parser.add_argument("--holdout", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    table = fit_split(args.data, args.holdout, args.seed)
    texts = list(table.queries()["query_text"])
    print(f"{len(texts)} fit queries from {', '.join(args.data)}")
    rows = []
    for encoder in args.encoder:
        emb, cpu, wall = embed_timed(encoder, texts)
        scores = cv_scores(table, emb, args.folds, args.seed)
        rows.append((encoder, emb.shape[1], 1000 * cpu / len(texts), 1000 * wall / len(texts), scores))
    keys = list(rows[0][4])
    print("| encoder | dim | CPU s / 1k queries | wall s / 1k | " + " | ".join(f"CV AIQ {k}" for k in keys) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(keys))
    for name, dim, cpu, wall, scores in rows:
        cells = " | ".join(f"{scores[k]:.4f}" if "chosen" not in k else f"{scores[k]:g}" for k in keys)
        print(f"| {name} | {dim} | {cpu:.1f} | {wall:.1f} | {cells} |")


if __name__ == "__main__":
    main()
