"""The CPU learning run: rows -> warm start (SFT) -> DAPO on replayed outcomes -> merged router -> benchmark.

    .venv/bin/python scripts/bench_train_cpu.py --data data/routerbench-slices --out outputs/train-cpu

(`make train-cpu` runs exactly this.) Every stage is the project's own command, so the run is what a user
gets: `xrouter preprocess-source --split fit` + `xrouter preprocess` (a fixed pool of four RouterBench models of
different price and strength), `xrouter sft-data --target uniform` (a warm start that calls a model of the
pool at random: it writes valid tool calls but has not learned which model suits which task),
`xrouter init-policy small`, `xrouter train --stage sft`, `xrouter train --stage rl --replay` (every tool call
answered by the replay provider over HTTP: free and deterministic), then `xrouter fit-router` (per-task table,
kNN) and `xrouter bench` on the held-out queries: the RL router against its SFT start, the table, kNN and the
single models of the pool, at the training λ. A stage whose output exists is skipped, so an interrupted run
continues where it stopped.

Writes to --out: step metrics (rl/metrics.jsonl) and their plot (training.png), the benchmark folder, and
report.json / report.md with the mean reward per policy at λ, paired bootstrap 95% intervals of the RL
router's reward difference against the SFT start and the table, and the wall time of every stage.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POOL = ("gpt-4-1106-preview", "zero-one-ai/Yi-34B-Chat", "gpt-3.5-turbo-1106", "mistralai/mistral-7b-chat")
CSVS = ("arc_challenge_train.csv", "mbpp_train.csv", "winograde_train.csv")
# Two departures from router_dapo.yaml for this run, both about the learning signal of a cost trade-off:
# * the DAPO filter keeps every group whose rewards differ (`score`), not only groups whose answers differ in
#   correctness (`acc`): a group where every model answered right but at different prices is the lesson about
#   cost; filtering on acc drops it and the policy drifts to the strongest, dearest model;
# * advantages are not divided by the group's standard deviation: in such a group the rewards differ by a few
#   thousandths (cost), and dividing by their tiny spread turns that into full-size advantages, which drives the
#   policy to the cheapest model whatever its accuracy. Without the division an advantage is the reward difference
#   itself, so a cent of cost weighs what the reward says it weighs.
# A third one is about the optimiser: Adam's first updates move every weight by about the learning rate whatever the
# gradient's size, which can break a small policy's tool-call format in one step; five warm-up steps avoid that.
LEARNING_OVERRIDES = (
    "algorithm.filter_groups.metric=score",
    "algorithm.norm_adv_by_std_in_grpo=False",
    "actor_rollout_ref.actor.optim.lr_warmup_steps=5",
)


def parse_args() -> argparse.Namespace:
    data = Path(os.environ.get("XROUTER_DATA", ROOT / "data")) / "routerbench_slices"
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=data, help=f"folder with the RouterBench CSVs (default: {data})")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "train-cpu", help="run folder")
    parser.add_argument("--pool", default=",".join(POOL), help="the four pool models (RouterBench names)")
    parser.add_argument("--cost-lambda", type=float, default=50.0, help="λ of the reward (default 50)")
    parser.add_argument("--sft-steps", type=int, default=120, help="warm-start steps (default 120)")
    parser.add_argument("--sft-lr", type=float, default=1e-3, help="warm-start learning rate (default 1e-3)")
    parser.add_argument("--rl-steps", type=int, default=40, help="DAPO steps (default 40)")
    parser.add_argument("--rl-lr", type=float, default=1e-4, help="DAPO learning rate (default 1e-4)")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per DAPO step (default 8)")
    parser.add_argument("--rollouts", type=int, default=8, help="rollouts per prompt (default 8)")
    parser.add_argument("--holdout", type=float, default=0.3, help="held-out fraction, as bench --holdout (0.3)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples (default 2000)")
    return parser.parse_args()


def xrouter(*argv: str, log: Path | None = None) -> None:
    """Run one `xrouter` command (its output to `log` when given); stop the run if it fails."""
    cmd = [sys.executable, "-m", "xrouter.cli.main", *argv]
    print("$ xrouter " + " ".join(argv), flush=True)
    if log is None:
        code = subprocess.call(cmd)
    else:
        with open(log, "w") as fh:
            code = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT)
    if code != 0:
        raise SystemExit(
            f"bench_train_cpu: `xrouter {argv[0]}` failed with exit code {code}" + (f" (see {log})" if log else "")
        )


def stage(name: str, done: Path, timings: dict, fn) -> None:
    """Run `fn` unless `done` exists; record its wall time."""
    if done.exists():
        print(f"[{name}] kept from an earlier run: {done}")
        return
    started = time.perf_counter()
    fn()
    timings[name] = round(time.perf_counter() - started, 1)
    print(f"[{name}] {timings[name]:.0f} s")


def main() -> int:
    args = parse_args()
    csvs = [args.data / name for name in CSVS]
    missing = [str(p) for p in csvs if not p.is_file()]
    if missing:
        sys.stderr.write(
            f"bench_train_cpu: missing {', '.join(missing)}; run `xrouter data fetch routerbench-slices`\n"
        )
        return 2
    out, pool = args.out, tuple(p.strip() for p in args.pool.split(",") if p.strip())
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def workspace() -> None:
        from xrouter.train.workspace import prepare

        prepare(
            out / "ws",
            csvs,
            pool,
            mode="simple",
            holdout=args.holdout,
            sft_args=["--cost-lambda", str(args.cost_lambda)],
        )

    stage("workspace", out / "ws" / "sft.parquet", timings, workspace)
    ws = out / "ws"
    stage("init-policy", out / "policy" / "config.json", timings,
          lambda: xrouter("init-policy", "small", "--traces", str(ws / "sft.parquet"), "--out", str(out / "policy")))  # fmt: skip
    stage("sft", out / "sft" / "model" / "config.json", timings, lambda: xrouter(
        "train", "--stage", "sft", "--preset", "cpu", "--model", str(out / "policy"), "--train-files",
        str(ws / "sft.parquet"), "--out", str(out / "sft"), "--steps", str(args.sft_steps), "--batch-size", "8",
        "--lr", str(args.sft_lr), "--overwrite", log=out / "sft.out"))  # fmt: skip
    stage("rl", out / "rl" / "model" / "config.json", timings, lambda: xrouter(
        "train", "--stage", "rl", "--preset", "cpu", "--model", str(out / "sft" / "model"), "--train-files",
        str(ws / "rows"), "--tools", str(ws / "tools.yaml"), "--replay", *map(str, csvs), "--out", str(out / "rl"),
        "--steps", str(args.rl_steps), "--batch-size", str(args.batch_size), "--rollouts", str(args.rollouts),
        "--lr", str(args.rl_lr), "--cost-lambda", str(args.cost_lambda), "--overwrite", "--",
        "data.max_prompt_length=2048", "data.max_response_length=128", *LEARNING_OVERRIDES,
        log=out / "rl.out"))  # fmt: skip
    stage("baselines", out / "baselines" / "knn" / "router.json", timings, lambda: fit_baselines(args, csvs, pool))
    stage("bench", out / "bench" / "samples.jsonl", timings, lambda: run_bench(args, csvs, pool))
    timings["total"] = round(time.perf_counter() - started, 1)
    report(args, pool, timings)
    return 0


def fit_baselines(args: argparse.Namespace, csvs: list[Path], pool: tuple[str, ...]) -> None:
    """The per-task table and the kNN router, fitted on the same fit split the router was trained on."""
    for kind in ("table", "knn"):
        data = [a for c in csvs for a in ("--data", str(c))]
        xrouter("fit-router", "--kind", kind, *data, "--models", ",".join(pool), "--split", "fit",
                "--holdout", str(args.holdout), "--seed", "0", "--out", str(args.out / "baselines" / kind), "--overwrite")  # fmt: skip


def run_bench(args: argparse.Namespace, csvs: list[Path], pool: tuple[str, ...]) -> None:
    """All policies on the held-out queries, at the training λ for the fitted routers."""
    lam = f"{args.cost_lambda:g}"
    policies = [f"hf:{args.out / 'rl' / 'model'}", f"hf:{args.out / 'sft' / 'model'}",
                f"hf:{args.out / 'rl' / 'model'}:0", f"hf:{args.out / 'sft' / 'model'}:0",
                f"learned:{args.out / 'baselines' / 'table'}:{lam}", f"learned:{args.out / 'baselines' / 'knn'}:{lam}",
                *(f"single:{m}" for m in pool)]  # fmt: skip
    argv = ["bench", *(a for c in csvs for a in ("--dataset", str(c))), "--models", ",".join(pool), "--split", "eval",
            "--holdout", str(args.holdout), "--seed", "0", "--out", str(args.out / "bench"), "--overwrite"]  # fmt: skip
    for policy in policies:
        argv += ["--policy", policy]
    xrouter(*argv, log=args.out / "bench.out")


def rewards_by_policy(samples: Path, lam: float) -> dict[str, dict[str, float]]:
    """policy -> query id -> reward at λ (the training reward of the answer it returned and what it spent)."""
    from xrouter.reward.config import RewardConfig
    from xrouter.reward.shaping import shape_reward

    config = RewardConfig(cost_lambda=lam)
    out: dict[str, dict[str, float]] = {}
    for line in samples.read_text().splitlines():
        row = json.loads(line)
        score = min(max(float(row.get("score") or 0.0), 0.0), 1.0)
        out.setdefault(row["policy"], {})[row["query_id"]] = shape_reward(
            score, float(row.get("cost_usd") or 0.0), config
        )
    return out


def paired_interval(
    a: dict[str, float], b: dict[str, float], resamples: int, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of a − b over shared queries with a paired bootstrap 95% interval."""
    import numpy as np

    ids = sorted(set(a) & set(b))
    diff = np.array([a[q] - b[q] for q in ids])
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def report(args: argparse.Namespace, pool: tuple[str, ...], timings: dict) -> None:
    """report.json, report.md and training.png."""
    from xrouter.train.report import plot_training, summarize

    rewards = rewards_by_policy(args.out / "bench" / "samples.jsonl", args.cost_lambda)
    rl, sft = f"hf:{args.out / 'rl' / 'model'}", f"hf:{args.out / 'sft' / 'model'}"
    table = f"learned:{args.out / 'baselines' / 'table'}:{args.cost_lambda:g}"

    def short(p: str) -> str:
        return p.replace(f"{args.out}/", "").replace("/model", "")

    pairs = {"rl - sft": (rl, sft), "rl - table": (rl, table), "rl greedy - sft greedy": (rl + ":0", sft + ":0"),
             "rl greedy - table": (rl + ":0", table)}  # fmt: skip
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_end": os.getloadavg()},
        "cost_lambda": args.cost_lambda, "pool": list(pool), "timings_s": timings,
        "mean_reward": {short(p): sum(r.values()) / len(r) for p, r in rewards.items()},
        "paired_differences": {k: paired_interval(rewards[a], rewards[b], args.bootstrap) for k, (a, b) in pairs.items()},
        "training": summarize(args.out / "rl" / "metrics.jsonl"),
    }  # fmt: skip
    (args.out / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"| policy (held-out queries, λ = {args.cost_lambda:g}) | mean reward |", "|---|---:|"]
    lines += [
        f"| {name} | {value:.3f} |" for name, value in sorted(result["mean_reward"].items(), key=lambda kv: -kv[1])
    ]
    lines += ["", "| paired difference | mean | 95% interval |", "|---|---:|---:|"]
    lines += [f"| {k} | {m:+.3f} | {lo:+.3f} to {hi:+.3f} |" for k, (m, lo, hi) in result["paired_differences"].items()]
    (args.out / "report.md").write_text("\n".join(lines) + "\n")
    plot_training(args.out / "rl" / "metrics.jsonl", args.out / "training.png", pool)
    print("\n".join(lines))
    print(f"stage wall times (s): {timings}")
    print(f"report: {args.out / 'report.json'}, {args.out / 'report.md'}; plot: {args.out / 'training.png'}")


if __name__ == "__main__":
    sys.exit(main())
