"""Fit a learned router on recorded outcomes: query-only (table, knn, mlp, mf, blend) or answer-aware (verify, agree).

A query-only router predicts each model's probability of answering correctly and picks
argmax_m p_m * K - lambda * cost_m; verify and agree call a first model and read its answer before they
decide whether to escalate (see `xrouter.eval.cascade`). It is fitted on the `fit` part of a deterministic split of the data
(`--holdout` fraction held out, by seeded hash of the query id); benchmark it on the other part with
`xrouter bench --split eval --holdout H --seed S --policy learned:DIR[:lambda]`.

Example (the shipped sample; after `xrouter data fetch routerbench-slices` use data/routerbench_slices):
  xrouter fit-router --data xrouter/resources/llmrouter_sample.csv --kind knn --out outputs/router_knn
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from xrouter.cli.common import add_overwrite_argument
from xrouter.errors import DataError
from xrouter.eval.learned import KINDS
from xrouter.io import refuse_existing

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter fit-router`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the example's line breaks
    parser.add_argument("--data", action="append", required=True, metavar="PATH",
                        help="training outcome tables (RouterBench *_train.csv, outcome parquet/JSONL, or folders);"
                        " repeatable")  # fmt: skip
    parser.add_argument("--kind", choices=list(KINDS), default="knn",
                        help="table (per-task lookup), knn, mlp, mf (bilinear), blend (table + MLP), verify (learned"
                        " verifier cascade) or agree (two cheap models, escalate on disagreement); default: knn")  # fmt: skip
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
    parser.add_argument("--folds", type=int, default=5,
                        help="cross-validation folds for the choices mf, blend and verify make (default: 5)")  # fmt: skip
    parser.add_argument("--encoder", metavar="NAME", default="all-MiniLM-L6-v2",
                        help="query (and answer) encoder: all-MiniLM-L6-v2 (default, shipped) or a local"
                        " sentence-transformers model folder; saved with the router")  # fmt: skip
    parser.add_argument("--models", metavar="A,B,C",
                        help="route among these models only (names as in the data; default: every model)")  # fmt: skip
    parser.add_argument("--embedding-cache", metavar="DIR",
                        help="embedding cache folder (default: $XROUTER_CACHE_DIR or ~/.cache/xrouter)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Load, split, embed, fit and save; print a one-line summary."""
    from xrouter.data.outcomes import load_outcomes
    from xrouter.eval.embed import Embedder
    from xrouter.eval.fitting import fit_router
    from xrouter.eval.learned import RouterSpec
    from xrouter.eval.split import select_split

    # check the settings before the slow part (loading the sentence model and embedding every query)
    RouterSpec(kind=args.kind, models=[], k=args.k, hidden=args.hidden, quality_scale=args.quality_scale,
               folds=args.folds)
    embedder = Embedder(args.embedding_cache, model=args.encoder)
    refuse_existing([Path(args.out) / "router.json", Path(args.out) / "arrays.npz"], overwrite=args.overwrite)
    table = load_outcomes(args.data)
    if args.models:
        table = table.with_models(m.strip() for m in args.models.split(",") if m.strip())
    if args.split == "all":
        log.warning("--split all: every query is fitted on, so none is left for an honest benchmark")
    ids = list(table.queries()["query_id"])
    keep = ids if args.split == "all" else select_split(ids, "fit", holdout=args.holdout, seed=args.seed)
    table, dropped = table.subset(keep).complete()
    if len(table.queries()) < 2:
        raise DataError(f"only {len(table.queries())} complete queries to fit on in {', '.join(args.data)}")
    texts = list(table.queries()["query_text"])
    started = time.perf_counter()
    emb = embedder.encode(texts)
    router = fit_router(table, emb, kind=args.kind, k=args.k, hidden=args.hidden, seed=args.seed,
                        quality_scale=args.quality_scale, default_lambda=args.lam, folds=args.folds,
                        embed=embedder.encode)  # fmt: skip
    router.spec.holdout = args.holdout if args.split == "fit" else 0.0
    router.spec.sources = list(table.sources)
    router.spec.embedding_model = embedder.model_name
    router.save(args.out)
    held = f"{args.holdout:.0%} held out, seed {args.seed}" if args.split == "fit" else "nothing held out"
    chosen = f"; chosen {json.dumps(router.spec.chosen)}" if router.spec.chosen else ""
    sys.stdout.write(f"fitted a {args.kind} router on {len(texts)} queries ({held}; {dropped} incomplete dropped) "
                     f"over {len(router.models)} models in {time.perf_counter() - started:.1f} s{chosen}: {args.out}\n")  # fmt: skip
    return 0
