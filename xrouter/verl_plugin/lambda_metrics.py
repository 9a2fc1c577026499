"""Validation metrics per cost weight: one run with rows at several λ reports the whole frontier.

`compute_score` returns the λ each trajectory was scored with (`cost_lambda`: the row's own, else the
config's). Validation groups the trajectories by λ bucket and logs, per bucket, the mean quality, target cost,
reward and calls plus the number of trajectories:

    val/acc@λ=3  val/cost@λ=3  val/reward@λ=3  val/calls@λ=3  val/n@λ=3

Buckets: when validation holds at most `MAX_EXACT_BUCKETS` distinct λ (rows drawn from a list), each value is
its own bucket; otherwise (a distribution) each λ goes to the nearest point of the grid 0.1, 0.3, 1, 3, 10, 30,
... on a log scale, and λ = 0 keeps a bucket of its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

MAX_EXACT_BUCKETS = 8
_GRID = tuple(float(f"{m * 10.0**e:g}") for e in range(-3, 6) for m in (1, 3))  # 0.001 ... 300000
_METRICS = (("acc", "acc"), ("cost", "cost_usd"), ("reward", "score"), ("calls", "num_calls"))


def _number(value: Any) -> float | None:
    if hasattr(value, "item"):
        value = value.item()
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def lambda_bucket(value: float, exact: bool) -> float:
    """The bucket of one λ: itself when buckets are exact, else the nearest grid point in log space."""
    if exact or value <= 0:
        return value
    return min(_GRID, key=lambda g: abs(math.log(value) - math.log(g)))


def lambda_label(bucket: float) -> str:
    """How a bucket is written in metric names (`3`, `0.3`, `30`)."""
    return f"{bucket:g}"


def lambda_bucket_metrics(infos: Mapping[str, Sequence[Any]], prefix: str = "val") -> dict[str, float]:
    """Per-λ-bucket means of acc, cost, reward and calls from verl's `reward_extra_infos_dict` (lists per key)."""
    lambdas = [_number(v) for v in infos.get("cost_lambda", ())]
    known = [v for v in lambdas if v is not None]
    if not known:
        return {}
    exact = len(set(known)) <= MAX_EXACT_BUCKETS
    groups: dict[float, list[int]] = {}
    for i, value in enumerate(lambdas):
        if value is not None:
            groups.setdefault(lambda_bucket(value, exact), []).append(i)
    out: dict[str, float] = {}
    for bucket in sorted(groups):
        label = lambda_label(bucket)
        rows = groups[bucket]
        out[f"{prefix}/n@λ={label}"] = float(len(rows))
        for name, key in _METRICS:
            column = infos.get(key)
            if column is None:
                continue
            values = [v for v in (_number(column[i]) for i in rows if i < len(column)) if v is not None]
            if values:
                out[f"{prefix}/{name}@λ={label}"] = sum(values) / len(values)
    return out
