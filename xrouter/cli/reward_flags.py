"""The reward flags shared by commands that rank models by the training reward (frontier, sft-data, train)."""

from __future__ import annotations

import argparse

from xrouter.errors import UsageError


def add_reward_arguments(parser: argparse.ArgumentParser, *, cost_lambda: bool = True) -> None:
    """--shaping, --reward-k, --cost-max, --cost-scale (and --cost-lambda unless the command sweeps λ)."""
    if cost_lambda:
        parser.add_argument("--cost-lambda", type=float, default=3.0, metavar="λ",
                            help="λ, the weight of dollar cost in the reward (default 3, as router_dapo.yaml)")  # fmt: skip
    parser.add_argument("--shaping", default="xrouter", choices=["xrouter", "linear", "log"],
                        help="reward shaping; default: xrouter = quality × (K − min(λ·cost, cost_max))")  # fmt: skip
    parser.add_argument(
        "--reward-k", type=float, default=1.0, help="K, the reward of a free correct answer (default 1)"
    )
    parser.add_argument("--cost-max", type=float, default=0.8, help="cap of λ·cost for --shaping xrouter (default 0.8)")
    parser.add_argument("--cost-scale", type=float, default=1.0,
                        help="dollars per cost unit for linear/log shaping, e.g. 0.001 (default 1)")  # fmt: skip


def reward_config(args: argparse.Namespace, cost_lambda: float | None = None):  # type: ignore[no-untyped-def]
    """The `RewardConfig` the flags describe (λ from `cost_lambda` when given, else --cost-lambda)."""
    from xrouter.reward.config import RewardConfig

    lam = cost_lambda if cost_lambda is not None else args.cost_lambda
    try:
        return RewardConfig(
            shaping=args.shaping, cost_lambda=lam, K=args.reward_k, cost_max=args.cost_max, cost_scale=args.cost_scale
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
