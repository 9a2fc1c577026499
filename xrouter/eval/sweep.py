"""`xrouter bench --lambda 0.3,1,3,10,30`: one router, one curve, by sending the cost weight per request.

A router that takes λ as an input (`router:URL` against one running server, `learned:DIR` loaded once,
`hf:PATH` loaded once) becomes one benchmark point per λ, named `<policy>@lambda=<λ>`: every query is sent
with `"xrouter": {"cost_lambda": λ}` (the engine states it in the router's prompt). The points of one router
form one AIQ family and one line in frontier.png, so the summary shows the frontier of that one checkpoint.
Policies that do not route by λ (`single:*`, `oracle`, ...) are run once, as without `--lambda`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from xrouter.engine.prompts import check_cost_lambda, format_cost_lambda
from xrouter.errors import UsageError
from xrouter.eval.datasets import BenchItem
from xrouter.eval.policies import BenchContext, Policy, Sample

LAMBDA_TAG = "@lambda="
SWEPT_PREFIXES = ("router:", "learned:", "hf:")


def parse_lambdas(text: str) -> list[float]:
    """`0.3,1,3` -> [0.3, 1.0, 3.0]; UsageError for anything that is not a list of λ in range."""
    values = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            values.append(check_cost_lambda(float(part), "--lambda value"))
        except ValueError as exc:
            message = str(exc) if "between" in str(exc) else f"--lambda value {part!r} is not a number"
            raise UsageError(f"--lambda {text!r}: {message}") from None
    if not values:
        raise UsageError(f"--lambda {text!r}: give one or more cost weights, e.g. 0.3,1,3,10,30")
    return list(dict.fromkeys(values))


def swept_name(base: str, cost_lambda: float) -> str:
    """The benchmark name of one λ point of a policy."""
    return f"{base}{LAMBDA_TAG}{format_cost_lambda(cost_lambda)}"


def split_swept(name: str) -> tuple[str, float | None]:
    """(base policy name, λ) of a swept name; (name, None) for any other policy."""
    base, tag, value = name.rpartition(LAMBDA_TAG)
    if not tag:
        return name, None
    try:
        return base, float(value)
    except ValueError:
        return name, None


def check_sweepable(names: Sequence[str]) -> list[str]:
    """The policies `--lambda` sweeps; UsageError when there is none or a learned policy fixes its λ."""
    from xrouter.eval.learned import parse_learned_policy

    swept = [n for n in names if n.startswith(SWEPT_PREFIXES)]
    if not swept:
        raise UsageError("--lambda sweeps router:URL, learned:DIR and hf:PATH policies; give at least one of them")
    for name in swept:
        if name.startswith("learned:") and parse_learned_policy(name[len("learned:") :])[1] is not None:
            raise UsageError(f"--policy {name} fixes its λ; give learned:DIR (no ':λ') to sweep it with --lambda")
    return swept


class LambdaPoint(Policy):
    """One λ of a sweep: the shared base policy's episodes, each request carrying this cost weight."""

    def __init__(self, base: Any, cost_lambda: float) -> None:
        super().__init__(swept_name(base.name, cost_lambda))
        self.base = base
        self.cost_lambda = cost_lambda

    def prepare(self, items: Sequence[BenchItem], ctx: BenchContext) -> None:
        """Prepare the base policy once for all its points (one loaded router, one engine)."""
        if not getattr(self.base, "_sweep_prepared", False):
            self.base.prepare(items, ctx)
            self.base._sweep_prepared = True

    async def run(self, item: BenchItem, ctx: BenchContext) -> Sample:
        """The base policy's sample for `item` at this λ, under this point's name."""
        sample = await self.base.run(item, ctx, cost_lambda=self.cost_lambda)
        return dataclasses.replace(sample, policy=self.name, details={**sample.details, "cost_lambda": self.cost_lambda})

    async def aclose(self) -> None:
        """Close the base policy's connections (it reopens them if another point runs after this one)."""
        closer = getattr(self.base, "aclose", None)
        if closer is not None:
            await closer()


def sweep_policies(names: Sequence[str], lambdas: Sequence[float], build: Any) -> list[Policy]:
    """`build(name)` for every policy, with each swept policy built once and run as one point per λ."""
    if not lambdas:
        return [build(n) for n in names]
    swept = set(check_sweepable(names))
    policies: list[Policy] = []
    for name in names:
        if name in swept:
            base = build(name)
            policies.extend(LambdaPoint(base, lam) for lam in lambdas)
        else:
            policies.append(build(name))
    return policies
