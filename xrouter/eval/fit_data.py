"""The fit queries of a router as arrays (ids, tasks, scores, costs, embeddings), checked once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xrouter.data.outcomes import OutcomeTable
from xrouter.errors import DataError

Embed = Callable[[list[str]], np.ndarray]


@dataclass
class FitData:
    """The fit queries as arrays: ids, task index, scores and costs (query x model), query embeddings."""

    table: OutcomeTable
    ids: list[str]
    tasks: list[str]
    task_idx: np.ndarray
    scores: np.ndarray
    costs: np.ndarray
    emb: np.ndarray

    @classmethod
    def of(cls, table: OutcomeTable, emb: np.ndarray) -> FitData:
        """Check the table is complete and matches the embeddings."""
        scores_w, costs_w = table.pivot("score"), table.pivot("cost_usd")
        if scores_w.isna().any().any() or costs_w.isna().any().any():
            raise DataError("fit_router: the table has missing outcomes; use OutcomeTable.complete() first")
        queries = table.queries()
        ids = list(queries["query_id"])
        if len(ids) != len(emb):
            raise DataError(f"fit_router: {len(ids)} queries but {len(emb)} embeddings")
        if len(ids) < 2:
            raise DataError("fit_router: need at least 2 queries to fit a router")
        tasks = sorted(set(map(str, queries["dataset"])))
        task_idx = np.array([tasks.index(str(d)) for d in queries["dataset"]], dtype=int)
        return cls(table, ids, tasks, task_idx, scores_w.loc[ids].to_numpy(np.float64),
                   costs_w.loc[ids].to_numpy(np.float64), np.asarray(emb, dtype=np.float64))  # fmt: skip
