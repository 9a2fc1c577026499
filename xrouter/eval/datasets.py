"""Benchmark inputs: recorded outcome tables, eval sets (`data/evalsets` layout), preprocessed parquet.

Every input becomes a list of `BenchItem`s (one per query: dataset, id, the user's messages and how to score
an answer). Outcome tables (RouterBench CSV, xrouter outcome parquet/JSONL) also keep their `OutcomeTable`, so
replay policies can use recorded correctness; queries with any missing model outcome are dropped for every
policy and counted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xrouter.data.outcomes import OutcomeTable, load_outcomes
from xrouter.errors import DataError
from xrouter.eval.split import in_split

log = logging.getLogger(__name__)

# evalsets folder names read through the preprocessing source adapters (one home for ids, prompts, gold)
_EVALSETS = ("gsm8k", "math500", "aime24", "mmlu_stem", "humaneval")


@dataclass(frozen=True)
class BenchItem:
    """One benchmark query: where it comes from, what the user sends, and the gold answer (if scored live)."""

    dataset: str
    query_id: str
    messages: tuple[dict[str, str], ...]
    data_source: str = ""
    ground_truth: Any = None
    extra_info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The last user message: the text a router or replay provider sees as the query."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content", ""))
        return ""


@dataclass
class BenchData:
    """All items of one `--dataset` argument, plus its outcome table when it is a recording."""

    source: str
    items: list[BenchItem]
    table: OutcomeTable | None = None
    dropped_incomplete: dict[str, int] = field(default_factory=dict)


def _is_outcome_file(path: Path) -> bool:
    if path.suffix == ".csv":
        return True
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        names = set(pq.read_schema(path).names)
        return {"query_id", "model", "score"} <= names
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            first = fh.readline()
        try:
            row = json.loads(first) if first.strip() else {}
        except json.JSONDecodeError:
            raise DataError(f"{path}: line 1 is not valid JSON") from None
        return {"query_id", "model", "score"} <= set(row)
    return False


def load_bench_data(path: str | Path, *, split: str = "all", holdout: float = 0.3, seed: int = 0) -> BenchData:
    """Load one `--dataset` argument (a file, or a folder of outcome CSV/parquet files) and apply the split."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such dataset file or folder")
    if p.is_dir():
        files = sorted(q for q in p.iterdir() if q.suffix in (".csv", ".parquet", ".jsonl"))
        if files and all(_is_outcome_file(f) for f in files):
            return _from_outcomes(str(p), files, split, holdout, seed)
        raise DataError(f"{p}: a dataset folder must hold only outcome tables (.csv/.parquet/.jsonl)")
    if _is_outcome_file(p):
        return _from_outcomes(str(p), [p], split, holdout, seed)
    if p.suffix == ".parquet":
        items = _verl_parquet_items(p)
    elif p.suffix == ".jsonl":
        items = _evalset_items(p)
    else:
        raise DataError(f"{p}: unsupported dataset type (use .csv/.parquet/.jsonl)")
    unique = list({(i.dataset, i.query_id): i for i in reversed(items)}.values())[::-1]  # first occurrence wins
    if len(unique) < len(items):
        # a preprocessed parquet repeats each query once per model-pool version; benchmark every query once
        log.info("%s: %d rows repeat a query id already seen; each query runs once", p, len(items) - len(unique))
    kept = [i for i in unique if in_split(i.query_id, split, holdout=holdout, seed=seed)]
    return BenchData(str(p), kept)


def _from_outcomes(source: str, files: list[Path], split: str, holdout: float, seed: int) -> BenchData:
    full = load_outcomes(files)
    queries = full.queries()
    keep = [q for q in queries["query_id"] if in_split(q, split, holdout=holdout, seed=seed)]
    table, _ = full.subset(keep).complete()
    # dropped per dataset (within the split): queries with any model outcome missing
    before = queries[queries["query_id"].isin(set(keep))].groupby("dataset").size()
    after = table.queries().groupby("dataset").size().reindex(before.index, fill_value=0)
    dropped = {str(k): int(v) for k, v in (before - after).items()}
    items = [
        BenchItem(str(r.dataset), str(r.query_id), ({"role": "user", "content": str(r.query_text)},), str(r.dataset))
        for r in table.queries().itertuples(index=False)
    ]
    return BenchData(source, items, table, dropped)


def _evalset_items(path: Path) -> list[BenchItem]:
    """Items of an evalsets JSONL file, built by the same source adapter as `xrouter preprocess-source`.

    The folder name (gsm8k, math500, ...) picks the adapter, so a query has the same id, prompt and gold
    answer whether it is benchmarked from the JSONL file or from a preprocessed parquet.
    """
    from xrouter.data.sources import source_rows

    kind = path.parent.name
    if kind not in _EVALSETS:
        raise DataError(f"{path}: unknown eval set {kind!r}; expected a file inside one of {', '.join(_EVALSETS)}")
    items = []
    for row in source_rows(kind)(path):
        extra = row["extra_info"]
        messages = tuple({"role": str(m["role"]), "content": str(m["content"])} for m in row["prompt"])
        truth = row["reward_model"]["ground_truth"]
        items.append(BenchItem(kind, str(extra["query_id"]), messages, str(row["data_source"]), truth, extra))
    return items


def _verl_parquet_items(path: Path) -> list[BenchItem]:
    """Items of a preprocessed (verl) parquet: user_messages and query_id from extra_info."""
    import pandas as pd

    frame = pd.read_parquet(path)
    for column in ("data_source", "reward_model", "extra_info"):
        if column not in frame.columns:
            raise DataError(f"{path}: missing column {column!r} (not an xrouter preprocessed parquet)")
    items = []
    for n, row in enumerate(frame.itertuples(index=False)):
        extra = row.extra_info if isinstance(row.extra_info, dict) else {}
        messages = extra.get("user_messages")
        if messages is None or len(messages) == 0:
            raise DataError(f"{path}: row {n}: extra_info.user_messages is missing")
        msgs = tuple({"role": str(m["role"]), "content": str(m["content"])} for m in messages)
        qid = str(extra.get("query_id", extra.get("index", n)))
        truth = (row.reward_model or {}).get("ground_truth")
        items.append(BenchItem(str(row.data_source), qid, msgs, str(row.data_source), truth, extra))
    return items
