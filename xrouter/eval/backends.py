"""Model backends for `xrouter bench`: replay (in-process or HTTP), live LiteLLM (optionally cached), cache only."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from xrouter.errors import CatalogError, UsageError
from xrouter.eval.config import BenchConfig
from xrouter.eval.datasets import BenchData
from xrouter.llm.types import ModelCaller


def build_caller(config: BenchConfig, data: list[BenchData]) -> ModelCaller:
    """The model backend named by the config."""
    from xrouter.data.outcomes import OutcomeTable

    tables = [d.table for d in data if d.table is not None]
    if config.backend == "replay":
        if not tables:
            raise UsageError("--backend replay needs an outcome table dataset (RouterBench CSV or outcome parquet)")
        from xrouter.llm.replay import ReplayCaller, ReplayStore, replay_catalog

        table = OutcomeTable(pd.concat([t.frame for t in tables], ignore_index=True))
        catalog = replay_catalog(table)
        if config.replay_url:
            from xrouter.llm.client import LLMClient

            base = config.replay_url.rstrip("/")
            return LLMClient(catalog, api_base=base if base.endswith("/v1") else f"{base}/v1", api_key="unused",
                             max_concurrency_per_model=max(16, config.concurrency))  # fmt: skip
        return ReplayCaller(ReplayStore(table, catalog), catalog)
    from xrouter.catalog import load_catalog

    catalog = load_catalog(config.catalog)
    if config.backend == "cache":
        from xrouter.eval.cache_caller import CacheOnlyCaller
        from xrouter.llm.cache import ResponseCache

        return CacheOnlyCaller(catalog, ResponseCache(config.cache_path, mode="read"))  # type: ignore[arg-type]
    from xrouter.llm.client import LLMClient

    cache = None
    if config.cache_path:
        from xrouter.llm.cache import ResponseCache

        cache = ResponseCache(config.cache_path, mode="readwrite")
    return LLMClient(catalog, cache=cache, max_concurrency_per_model=config.concurrency)


def catalog_prices(catalog_files: list[str] | None, candidates: Sequence[str]) -> dict[str, float]:
    """Catalog price (input + output USD per Mtok) of each candidate that has one."""
    from xrouter.catalog import load_catalog

    catalog = load_catalog(catalog_files)
    prices = {}
    for m in candidates:
        try:
            spec = catalog.resolve(m)
        except CatalogError:  # an unknown model simply has no price; RankedPolicy reports it
            continue
        if spec.has_price:
            prices[m] = float(spec.input_usd_per_mtok or 0) + float(spec.output_usd_per_mtok or 0)
    return prices
