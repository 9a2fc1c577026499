"""Recorded per-query x per-model outcomes (RouterBench CSVs and xrouter outcome tables).

Both formats load into one long table with a row per (query, model):

    dataset, query_id, query_text, model, response, cost_usd, score,
    input_tokens, output_tokens, cached_input_tokens (token columns may be missing: NaN)

`score` is NaN where the recording has no outcome for that model. RouterBench files store
`prompt` and `<model>|model_response` as Python-literal lists of strings; the text is their
strings joined with a newline. RouterBench `sample_id`s are not unique in every file; repeated
ids get the original row index appended (`arc-challenge.val.174#1644`).

RouteLLM's responses CSVs (`prompt`, `<model>` True/False, `<model>_response`) load through
`xrouter.data.routellm`, which models their costs from token counts and catalog prices.

The xrouter outcome table is a parquet (or JSONL) file in the long format above; `query_id`,
`query_text`, `model`, `response`, `cost_usd` and `score` are required.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from xrouter.data.routellm import is_routellm_columns, load_routellm_csv
from xrouter.errors import DataError

COLUMNS = [
    "dataset",
    "query_id",
    "query_text",
    "model",
    "response",
    "cost_usd",
    "score",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
]
REQUIRED_OUTCOME_COLUMNS = ("query_id", "query_text", "model", "response", "cost_usd", "score")
_RB_META = {"sample_id", "prompt", "eval_name", "oracle_model_to_route_to"}


def normalize_text(text: str) -> str:
    """Whitespace-normalised text used to match a request to a recorded query."""
    return " ".join(str(text).split())


def _literal_eval(text: str) -> object:
    """`ast.literal_eval`, parsed a second time after CPython's spurious AST recursion-depth SystemError.

    CPython 3.11 keeps that depth count per interpreter, so another thread building an AST at the same moment
    (e.g. a scorer's expression parser) can make a valid parse fail once; the second parse is unaffected.
    """
    try:
        return ast.literal_eval(text)
    except SystemError:
        return ast.literal_eval(text)


def _literal_text(cell: object, where: str) -> str:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return ""
    try:
        value = _literal_eval(str(cell))
    except (ValueError, SyntaxError):
        return str(cell)  # not a literal list: keep the raw text
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    raise DataError(f"{where}: expected a list of strings, got {type(value).__name__}")


def routerbench_models(columns: Iterable[str]) -> list[str]:
    """Model names of a RouterBench frame: the columns that have a `|total_cost` twin."""
    cols = set(columns)
    return [c for c in columns if "|" not in c and f"{c}|total_cost" in cols and c not in _RB_META]


def load_routerbench_csv(path: str | Path) -> pd.DataFrame:
    """Long outcome table from one RouterBench-format CSV."""
    path = Path(path)
    try:
        wide = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read RouterBench CSV ({exc})") from None
    for column in ("sample_id", "prompt"):
        if column not in wide.columns:
            raise DataError(f"{path}: missing column {column!r} (not a RouterBench-format file)")
    models = routerbench_models(wide.columns)
    if not models:
        raise DataError(f"{path}: no model columns (expected '<model>' and '<model>|total_cost' pairs)")
    index_col = wide.columns[0] if wide.columns[0].startswith("Unnamed") else None
    ids = wide["sample_id"].astype(str)
    repeated = ids.duplicated(keep=False)
    if repeated.any():
        suffix = wide[index_col].astype(str) if index_col else pd.Series(wide.index.astype(str), index=wide.index)
        ids = ids.where(~repeated, ids + "#" + suffix)
    dataset = wide["eval_name"].astype(str) if "eval_name" in wide.columns else path.stem
    queries = [_literal_text(p, f"{path}: row {i + 2} prompt") for i, p in enumerate(wide["prompt"])]
    frames = []
    for model in models:
        response_col = f"{model}|model_response"
        responses = wide[response_col] if response_col in wide.columns else pd.Series([""] * len(wide))
        frames.append(
            pd.DataFrame(
                {
                    "dataset": dataset,
                    "query_id": ids,
                    "query_text": queries,
                    "model": model,
                    "response": [_literal_text(r, f"{path}: {response_col}") for r in responses],
                    "cost_usd": pd.to_numeric(wide[f"{model}|total_cost"], errors="coerce"),
                    "score": pd.to_numeric(wide[model], errors="coerce"),
                }
            )
        )
    long = pd.concat(frames, ignore_index=True)
    for column in ("input_tokens", "output_tokens", "cached_input_tokens"):
        long[column] = float("nan")
    return long[COLUMNS]


def load_outcome_csv(path: str | Path) -> pd.DataFrame:
    """Long outcome table from a CSV in RouterBench's or RouteLLM's format (told apart by the header)."""
    path = Path(path)
    try:
        header = list(pd.read_csv(path, nrows=0).columns)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read outcome CSV ({exc})") from None
    if is_routellm_columns(header):
        return load_routellm_csv(path)[COLUMNS]
    return load_routerbench_csv(path)


def load_outcome_table(path: str | Path) -> pd.DataFrame:
    """Long outcome table from an xrouter outcome parquet or JSONL file."""
    path = Path(path)
    try:
        frame = pd.read_json(path, lines=True) if path.suffix in (".jsonl", ".json") else pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read outcome table ({exc})") from None
    missing = [c for c in REQUIRED_OUTCOME_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} for an xrouter outcome table")
    frame = frame.copy()
    if "dataset" not in frame.columns:
        frame["dataset"] = path.stem
    for column in ("input_tokens", "output_tokens", "cached_input_tokens"):
        if column not in frame.columns:
            frame[column] = float("nan")
    frame["query_id"] = frame["query_id"].astype(str)
    frame["cost_usd"] = pd.to_numeric(frame["cost_usd"], errors="coerce")
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
    return frame[COLUMNS]


def load_outcomes(paths: str | Path | Sequence[str | Path]) -> OutcomeTable:
    """Load and concatenate outcome files (RouterBench or RouteLLM `.csv`, xrouter `.parquet`/`.jsonl`; folders expand)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(q for q in p.iterdir() if q.suffix in (".csv", ".parquet", ".jsonl")))
        elif p.exists():
            files.append(p)
        else:
            raise DataError(f"{p}: no such file or folder")
    if not files:
        raise DataError(f"no outcome files found in {', '.join(map(str, paths))}")
    frames = [load_outcome_csv(f) if f.suffix == ".csv" else load_outcome_table(f) for f in files]
    table = pd.concat(frames, ignore_index=True)
    dup = table.duplicated(["query_id", "model"])
    if dup.any():
        row = table[dup].iloc[0]
        raise DataError(f"query {row.query_id!r} appears twice for model {row.model!r} across {len(files)} file(s)")
    return OutcomeTable(table, tuple(str(f) for f in files))


@dataclass(frozen=True)
class OutcomeTable:
    """A long outcome table plus helpers for wide (query x model) views."""

    frame: pd.DataFrame
    sources: tuple[str, ...] = ()

    @property
    def models(self) -> list[str]:
        """Model names in first-seen order."""
        return list(dict.fromkeys(self.frame["model"]))

    def pivot(self, value: str) -> pd.DataFrame:
        """Wide view: one row per query_id, one column per model, cells from `value`."""
        wide = self.frame.pivot(index="query_id", columns="model", values=value)
        order = list(dict.fromkeys(self.frame["query_id"]))
        return wide.reindex(index=order, columns=self.models)

    def complete(self) -> tuple[OutcomeTable, int]:
        """Keep only queries where every model has a score and a cost; also return how many were dropped."""
        scores, costs = self.pivot("score"), self.pivot("cost_usd")
        keep = scores.notna().all(axis=1) & costs.notna().all(axis=1)
        kept_ids = set(keep[keep].index)
        frame = self.frame[self.frame["query_id"].isin(kept_ids)].reset_index(drop=True)
        return OutcomeTable(frame, self.sources), int((~keep).sum())

    def queries(self) -> pd.DataFrame:
        """One row per query: query_id, dataset, query_text."""
        return self.frame.drop_duplicates("query_id")[["query_id", "dataset", "query_text"]].reset_index(drop=True)

    def with_models(self, models: Iterable[str]) -> OutcomeTable:
        """Only the given models (in the table's order); DataError naming any model the table lacks."""
        wanted = list(dict.fromkeys(models))
        missing = [m for m in wanted if m not in set(self.models)]
        if missing:
            raise DataError(f"models not in the outcomes: {', '.join(missing)}; known: {', '.join(self.models)}")
        return OutcomeTable(self.frame[self.frame["model"].isin(wanted)].reset_index(drop=True), self.sources)

    def subset(self, query_ids: Iterable[str]) -> OutcomeTable:
        """Only the given queries."""
        ids = set(query_ids)
        return OutcomeTable(self.frame[self.frame["query_id"].isin(ids)].reset_index(drop=True), self.sources)
