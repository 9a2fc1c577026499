"""Benchmark routing policies on recorded outcomes or eval sets: accuracy, cost, calls, latency, AIQ, frontier.

Examples:
  xrouter bench --dataset data/routerbench_slices --split eval --policy 'single:*' --policy oracle \\
      --policy random --policy learned:outputs/router_knn:100 --out outputs/bench
  xrouter bench --dataset data.csv --backend replay --replay-url http://127.0.0.1:8700 --policy cheapest
  xrouter bench --dataset data/routerbench_slices --split eval --policy router:http://127.0.0.1:8000 \\
      --policy 'single:*' --lambda 0.3,1,3,10,30 --out outputs/bench_sweep

Outputs in --out: summary.csv (one row per policy x dataset, plus `all` when several datasets), aiq.csv,
samples.jsonl (one line per policy x query), frontier.png, run.json. An existing run in --out is refused unless --resume
(continue it) or --overwrite (replace it).
"""

from __future__ import annotations

import argparse
import sys

from xrouter.cli.common import add_overwrite_argument
from xrouter.cli.credentials import add_env_file_argument, load_provider_keys
from xrouter.cli.models import add_catalog_argument
from xrouter.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter bench`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples' line breaks
    parser.add_argument("--dataset", action="append", required=True, metavar="PATH",
                        help="outcome table (RouterBench .csv, outcome .parquet/.jsonl, or a folder of them), an eval"
                        " set JSONL (evalsets layout) or a preprocessed parquet; repeatable")  # fmt: skip
    parser.add_argument("--policy", action="append", required=True, metavar="SPEC",
                        help="single:<model> | single:* | cheapest | strongest | random | oracle |"
                        " learned:<DIR>[:lambda] | hf:<checkpoint folder>[:temperature] (a trained router) |"
                        " router:<base_url>; repeatable")  # fmt: skip
    parser.add_argument("--lambda", dest="lambdas", metavar="L1,L2,...",
                        help="cost weights λ to sweep (e.g. 0.3,1,3,10,30): every router:URL, learned:DIR and"
                        " hf:PATH policy runs once per λ, sending it per request as \"xrouter\": {\"cost_lambda\": λ},"
                        " so one server or checkpoint draws one curve (points named POLICY@lambda=λ)")  # fmt: skip
    parser.add_argument("--backend", choices=["replay", "live", "cache"], default="replay",
                        help="where model answers come from: recorded outcomes (default), live APIs, or a response"
                        " cache only")  # fmt: skip
    parser.add_argument("--replay-url", metavar="URL",
                        help="with --backend replay: call a running `xrouter replay serve` over HTTP instead of"
                        " answering in-process")  # fmt: skip
    parser.add_argument("--models", metavar="A,B,C",
                        help="candidate models for single:*, cheapest, strongest, random (default: the outcome"
                        " table's models)")  # fmt: skip
    parser.add_argument(
        "--cache",
        metavar="FILE",
        help="response cache database: read+write with --backend live, read-only with --backend cache",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="queries in flight at once (default: 8)")
    parser.add_argument("--limit", type=int, help="at most this many queries per dataset (after the split)")
    parser.add_argument("--split", choices=["all", "fit", "eval"], default="all",
                        help="which part of each dataset to run: eval = the held-out part that fit-router never"
                        " sees (default: all)")  # fmt: skip
    parser.add_argument("--holdout", type=float, default=0.3, help="held-out fraction of the split (default: 0.3)")
    parser.add_argument("--seed", type=int, default=0, help="split and random-policy seed (default: 0)")
    parser.add_argument("--out", default="outputs/bench", metavar="DIR", help="output folder (default: outputs/bench)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out: keep its samples and run only what is missing")  # fmt: skip
    add_overwrite_argument(parser, "outputs in --out")
    parser.add_argument("--timeout-s", type=float, help="per-call timeout for live calls in seconds")
    parser.add_argument("--max-tokens", type=int, help="output-token budget per target call (live)")
    parser.add_argument("--router-api-key", metavar="KEY", help="bearer key for router:<base_url> policies")
    parser.add_argument("--aiq-range", metavar="LO,HI",
                        help="cost range in USD per 1k queries for AIQ (default: where all multi-point policy families"
                        " overlap)")  # fmt: skip
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="paired bootstrap resamples for the AIQ difference of every policy family against the"
                        " table baseline (a learned:DIR policy fitted with --kind table); 0 skips it (default: 1000)")  # fmt: skip
    parser.add_argument("--no-plot", action="store_true", help="skip frontier.png")
    add_catalog_argument(parser)
    add_env_file_argument(parser)  # read with --backend live


def _aiq_range(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"--aiq-range must be two numbers LO,HI (got {text!r})") from None
    if not 0 < lo < hi:
        raise UsageError(f"--aiq-range needs 0 < LO < HI (got {text!r})")
    return lo, hi


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the table and where the outputs are."""
    from rich.console import Console

    from xrouter.eval.bench import BenchConfig, run_bench
    from xrouter.eval.summary import render_aiq, render_table
    from xrouter.eval.sweep import parse_lambdas

    if args.backend == "live":
        load_provider_keys(args)
    config = BenchConfig(
        datasets=args.dataset, policies=args.policy, out_dir=args.out, backend=args.backend,
        replay_url=args.replay_url, catalog=args.catalog,
        models=[m.strip() for m in args.models.split(",") if m.strip()] if args.models else [],
        cache_path=args.cache, concurrency=args.concurrency, limit=args.limit, split=args.split,
        holdout=args.holdout, seed=args.seed, resume=args.resume, overwrite=args.overwrite, timeout_s=args.timeout_s,
        max_tokens=args.max_tokens, router_api_key=args.router_api_key, aiq_range=_aiq_range(args.aiq_range),
        plot=not args.no_plot, bootstrap=args.bootstrap, lambdas=parse_lambdas(args.lambdas) if args.lambdas else [],
    )  # fmt: skip
    console = Console(stderr=True)
    result = run_bench(config, console=console)
    out = Console(file=sys.stdout, width=max(170, console.width))
    render_table(result.summary, out, title=f"xrouter bench ({config.backend}, split={config.split})")
    for policy, (failed, total, first) in result.failures.items():
        out.print(f"warning: {policy}: {failed} of {total} queries failed (scored 0, cost 0), e.g. {first[:200]}",
                  markup=False, highlight=False)  # fmt: skip
    dropped = sum(result.dropped.values())
    if dropped:
        out.print(f"dropped {dropped} queries with a missing model outcome (for every policy)")
    if result.skipped:
        out.print(f"resumed: {result.skipped} samples kept from the earlier run, {result.ran} new")
    if not result.aiq.empty:
        pooled = result.aiq[result.aiq["dataset"] == "all"]
        a = (pooled if len(pooled) else result.aiq).iloc[0]
        out.print(f"AIQ over cost ${a.cost_min_per_1k_usd:.4g}-${a.cost_max_per_1k_usd:.4g} per 1k queries"
                  " (log10 cost axis), per policy family (also in aiq.csv):")  # fmt: skip
        render_aiq(result.aiq, out)
    out.print(f"summary: {result.out_dir / 'summary.csv'}")
    if result.frontier is not None:
        out.print(f"frontier: {result.frontier}")
    return 0
