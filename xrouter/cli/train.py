"""Train the router with verl: a supervised warm start (--stage sft) or DAPO (--stage rl), on CPU or GPUs.

One command over verl's own trainers. It prints the exact verl command it runs (every setting is a Hydra
override of xrouter/config/<preset config>), writes verl's output to OUT/train.log and its per-step
metrics to OUT/metrics.jsonl, and at the end merges the last checkpoint into a Hugging Face folder at
OUT/model (verl's model merger), ready for `xrouter serve --policy hf:OUT/model`.

  --preset cpu   verl's CPU platform and the transformers rollout (no GPU needed)
  --preset gpu   SGLang rollout, flash-attn when installed, --gpus GPUs on this node

Ray listens on every interface: with --preset cpu or --replay (no target needs the network) the run moves
into a private loopback-only network namespace first (XROUTER_RAY_NETNS=0 opts out); otherwise Ray's token
authentication is turned on.

With --replay OUTCOMES the tools' target models are answered by the replay provider, started here on
127.0.0.1: RL rollouts cost nothing and repeat exactly. Hydra overrides after `--` are passed on last.

  xrouter train --stage sft --preset cpu --model policy/ --train-files sft.parquet --out runs/sft
  xrouter train --stage rl --preset cpu --model runs/sft/model --train-files rows/ --replay data/ --out runs/rl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xrouter.cli.common import add_overwrite_argument, parquet_files
from xrouter.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter train`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--stage", required=True, choices=["sft", "rl"],
                        help="sft = supervised warm start on `xrouter sft-data` traces; rl = DAPO on router rows")  # fmt: skip
    parser.add_argument("--preset", default="cpu", choices=["cpu", "gpu"],
                        help="hardware preset: cpu (no GPU needed) or gpu (SGLang, flash-attn); default cpu")  # fmt: skip
    parser.add_argument("--model", type=Path, required=True, help="policy to start from: a Hugging Face folder")
    parser.add_argument("--train-files", nargs="+", action="extend", required=True, metavar="PATH",
                        help="parquet files or folders: traces (sft) or router training rows (rl)")  # fmt: skip
    parser.add_argument("--val-files", nargs="+", action="extend", metavar="PATH",
                        help="validation files (rl: validated every trainer.test_freq steps; default: none)")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, logs, metrics, model/")
    parser.add_argument("--tools", type=Path, help="verl tool YAML (`xrouter tools --format verl`); rl only")
    parser.add_argument("--replay", nargs="+", action="extend", metavar="PATH",
                        help="outcome tables: answer every tool call from them through a replay provider (rl)")  # fmt: skip
    parser.add_argument("--steps", type=int, help="training steps (default: the config's epochs)")
    parser.add_argument("--epochs", type=int, help="passes over the training files")
    parser.add_argument("--batch-size", type=int, help="prompts (rl) or traces (sft) per step")
    parser.add_argument("--rollouts", type=int, help="rollouts per prompt, the GRPO group size (rl)")
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--cost-lambda", type=float, metavar="λ",
                        help="λ of the reward for rows without their own λ (rl; default: the config's; rows from"
                        " `xrouter preprocess --cost-lambda LIST|DIST` carry theirs)")  # fmt: skip
    parser.add_argument("--gpus", type=int, default=1, help="GPUs on this node (gpu preset; default 1)")
    parser.add_argument("--dry-run", action="store_true", help="print the command and the composed config, run nothing")
    parser.add_argument("--no-merge", action="store_true", help="keep verl's checkpoint only, do not merge it")
    add_overwrite_argument(parser, "checkpoints, logs and model in --out")
    parser.add_argument("overrides", nargs=argparse.REMAINDER, metavar="-- KEY=VALUE",
                        help="Hydra overrides passed to verl after the ones above")  # fmt: skip


def _plan(args: argparse.Namespace, tools: Path | None):  # type: ignore[no-untyped-def]
    from xrouter.train.command import TrainPlan

    overrides = [o for o in args.overrides if o != "--"]
    return TrainPlan(
        stage=args.stage, preset=args.preset, model=args.model.resolve(), train_files=parquet_files(args.train_files, "--train-files"),
        out=args.out.resolve(), val_files=parquet_files(args.val_files, "--val-files"), tools=tools, steps=args.steps,
        epochs=args.epochs, batch_size=args.batch_size, rollouts=args.rollouts, lr=args.lr,
        cost_lambda=args.cost_lambda, gpus=args.gpus, overrides=tuple(overrides),
    )  # fmt: skip


def _check(args: argparse.Namespace) -> None:
    from xrouter.io import refuse_existing
    from xrouter.train.models import is_model_folder

    if not is_model_folder(args.model):
        raise UsageError(f"--model {args.model}: not a Hugging Face model folder (config, tokenizer and weights)")
    if args.stage == "sft" and (args.replay or args.tools):
        raise UsageError("--tools and --replay are for --stage rl")
    if args.stage == "rl" and not (args.replay or args.tools):
        raise UsageError("--stage rl needs --tools FILE or --replay OUTCOMES")
    if args.tools and not args.tools.is_file():
        raise UsageError(f"--tools {args.tools}: no such file")
    if not args.dry_run:
        outputs = ("checkpoints", "model", "train.log", "metrics.jsonl")
        refuse_existing([args.out / name for name in outputs], overwrite=args.overwrite)


def run(args: argparse.Namespace) -> int:
    """Set up the network, the tools and the environment, then run verl and merge its checkpoint."""
    from xrouter.netns import enter_private_network, ray_offline_env
    from xrouter.train.command import shell_line, verl_argv, verl_env
    from xrouter.train.run import TrainingFailed, failure_reason, merge_last_checkpoint, replay_tools, run_verl

    _check(args)
    fenced = False
    if (args.preset == "cpu" or args.replay) and not args.dry_run:
        # replayed targets need no network: Ray, its workers and the replay server (started below, so
        # before any thread) all live in a private loopback-only namespace
        fenced = enter_private_network()
    args.out.mkdir(parents=True, exist_ok=True)
    server, tools = None, args.tools.resolve() if args.tools else None
    if args.replay:
        server, tools = replay_tools(args.replay, args.out.resolve(), tools, parquet_files(args.train_files, "--train-files"))
    try:
        plan = _plan(args, tools)
        env = verl_env(plan, ray_offline_env())
        if not fenced:  # Ray on this machine's interfaces: only holders of the cluster's token may talk to it
            env["RAY_AUTH_MODE"] = "token"
        argv = verl_argv(plan, cfg_job=args.dry_run)
        sys.stdout.write(f"xrouter train: {shell_line(argv, env, ['VERL_PLATFORM'])}\n")
        sys.stdout.flush()
        code = run_verl(argv, env, plan.out / ("config.log" if args.dry_run else "train.log"))
        if code != 0:
            raise TrainingFailed(f"verl exited with {code}: {failure_reason(plan.out / 'train.log')}")
        if args.dry_run or args.no_merge:
            return 0
        merged = merge_last_checkpoint(plan, env)
        sys.stdout.write(f"xrouter train: merged the last checkpoint into {merged} (metrics: {plan.metrics})\n")
        return 0
    finally:
        if server is not None:
            server.stop()
