"""Fit a learned baseline router (kNN or MLP over query embeddings) on recorded outcomes.

The router predicts each model's probability of answering correctly and picks
argmax_m p_m * K - lambda * cost_m. It is fitted on the `fit` part of a deterministic split of the data
(`--holdout` fraction held out, by seeded hash of the query id); benchmark it on the other part with
`xrouter bench --split eval --holdout H --seed S --policy learned:DIR[:lambda]`.

Example (the shipped sample; after `xrouter data fetch routerbench-slices` use data/routerbench_slices):
  xrouter fit-router --data xrouter/resources/llmrouter_sample.csv --kind knn --out outputs/router_knn
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from xrouter.cli.common import add_overwrite_argument
from xrouter.errors import DataError
from xrouter.io import refuse_existing

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter fit-router`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the example's line breaks
    parser.add_argument("--data", action="append", required=True, metavar="PATH",
                        help="training outcome tables (RouterBench *_train.csv, outcome parquet/JSONL, or folders);"
                        " repeatable")  # fmt: skip
    parser.add_argument("--kind", choices=["knn", "mlp"], default="knn", help="predictor (default: knn)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for router.json and arrays.npz")
    parser.add_argument("--holdout", type=float, default=0.3,
                        help="fraction held out for evaluation and never fitted on (default: 0.3)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="split seed (default: 0)")
    parser.add_argument("--split", choices=["fit", "all"], default="fit",
                        help="fit on the fit part (default) or on all rows (then nothing is held out)")  # fmt: skip
    parser.add_argument("--k", type=int, default=50, help="neighbours for knn (default: 50)")
    parser.add_argument("--hidden", type=int, default=128, help="hidden units for mlp (default: 128)")
    parser.add_argument("--lambda", dest="lam", type=float, default=0.0,
                        help="default cost weight lambda, in quality points per USD (default: 0)")  # fmt: skip
    parser.add_argument("--quality-scale", type=float, default=1.0, help="K in p*K - lambda*cost (default: 1)")
    add_overwrite_argument(parser, "router in --out")
    parser.add_argument("--embedding-cache", metavar="DIR",
                        help="embedding cache folder (default: $XROUTER_CACHE_DIR or ~/.cache/xrouter)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Load, split, embed, fit and save; print a one-line summary."""
    from xrouter.data.outcomes import load_outcomes
    from xrouter.eval.embed import Embedder
    from xrouter.eval.learned import RouterSpec, fit_router
    from xrouter.eval.split import select_split

    # check the settings before the slow part (loading the sentence model and embedding every query)
    RouterSpec(kind=args.kind, models=[], k=args.k, hidden=args.hidden, quality_scale=args.quality_scale)
    refuse_existing([Path(args.out) / "router.json", Path(args.out) / "arrays.npz"], overwrite=args.overwrite)
    table = load_outcomes(args.data)
    if args.split == "all":
        log.warning("--split all: every query is fitted on, so none is left for an honest benchmark")
    ids = list(table.queries()["query_id"])
    keep = ids if args.split == "all" else select_split(ids, "fit", holdout=args.holdout, seed=args.seed)
    table, dropped = table.subset(keep).complete()
    if len(table.queries()) < 2:
        raise DataError(f"only {len(table.queries())} complete queries to fit on in {', '.join(args.data)}")
    texts = list(table.queries()["query_text"])
    emb = Embedder(args.embedding_cache).encode(texts)
    router = fit_router(table, emb, kind=args.kind, k=args.k, hidden=args.hidden, seed=args.seed,
                        quality_scale=args.quality_scale, default_lambda=args.lam)  # fmt: skip
    router.spec.holdout = args.holdout if args.split == "fit" else 0.0
    router.spec.sources = list(table.sources)
    router.save(args.out)
    held = f"{args.holdout:.0%} held out, seed {args.seed}" if args.split == "fit" else "nothing held out"
    sys.stdout.write(f"fitted a {args.kind} router on {len(texts)} queries ({held}; {dropped} incomplete dropped) "
                     f"over {len(router.models)} models: {args.out}\n")  # fmt: skip
    return 0
