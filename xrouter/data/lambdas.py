"""The cost weight λ of training rows: one fixed value, or a per-row draw from a list or a distribution.

`xrouter preprocess --cost-lambda SPEC` takes:

* a number (`3`): fixed. Rows carry no λ and are exactly what they were before λ could vary; training then
  uses the trainer config's `xrouter.cost_lambda` (`xrouter train --cost-lambda`). This is the default.
* a list (`1,3,10`, or `choice:3` for one value written into every row): each row draws one value.
* a distribution (`uniform:LO:HI`, `loguniform:LO:HI`): each row draws one value, rounded to three
  significant digits so that the prompt states exactly the λ the reward uses.

A row's draw depends only on (seed, file, source row, version), like its model pool, so outputs do not depend
on the number of workers or the batch size. Every rollout of a row shares its λ, so a GRPO group compares
trajectories at one cost weight.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Literal

from xrouter.engine.prompts import MAX_COST_LAMBDA, check_cost_lambda
from xrouter.errors import UsageError

LambdaKind = Literal["fixed", "choice", "uniform", "loguniform"]
_EXAMPLES = "e.g. 3, 1,3,10, choice:3, uniform:0.5:5 or loguniform:0.3:30"


@dataclass(frozen=True)
class LambdaSpec:
    """A parsed `--cost-lambda` value; `values` holds the fixed value, the list, or (LO, HI)."""

    kind: LambdaKind
    values: tuple[float, ...]
    text: str

    @property
    def per_row(self) -> bool:
        """Whether rows carry their own λ (everything but a fixed value)."""
        return self.kind != "fixed"

    def draw(self, seed: int, file_key: str, source_row: int, version: int) -> float | None:
        """The λ of one row (None for a fixed spec: the row carries none)."""
        if self.kind == "fixed":
            return None
        rng = random.Random(f"{seed}:{file_key}:{source_row}:{version}:cost_lambda")
        if self.kind == "choice":
            return rng.choice(self.values)
        lo, hi = self.values
        if self.kind == "uniform":
            value = rng.uniform(lo, hi)
        else:
            value = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        return min(hi, max(lo, float(f"{value:.3g}")))  # rounding must not leave the range

    def record(self) -> dict[str, Any]:
        """What generation_config.yaml says about λ."""
        return {"spec": self.text, "kind": self.kind, "values": list(self.values), "per_row": self.per_row}


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--cost-lambda {spec!r}: {text!r} is not a number ({_EXAMPLES})") from None
    try:
        return check_cost_lambda(value, "λ")
    except ValueError as exc:
        raise UsageError(f"--cost-lambda {spec!r}: {exc}") from None


def parse_lambda_spec(text: str) -> LambdaSpec:
    """Parse a `--cost-lambda` value; UsageError with examples on anything else."""
    spec = text.strip()
    kind, sep, rest = spec.partition(":")
    if sep and kind in ("uniform", "loguniform"):
        parts = rest.split(":")
        if len(parts) != 2:
            raise UsageError(f"--cost-lambda {spec!r}: {kind} needs LO:HI ({_EXAMPLES})")
        lo, hi = (_number(p, spec) for p in parts)
        if not lo < hi:
            raise UsageError(f"--cost-lambda {spec!r}: need LO < HI")
        if kind == "loguniform" and lo <= 0:
            raise UsageError(f"--cost-lambda {spec!r}: loguniform needs LO > 0 (λ = 0 has no logarithm)")
        return LambdaSpec(kind, (lo, hi), spec)  # type: ignore[arg-type]
    if sep and kind != "choice":
        raise UsageError(f"--cost-lambda {spec!r}: unknown kind {kind!r} ({_EXAMPLES})")
    items = rest if sep else spec
    values = tuple(_number(v, spec) for v in items.split(",") if v.strip())
    if not values:
        raise UsageError(f"--cost-lambda {spec!r}: no value given ({_EXAMPLES})")
    if not sep and len(values) == 1 and "," not in spec:
        return LambdaSpec("fixed", values, spec)
    return LambdaSpec("choice", values, spec)  # a repeated value is drawn more often


def lambda_stats(values: list[float]) -> dict[str, float]:
    """min, median and max of the rows' λ ({} when rows carry none)."""
    if not values:
        return {}
    ordered = sorted(values)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"min": float(ordered[0]), "median": float(median), "max": float(ordered[-1])}


__all__ = ["MAX_COST_LAMBDA", "LambdaSpec", "lambda_stats", "parse_lambda_spec"]
