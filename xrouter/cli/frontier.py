"""Reward frontier on recorded outcomes: for each λ, what a perfect single-call router would do under the reward.

Reads RouterBench CSVs or xrouter outcome tables, drops queries where any model's outcome is missing
(and says how many), prints a table and writes `frontier.csv` and `frontier.png` (accuracy vs dollars
per 1k queries, log cost axis) to --out. Use it to choose λ (and the shaping) before training.
"""

from __future__ import annotations

import argparse
import math
import sys

from xrouter.cli.common import add_overwrite_argument
from xrouter.cli.reward_flags import add_reward_arguments, reward_config
from xrouter.errors import UsageError

DEFAULT_LAMBDAS = "0,0.5,1,2,3,5"


def parse_lambdas(text: str) -> list[float]:
    """`"0,0.5,1"` -> [0.0, 0.5, 1.0]; raises UsageError (one line, exit 2) for anything else."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(
            f"--lambdas: expected comma-separated numbers such as {DEFAULT_LAMBDAS}, got {text!r}"
        ) from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise UsageError(f"--lambdas: values must be finite numbers >= 0, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter frontier`."""
    parser.add_argument("--data", nargs="+", action="extend", required=True, metavar="PATH",
                        help="outcome files or folders: RouterBench .csv, xrouter .parquet/.jsonl (repeatable)")  # fmt: skip
    parser.add_argument("--lambdas", default=DEFAULT_LAMBDAS,
                        help=f"comma-separated λ values (>= 0) to evaluate (default: {DEFAULT_LAMBDAS})")  # fmt: skip
    add_reward_arguments(parser, cost_lambda=False)
    parser.add_argument(
        "--out", default="outputs/frontier", help="folder for frontier.csv and frontier.png (default: outputs/frontier)"
    )
    parser.add_argument("--by-dataset", action="store_true",
                        help="one frontier per dataset: rows carry the dataset name, plots go to frontier_<dataset>.png")  # fmt: skip
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG plot(s)")
    add_overwrite_argument(parser, "frontier files in --out")


def run(args: argparse.Namespace) -> int:
    """Compute the frontier, print it, write the CSV and the plot."""
    from pathlib import Path

    from rich.console import Console

    from xrouter.data.outcomes import load_outcomes
    from xrouter.io import atomic_path, refuse_existing
    from xrouter.reward.frontier import compute_frontier

    lambdas = parse_lambdas(args.lambdas)
    base = reward_config(args, cost_lambda=0.0)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    refuse_existing(sorted(out.glob("frontier*.csv")) + sorted(out.glob("frontier*.png")), overwrite=args.overwrite)
    frontier = compute_frontier(load_outcomes(args.data), lambdas, base, by_dataset=args.by_dataset)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140)
    console.print(_table(frontier))
    console.print(f"{frontier.n_queries} queries x {len(frontier.models)} models; "
                  f"{frontier.n_dropped} queries dropped (an outcome was missing)")  # fmt: skip
    with atomic_path(out / "frontier.csv") as tmp:
        frontier.frame.to_csv(tmp, index=False)
    written = [out / "frontier.csv"]
    if not args.no_plot:
        written.extend(_plots(frontier.frame, out, base.shaping))
    console.print("wrote " + ", ".join(map(str, written)))
    return 0


def _plots(frame, out, shaping: str) -> list:  # type: ignore[no-untyped-def]
    """frontier.png (pooled) or frontier_<dataset>.png per dataset; best_single rows are left out."""
    import re

    from xrouter.eval.plots import plot_frontier

    points = frame[frame["policy"] != "best_single"].copy()
    points["label"] = [_label(r.policy, r["lambda"]) for _, r in points.iterrows()]
    paths = []
    for name, part in points.groupby("dataset", sort=True):
        stem = "frontier" if name == "all" else "frontier_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))
        title = f"reward frontier: {name} queries ({shaping} shaping)"
        hindsight = set(part.loc[part["policy"].isin(["oracle", "reward_optimal"]), "label"])
        paths.append(plot_frontier(part, out / f"{stem}.png", title=title, label_col="label", hindsight=hindsight))
    return paths


def _label(policy: str, lam: float) -> str:
    if policy.startswith("single:"):
        return policy.removeprefix("single:").split("/")[-1]
    return policy if math.isnan(lam) else f"reward-optimal λ={lam:g}"


def _table(frontier):  # type: ignore[no-untyped-def]
    from rich.table import Table

    table = Table(title="reward frontier (single call per query)")
    by_dataset = frontier.frame["dataset"].nunique() > 1
    for name in ("dataset",) * by_dataset + (
        "policy",
        "λ",
        "accuracy",
        "$ / 1k queries",
        "mean reward",
        "cheapest model",
        "top models",
    ):
        table.add_column(name, justify="left" if name in ("policy", "top models") else "right")
    shares = [c for c in frontier.frame.columns if c.startswith("share:")]
    for _, row in frontier.frame.iterrows():
        top = row[shares].astype(float).sort_values(ascending=False)
        top_text = ", ".join(
            f"{k.removeprefix('share:').split('/')[-1]} {v:.0%}" for k, v in top.head(3).items() if v > 0
        )
        policy = row["policy"] if row["policy"] != "best_single" else f"best_single ({row['model'].split('/')[-1]})"
        table.add_row(
            *([str(row["dataset"])] if by_dataset else []),
            policy,
            "" if math.isnan(row["lambda"]) else f"{row['lambda']:g}",
            f"{row['accuracy']:.3f}",
            f"{row['cost_per_1k_usd']:.3f}",
            "" if math.isnan(row["mean_reward"]) else f"{row['mean_reward']:.4f}",
            f"{row['cheapest_share']:.0%}",
            top_text,
        )
    return table
