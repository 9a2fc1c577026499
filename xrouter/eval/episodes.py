"""Benchmark samples from router episodes: fitted routers run in the engine, and the shared sample builder.

`learned:<DIR>[:lambda]` builds the same router policy `xrouter serve --policy learned:...` serves
(`xrouter.eval.serve_policy.fitted_policy`) and runs each query as an episode of the episode engine with the
benchmark's caller, so cost, calls and decisions are counted exactly as in serving. `router:<url>` policies
(`xrouter.eval.remote`) read the same fields from a server's `router_metadata`; `episode_sample` turns either
into a `Sample`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from xrouter.data.outcomes import normalize_text
from xrouter.errors import UsageError
from xrouter.eval.datasets import BenchItem
from xrouter.eval.policies import BenchContext, Policy, Sample


def recorded_answer_model(item: BenchItem, ctx: BenchContext, text: str, meta: dict[str, Any]) -> str | None:
    """The recorded model whose answer `text` is (recorded data only), else `model_used` when it is a model."""
    if not ctx.recorded(item) or ctx.responses is None:
        return None
    wanted = normalize_text(text)
    row = ctx.responses.loc[item.query_id]
    for model, recorded in row.items():
        if normalize_text(str(recorded)) == wanted:
            return str(model)
    used = meta.get("model_used")
    return str(used) if used in row.index else None


def episode_sample(name: str, item: BenchItem, ctx: BenchContext, text: str, meta: dict[str, Any], latency: float,
                   model: str | None) -> Sample:  # fmt: skip
    """A sample from an episode's answer and `router_metadata`: cost, every executed model call, decisions."""
    history = [c for c in meta.get("call_history") or [] if isinstance(c, dict)]
    calls = [c for c in history if c.get("model") and c.get("executed", True)]  # select_response names no model
    models = [str(c["model"]) for c in calls] if history else [str(m) for m in meta.get("models_called") or []]
    score, details = ctx.score_answer(item, model, text)
    details.update({"routing_strategy": meta.get("routing_strategy"), "model_used": meta.get("model_used")})
    if meta.get("decisions"):
        details["decisions"] = [d.get("note", "") for d in meta["decisions"]]
    error = None
    if calls and not any(c.get("success", True) for c in calls):
        error = str(calls[0].get("error") or "every call failed")
    cost = float(meta.get("total_cost") or 0.0)
    return Sample(name, item.dataset, item.query_id, score, cost, len(models), models, latency, text[:2000], error,
                  details)  # fmt: skip


async def engine_sample(name: str, engine: Any, item: BenchItem, ctx: BenchContext) -> Sample:
    """Run one query as an episode of `engine` (an `EpisodeEngine`) and score it like any other sample."""
    from xrouter.engine.episode import RequestOptions

    started = time.perf_counter()
    options = RequestOptions(max_tokens=ctx.max_tokens, query_id=item.query_id)
    trajectory = await engine.run([dict(m) for m in item.messages], options)
    meta = trajectory.to_metadata()
    model = trajectory.answer_model or recorded_answer_model(item, ctx, trajectory.answer, meta)
    return episode_sample(name, item, ctx, trajectory.answer, meta, time.perf_counter() - started, model)


class MemoEmbedder:
    """Embeddings computed in batches up front and served from memory (falls back to the real embedder)."""

    def __init__(self, base: Any, texts: Sequence[str]) -> None:
        self.base = base
        unique = list(dict.fromkeys(texts))
        vectors = base.encode(unique) if unique else np.zeros((0, 1))
        self.memo = dict(zip(unique, vectors, strict=True))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts` (any text not seen before is embedded and remembered)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            self.memo.update(zip(missing, self.base.encode(missing), strict=True))
        return np.stack([self.memo[t] for t in texts])


class LearnedPolicy(Policy):
    """A fitted router (`learned:<DIR>[:lambda]`) run through the episode engine; refuses queries it was fitted on."""

    def __init__(self, name: str, folder: str, lam: float | None, embedder: Any = None) -> None:
        super().__init__(name)
        from xrouter.eval.learned import LearnedRouter

        self.router = LearnedRouter.load(folder)
        self.folder = folder
        self.lam = lam
        self.embedder = embedder

    def prepare(self, items: Sequence[BenchItem], ctx: BenchContext) -> None:
        """Check the queries and models, embed every query (and recorded answer) in batches, build the engine."""
        from xrouter.engine.episode import EpisodeConfig, EpisodeEngine
        from xrouter.eval.serve_policy import fitted_policy, turns_needed

        fitted = set(self.router.spec.fit_query_ids)
        overlap = [i.query_id for i in items if i.query_id in fitted]
        if overlap:
            raise UsageError(
                f"{self.name}: {len(overlap)} benchmark queries were used to fit {self.folder} (e.g. {overlap[0]!r});"
                " benchmark the held-out split (--split eval with the router's --holdout/--seed)"
            )
        unknown = [m for m in self.router.models if ctx.candidates and m not in ctx.candidates]
        if unknown:
            raise UsageError(f"{self.name}: router models {', '.join(unknown)} are not available in this benchmark")
        if ctx.caller is None or ctx.catalog is None:
            raise UsageError(f"policy {self.name} needs a model backend")
        if self.embedder is None:
            from xrouter.eval.embed import Embedder

            self.embedder = Embedder(model=self.router.spec.embedding_model)
        memo = MemoEmbedder(self.embedder, [i.text for i in items] + self._recorded_answers(items, ctx))
        max_turns = turns_needed(self.router)
        policy = fitted_policy(self.router, self.lam, name=self.name, embedder=memo, max_turns=max_turns)
        n = len(self.router.models)
        config = EpisodeConfig(mode="agent", max_turns=max_turns, max_calls_per_turn=n, max_total_calls=n,
                               target_timeout_s=ctx.timeout_s or 120.0)  # fmt: skip
        self.engine = EpisodeEngine(policy, ctx.caller, ctx.catalog, self.router.models, config)

    def _recorded_answers(self, items: Sequence[BenchItem], ctx: BenchContext) -> list[str]:
        """The recorded answers a verify router may embed (only to batch the work; the vectors are identical)."""
        if self.router.spec.kind != "verify" or ctx.responses is None:
            return []
        chars = int(self.router.spec.cascade.get("answer_chars", 600))
        ids = [i.query_id for i in items if ctx.recorded(i)]
        frame = ctx.responses.loc[ids, [m for m in self.router.models if m in ctx.responses.columns]]
        return [str(t).strip()[:chars] for t in frame.to_numpy().ravel()]

    async def run(self, item: BenchItem, ctx: BenchContext) -> Sample:
        """One episode; its answer is scored like any other policy's."""
        return await engine_sample(self.name, self.engine, item, ctx)
