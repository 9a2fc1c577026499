"""Reward frontier: what each λ would make a router do, computed on recorded outcomes before training.

For every λ the table holds two policies that only call one model per query:

* `reward_optimal`: a perfect router that knows every model's per-query outcome and picks the model
  with the highest reward under THE shaping (ties go to the cheaper model). It shows where the reward
  pushes a router that learns perfectly. With the upstream `xrouter` shaping it is the cheapest-correct
  oracle for every λ (the reward of a correct answer falls with cost and a wrong one scores 0), so λ
  only matters through the router's uncertainty; `linear`/`log` trade accuracy for cost.
* `best_single`: the one model with the highest mean reward, i.e. what the reward prefers for a router
  that cannot tell queries apart.

Alongside: every model on its own (`single:<model>`) and the cheapest-correct `oracle` (λ-free).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from xrouter.data.outcomes import OutcomeTable
from xrouter.errors import DataError
from xrouter.eval.metrics import cheapest_correct_oracle
from xrouter.reward.config import RewardConfig
from xrouter.reward.shaping import shape_reward


@dataclass(frozen=True)
class Frontier:
    """Frontier rows (one per policy point) plus how many queries were used and dropped."""

    frame: pd.DataFrame
    models: list[str]
    n_queries: int
    n_dropped: int


def _row(policy: str, lam: float, scores: np.ndarray, costs: np.ndarray, pick: np.ndarray, ctx: dict) -> dict:
    rows = np.arange(len(pick))
    chosen_cost = costs[rows, pick]
    row = {
        "policy": policy,
        "lambda": lam,
        "shaping": ctx["shaping"],
        "accuracy": float(scores[rows, pick].mean()),
        "cost_per_1k_usd": float(chosen_cost.mean() * 1000),
        "mean_cost_usd": float(chosen_cost.mean()),
        "mean_reward": float(ctx["rewards"][rows, pick].mean()) if ctx.get("rewards") is not None else math.nan,
        "cheapest_share": float(ctx["cheapest"][rows, pick].mean()),
    }
    counts = np.bincount(pick, minlength=len(ctx["models"])) / len(pick)
    row.update({f"share:{m}": float(s) for m, s in zip(ctx["models"], counts, strict=False)})
    return row


def reward_optimal_pick(rewards: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Per query the model index with the highest reward; ties go to the cheapest of the tied models."""
    best = rewards.max(axis=1, keepdims=True)
    tied = rewards >= best - 1e-12
    return np.where(tied, costs, np.inf).argmin(axis=1)


def compute_frontier(
    table: OutcomeTable, lambdas: Sequence[float], base: RewardConfig, *, by_dataset: bool = False
) -> Frontier:
    """Frontier rows for `lambdas` (each replaces base.cost_lambda); with `by_dataset`, one frontier per dataset.

    The frame has a `dataset` column ("all" when pooled).
    """
    if not lambdas:
        raise DataError("frontier needs at least one λ value")
    if not by_dataset:
        result = _frontier(table, lambdas, base)
        return Frontier(result.frame.assign(dataset="all"), result.models, result.n_queries, result.n_dropped)
    parts = {
        str(name): _frontier(OutcomeTable(group.reset_index(drop=True), table.sources), lambdas, base)
        for name, group in table.frame.groupby("dataset", sort=True)
    }
    frame = pd.concat([part.frame.assign(dataset=name) for name, part in parts.items()], ignore_index=True)
    return Frontier(
        frame, table.models, sum(p.n_queries for p in parts.values()), sum(p.n_dropped for p in parts.values())
    )


def _frontier(table: OutcomeTable, lambdas: Sequence[float], base: RewardConfig) -> Frontier:
    complete, dropped = table.complete()
    if complete.frame.empty:
        raise DataError(f"no query has an outcome for every model ({dropped} incomplete queries dropped)")
    score_frame, cost_frame = complete.pivot("score"), complete.pivot("cost_usd")
    models = list(score_frame.columns)
    scores, costs = score_frame.to_numpy(float), cost_frame.to_numpy(float)
    if (scores < 0).any() or (scores > 1).any() or (costs < 0).any():
        raise DataError("frontier: scores must lie in [0, 1] and costs must be >= 0")
    ctx: dict = {"models": models, "shaping": base.shaping, "cheapest": costs <= costs.min(axis=1, keepdims=True)}
    every = np.arange(len(scores))
    rows = [_row(f"single:{m}", math.nan, scores, costs, np.full(len(scores), i), ctx) for i, m in enumerate(models)]
    oracle = cheapest_correct_oracle(score_frame, cost_frame)
    rows.append(_row("oracle", math.nan, scores, costs, oracle["model"].map(models.index).to_numpy(), ctx))
    for lam in lambdas:
        config = replace(base, cost_lambda=float(lam))
        ctx["rewards"] = shape_reward(scores, costs, config)
        rows.append(_row("reward_optimal", float(lam), scores, costs, reward_optimal_pick(ctx["rewards"], costs), ctx))
        best = int(np.argmax(ctx["rewards"].mean(axis=0)))
        rows.append(
            {**_row("best_single", float(lam), scores, costs, np.full_like(every, best), ctx), "model": models[best]}
        )
    frame = pd.DataFrame(rows)
    frame["model"] = frame.get("model", pd.Series(dtype=object))
    single = frame["policy"].str.startswith("single:")
    frame.loc[single, "model"] = frame.loc[single, "policy"].str.removeprefix("single:")
    head = ["policy", "lambda", "shaping", "model", "accuracy", "cost_per_1k_usd", "mean_cost_usd", "mean_reward"]
    frame = frame[head + [c for c in frame.columns if c not in head]]
    return Frontier(frame, models, len(scores), dropped)
