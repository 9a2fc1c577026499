"""Offline replay provider: answer target-model calls from recorded per-query x per-model outcomes.

    table = load_outcomes(["data/routerbench_slices"])
    store = ReplayStore(table)                      # indexes answers by query id and query text
    caller = ReplayCaller(store)                    # in-process ModelCaller, no HTTP
    app = create_replay_app(store)                  # OpenAI-compatible server (xrouter replay serve)

`create_replay_app` is imported lazily so that in-process use does not need FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xrouter.llm.replay.catalog import ROUTERBENCH_CATALOG, estimate_tokens, replay_catalog
from xrouter.llm.replay.store import PROVIDER_PREFIXES, ReplayCaller, ReplayNotFound, ReplayRecord, ReplayStore

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "PROVIDER_PREFIXES",
    "ROUTERBENCH_CATALOG",
    "ReplayCaller",
    "ReplayNotFound",
    "ReplayRecord",
    "ReplayStore",
    "create_replay_app",
    "estimate_tokens",
    "replay_catalog",
]


def create_replay_app(store: ReplayStore, stream_delay_s: float = 0.0) -> FastAPI:
    """The OpenAI-compatible FastAPI app serving `store` (see `xrouter.llm.replay.server`)."""
    from xrouter.llm.replay.server import create_replay_app as _create

    return _create(store, stream_delay_s)
