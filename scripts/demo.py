"""`make demo`: the offline main job - replay provider, learned router, benchmark, frontier plot.

1. Locate recorded outcomes: the RouterBench train files in the data folder ($XROUTER_DATA, default data/;
   `xrouter data fetch routerbench-slices` puts them there), else the small LLMRouter sample shipped in
   xrouter/resources (MIT, see llmrouter_sample_README.md).
2. Start the replay provider (OpenAI-compatible HTTP server on 127.0.0.1, free port) on those outcomes.
3. Fit a kNN router on the fit split (70 % of the queries, by seeded hash of the query id).
4. Benchmark on the held-out 30 % through the replay server over HTTP: every single model, cheapest,
   strongest, random, the cheapest-correct oracle and the learned router at three lambda values.
5. Print the table, the goal comparison and the path of frontier.png; stop the server.

Needs no API key, GPU or network. Outputs go to outputs/demo/ (the bench folder is replaced on every run).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

OFFLINE = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
REPO = Path(__file__).resolve().parent.parent
OUT = Path("outputs") / "demo"  # relative to the repo (main() works from there): short paths in the output
# lambda = share / (spread of the models' mean cost per query on the fit data): the quality a router gives up
# to save the whole price gap. On RouterBench (gap ~$0.005) these shares give lambda ~ 10, 30, 100 per USD.
LAMBDA_SHARES = (0.05, 0.15, 0.5)
HOLDOUT, SEED = 0.3, 0


def locate_data() -> tuple[list[Path], str]:
    """The outcome files to use and a sentence saying where they came from."""
    from xrouter.data.fetch import data_root

    slices = data_root() / "routerbench_slices"
    files = sorted(slices.glob("*_train.csv"))
    if files:
        return files, f"RouterBench train files in {slices}"
    sample = REPO / "xrouter" / "resources" / "llmrouter_sample.csv"
    return [sample], (
        f"the shipped sample {sample.relative_to(REPO)} (9 models x 400 queries; "
        f"`xrouter data fetch routerbench-slices` gets RouterBench into {slices})"
    )


def main() -> int:
    """Run the demo; returns the exit code."""
    os.chdir(REPO)
    for key, value in OFFLINE.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("XROUTER_CACHE_DIR", str(OUT / "cache"))

    from rich.console import Console

    from xrouter.cli.main import main as xrouter
    from xrouter.data.outcomes import load_outcomes
    from xrouter.llm.replay import ReplayStore, create_replay_app
    from xrouter.serve.background import BackgroundServer

    console = Console(width=max(120, Console().width))
    started = time.monotonic()
    files, where = locate_data()
    console.rule("xrouter demo (offline: replay provider + learned router + benchmark)")
    console.print(f"data: {where}")
    router_dir, bench_dir = OUT / "router_knn", OUT / "bench"

    data_args = [a for f in files for a in ("--data", str(f))]
    console.print(f"[bold]1/3[/] fitting a kNN router on the fit split ({1 - HOLDOUT:.0%} of queries) ...")
    code = xrouter(["fit-router", *data_args, "--kind", "knn", "--out", str(router_dir), "--holdout", str(HOLDOUT),
                    "--seed", str(SEED), "--overwrite"])  # fmt: skip
    if code:
        return code
    table = load_outcomes(files)
    with BackgroundServer(create_replay_app(ReplayStore(table))) as server:
        console.print(f"[bold]2/3[/] replay provider serving {len(table.models)} models on {server.url}")
        policies = ["single:*", "cheapest", "strongest", "random", "oracle"]
        policies += [f"learned:{router_dir}:{float(f'{lam:.2g}'):g}" for lam in _lambdas(router_dir)]
        console.print(f"[bold]3/3[/] benchmarking {len(policies) - 1 + len(table.models)} policies on the held-out"
                      f" {HOLDOUT:.0%} over HTTP ...")  # fmt: skip
        args = ["bench", "--backend", "replay", "--replay-url", server.url, "--split", "eval", "--holdout",
                str(HOLDOUT), "--seed", str(SEED), "--concurrency", "16", "--out", str(bench_dir), "--overwrite"]  # fmt: skip
        args += [a for f in files for a in ("--dataset", str(f))]
        args += [a for p in policies for a in ("--policy", p)]
        code = xrouter(args)
    if code:
        return code
    _goal_line(console, bench_dir)
    console.print(f"done in {time.monotonic() - started:.0f} s; the replay server is stopped.")
    return 0


def _lambdas(router_dir: Path) -> list[float]:
    """Three lambdas scaled to the price gap between the fit data's cheapest and dearest model."""
    from xrouter.eval.learned import LearnedRouter

    costs = LearnedRouter.load(router_dir).spec.mean_cost_usd
    gap = max(max(costs) - min(costs), 1e-9)
    return [share / gap for share in LAMBDA_SHARES]


def _goal_line(console, bench_dir: Path) -> None:  # noqa: ANN001 - rich Console
    """Compare the best learned-router point with the strongest single model and the oracle."""
    import pandas as pd

    summary = pd.read_csv(bench_dir / "summary.csv")
    pooled = summary[summary["dataset"] == "all"] if (summary["dataset"] == "all").any() else summary
    pooled = pooled.set_index("policy")
    singles = pooled[pooled.index.str.startswith("single:")]
    best = singles["accuracy"].idxmax()
    learned = pooled[pooled.index.str.startswith("learned:")]
    budget = pooled.at[best, "cost_per_1k_usd"] / 5
    cheap = learned[learned["cost_per_1k_usd"] <= budget]
    pick = cheap["accuracy"].idxmax() if len(cheap) else learned["accuracy"].idxmax()
    console.rule("goal: the best single model's accuracy at <= 1/5 of its cost")
    from xrouter.eval.plots import short_label

    width = max(len(short_label(best)), len(short_label(pick)), len("oracle"))
    for name in (best, pick, "oracle"):
        row = pooled.loc[name]
        console.print(
            f"{short_label(name):<{width}}  accuracy {row['accuracy']:.3f}   ${row['cost_per_1k_usd']:.3f} per 1k queries"
        )
    row = pooled.loc[pick]
    ratio = pooled.at[best, "cost_per_1k_usd"] / max(row["cost_per_1k_usd"], 1e-12)
    console.print(f"learned router: {row['accuracy'] - pooled.at[best, 'accuracy']:+.3f} accuracy at 1/{ratio:.1f}"
                  f" of {best}'s cost")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
