"""Comparison policies for `xrouter bench`: each turns one query into an answer, a cost and a score.

Policy specs (as on the command line): `single:<model>` (`single:*` expands to every candidate), `cheapest`,
`strongest`, `random`, `oracle` (recorded outcomes only), `learned:<DIR>[:lambda]`, `router:<base_url>`.
With recorded outcomes, `cheapest` / `strongest` are the candidates with the lowest mean recorded cost /
highest mean recorded score on the benchmarked queries (hindsight baselines); on live eval sets they are the
candidates with the lowest / highest catalog price (input + output per Mtok).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from xrouter.errors import UsageError
from xrouter.eval.datasets import BenchItem
from xrouter.eval.metrics import cheapest_correct_oracle
from xrouter.llm.types import CallResult, ModelCaller

KEYWORDS = ("cheapest", "strongest", "random", "oracle")
PREFIXES = ("single:", "learned:", "hf:", "router:")


@dataclass
class Sample:
    """The result of one policy on one query (one line of samples.jsonl)."""

    policy: str
    dataset: str
    query_id: str
    score: float
    cost_usd: float
    calls: int
    models: list[str]
    latency_s: float = 0.0
    answer: str = ""
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchContext:
    """What policies share: the caller, candidate models, recorded outcomes (if any) and the scorer."""

    caller: ModelCaller | None
    candidates: list[str]
    scores: pd.DataFrame | None = None  # wide query x model, recorded outcomes only
    costs: pd.DataFrame | None = None
    responses: pd.DataFrame | None = None
    prices: dict[str, float] = field(default_factory=dict)  # catalog USD per Mtok (input + output)
    catalog: Any = None  # the catalog the caller resolves models in (episodes of learned routers need it)
    timeout_s: float | None = None
    max_tokens: int | None = None
    seed: int = 0

    def recorded(self, item: BenchItem) -> bool:
        """Whether the item's outcomes are recorded (replay scoring by recorded correctness)."""
        return self.scores is not None and item.query_id in self.scores.index

    def score_answer(self, item: BenchItem, model: str | None, text: str) -> tuple[float, dict[str, Any]]:
        """Recorded score of `model` for recorded items, else the reward scorer on `text`."""
        if self.recorded(item):
            if model is None or model not in self.scores.columns:  # type: ignore[union-attr]
                return 0.0, {"scoring": "unmatched answer"}
            return float(self.scores.at[item.query_id, model]), {"scoring": "recorded"}  # type: ignore[union-attr]
        from xrouter.reward.scorers import score

        try:
            result = score(item.data_source, text, item.ground_truth, item.extra_info)
        except (ValueError, TypeError, KeyError) as exc:  # an unscoreable answer or gold counts as wrong, visibly
            return 0.0, {"scoring": "scorer", "scoring_error": str(exc)}
        return float(result.score), {"scoring": "scorer", **{k: str(v) for k, v in result.details.items()}}


class Policy:
    """Base class: `prepare` sees every item once before the run; `run` answers one item."""

    def __init__(self, name: str) -> None:
        self.name = name

    def prepare(self, items: Sequence[BenchItem], ctx: BenchContext) -> None:
        """Precompute per-item decisions (batched embeddings, oracle choices)."""

    def pick(self, item: BenchItem, ctx: BenchContext) -> str:
        """The model to call for `item` (single-call policies)."""
        raise NotImplementedError

    async def run(self, item: BenchItem, ctx: BenchContext) -> Sample:
        """Call the picked model once and score its answer."""
        model = self.pick(item, ctx)
        return await call_and_score(self.name, model, item, ctx)


async def call_and_score(policy: str, model: str, item: BenchItem, ctx: BenchContext) -> Sample:
    """One call of `model` through the context's caller; failed calls score 0 and cost 0."""
    if ctx.caller is None:
        raise UsageError(f"policy {policy} needs a model backend")
    started = time.perf_counter()
    result: CallResult = await ctx.caller.call(
        model, [dict(m) for m in item.messages], timeout_s=ctx.timeout_s, max_tokens=ctx.max_tokens,
        query_id=item.query_id,
    )  # fmt: skip
    latency = time.perf_counter() - started
    if not result.success:
        message = result.error.message if result.error else "call failed"
        return Sample(policy, item.dataset, item.query_id, 0.0, 0.0, 1, [model], latency, "", message)
    score, details = ctx.score_answer(item, model, result.text)
    details["cache_hit"] = bool(result.cache_hit)
    return Sample(
        policy, item.dataset, item.query_id, score, float(result.cost_usd or 0.0), 1, [model], latency,
        result.text[:2000], None, details,
    )  # fmt: skip


class SinglePolicy(Policy):
    """Always the same model."""

    def __init__(self, name: str, model: str) -> None:
        super().__init__(name)
        self.model = model

    def prepare(self, items: Sequence[BenchItem], ctx: BenchContext) -> None:
        """Check that the model is a candidate."""
        if ctx.candidates and self.model not in ctx.candidates:
            raise UsageError(f"{self.name}: model {self.model!r} is not among {', '.join(ctx.candidates)}")

    def pick(self, item: BenchItem, ctx: BenchContext) -> str:
        """The fixed model."""
        return self.model


class RankedPolicy(SinglePolicy):
    """`cheapest` or `strongest`: one model chosen from recorded means or catalog prices."""

    def __init__(self, name: str) -> None:
        super().__init__(name, "")

    def prepare(self, items: Sequence[BenchItem], ctx: BenchContext) -> None:
        """Rank the candidates (recorded outcomes first, catalog prices otherwise)."""
        if not ctx.candidates:
            raise UsageError(f"{self.name} needs candidate models (--models) for live eval sets")
        ids = [i.query_id for i in items if ctx.recorded(i)]
        if ids:
            if self.name == "cheapest":
                self.model = str(ctx.costs.loc[ids, ctx.candidates].mean().idxmin())  # type: ignore[union-attr]
            else:
                self.model = str(ctx.scores.loc[ids, ctx.candidates].mean().idxmax())  # type: ignore[union-attr]
            return
        missing = [m for m in ctx.candidates if m not in ctx.prices]
        if missing:
            raise UsageError(f"{self.name}: no catalog price for {', '.join(missing)}")
        ranked = sorted(ctx.candidates, key=lambda m: ctx.prices[m])
        self.model = ranked[0] if self.name == "cheapest" else ranked[-1]


class RandomPolicy(Policy):
    """A uniformly random candidate per query, fixed by (seed, query id) so reruns and resumes agree."""

    def pick(self, item: BenchItem, ctx: BenchContext) -> str:
        """Seeded choice for this query."""
        if not ctx.candidates:
            raise UsageError("random needs candidate models (--models) for live eval sets")
        digest = hashlib.sha256(f"{ctx.seed}:{item.dataset}:{item.query_id}".encode()).digest()
        return random.Random(digest).choice(ctx.candidates)


class OraclePolicy(Policy):
    """The cheapest model that was recorded correct on the query (the cheapest model when none was)."""

    def prepare(self, items: Sequence[BenchItem], ctx: BenchContext) -> None:
        """Compute every item's oracle choice from the recorded outcomes."""
        if any(not ctx.recorded(i) for i in items):
            raise UsageError("oracle needs recorded outcomes for every query (use an outcome table and replay)")
        ids = [i.query_id for i in items]
        chosen = cheapest_correct_oracle(ctx.scores.loc[ids], ctx.costs.loc[ids])  # type: ignore[union-attr]
        self.choice = chosen["model"].to_dict()

    def pick(self, item: BenchItem, ctx: BenchContext) -> str:
        """The precomputed oracle model."""
        return str(self.choice[item.query_id])
