"""Prompt-length filter for training rows: count tokens as the policy sees them, drop the long ones.

A row's length is the token count of `tokenizer.apply_chat_template(prompt, tools=<the row's tool
schemas>, add_generation_prompt=True)`, i.e. the router prompt plus the rendered `call_<model>` (and
`select_response`) schemas of that row's pool, which is what the rollout feeds the policy. Files are
streamed by row group and written under temporary names, renamed only when every file succeeded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from xrouter.catalog import Catalog, openai_tools
from xrouter.errors import CatalogError, DataError, UsageError
from xrouter.io import atomic_path

REPORT_NAME = "length_report.yaml"


@dataclass
class LengthReport:
    """Token lengths of every row seen and how many rows each file kept."""

    max_tokens: int
    lengths: list[int] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Count, kept, dropped and percentiles of the token lengths."""
        values = np.asarray(self.lengths or [0])
        kept = int((values <= self.max_tokens).sum()) if self.lengths else 0
        quantiles = {f"p{q}": int(np.percentile(values, q)) for q in (50, 90, 95, 99)}
        return {
            "rows": len(self.lengths),
            "kept": kept,
            "dropped": len(self.lengths) - kept,
            "max_tokens": self.max_tokens,
            "min": int(values.min()),
            "mean": round(float(values.mean()), 1),
            **quantiles,
            "max": int(values.max()),
        }

    def histogram(self, bins: int = 10) -> list[tuple[int, int, int]]:
        """(low, high, count) buckets of the lengths."""
        if not self.lengths:
            return []
        counts, edges = np.histogram(np.asarray(self.lengths), bins=bins)
        return [(int(edges[i]), int(edges[i + 1]), int(c)) for i, c in enumerate(counts)]


def token_count(tokenizer: Any, prompt: Sequence[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    """Tokens of the chat-templated prompt with the tool schemas rendered, plus the generation prompt."""
    ids = tokenizer.apply_chat_template(list(prompt), tools=tools or None, add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    if len(ids) and isinstance(ids[0], (list, tuple)):
        ids = ids[0]
    return len(ids)


class ToolCache:
    """Tool schemas per (pool, mode), built once from the catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog, self._cache = catalog, {}

    def tools(self, pool: Sequence[str], mode: str, where: str) -> list[dict[str, Any]]:
        """OpenAI tools for a row's pool (select_response unless simple mode)."""
        key = (tuple(pool), mode)
        if key not in self._cache:
            try:
                self._cache[key] = openai_tools(self._catalog, list(pool), simple=mode == "simple")
            except CatalogError as exc:
                raise DataError(f"{where}: {exc} (pass the catalog the rows were built with via --catalog)") from None
        return self._cache[key]


def _batch_lengths(batch: pa.RecordBatch, first: int, path: Path, tokenizer: Any, tools: ToolCache) -> list[int]:
    for column in ("prompt", "extra_info"):
        if column not in batch.schema.names:
            raise DataError(f"{path}: missing column {column!r} (not an xrouter training file)")
    extra = batch.column("extra_info")
    if "model_pool" not in extra.type.names:
        raise DataError(f"{path}: extra_info has no model_pool (run xrouter preprocess first)")
    prompts = batch.column("prompt").to_pylist()
    pools = extra.field("model_pool").to_pylist()
    modes = extra.field("mode").to_pylist() if "mode" in extra.type.names else ["agent"] * len(pools)
    lengths = []
    for i, (prompt, pool, mode) in enumerate(zip(prompts, pools, modes, strict=True)):
        where = f"{path}: row {first + i}"
        if not prompt:
            raise DataError(f"{where}: empty prompt")
        lengths.append(token_count(tokenizer, prompt, tools.tools(pool or [], mode or "agent", where)))
    return lengths


def filter_lengths(
    inputs: Sequence[Path],
    output_dir: Path,
    tokenizer: Any,
    catalog: Catalog,
    max_tokens: int,
    *,
    batch_size: int = 1000,
    overwrite: bool = False,
    tick: Callable[[int], None] = lambda n: None,
) -> LengthReport:
    """Write each input's rows of at most `max_tokens` prompt tokens to `output_dir` (same file names)."""
    if max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    targets = [output_dir / p.name for p in inputs]
    if any(t.resolve() == p.resolve() for t, p in zip(targets, inputs, strict=True)):
        raise UsageError("--output-dir must differ from --data-dir")
    for target in targets:
        if target.exists() and not overwrite:
            raise UsageError(f"{target} exists; pass --overwrite to replace it")
    report, tools = LengthReport(max_tokens), ToolCache(catalog)
    with contextlib.ExitStack() as stack:
        for path, target in zip(inputs, targets, strict=True):
            try:
                parquet = pq.ParquetFile(path)
            except (OSError, pa.ArrowException) as exc:
                raise DataError(f"{path}: not a readable parquet file ({exc})") from None
            tmp = stack.enter_context(atomic_path(target))
            kept = first = 0
            with pq.ParquetWriter(tmp, parquet.schema_arrow) as writer:
                for batch in parquet.iter_batches(batch_size=batch_size):
                    lengths = _batch_lengths(batch, first, path, tokenizer, tools)
                    mask = pa.array([n <= max_tokens for n in lengths])
                    writer.write_batch(batch.filter(mask))
                    kept += sum(mask.to_pylist())
                    report.lengths.extend(lengths)
                    first += batch.num_rows
                    tick(batch.num_rows)
            report.files.append({"input": str(path), "output": str(target), "rows": first, "kept": kept})
    return report
