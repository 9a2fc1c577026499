"""Reading guru-style input files in bounded batches: parquet by row group, JSONL line by line.

Parquet files are streamed with `ParquetFile.iter_batches`, so memory follows the batch size, not the
file size. JSONL files are parsed fully (they are the small, hand-made kind); every malformed line is
reported with its file and line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from xrouter.errors import DataError
from xrouter.io import read_jsonl

INPUT_SUFFIXES = (".parquet", ".jsonl")


def list_inputs(folder: str | Path) -> list[Path]:
    """Input files of a folder (`*.parquet`, `*.jsonl`), sorted by name; DataError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: input folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in INPUT_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: no .parquet or .jsonl files to read")
    return files


@dataclass
class SourceFile:
    """One input file: its path, row count, Arrow schema and a batch iterator."""

    path: Path
    num_rows: int
    schema: pa.Schema
    _rows: list[dict[str, Any]] | None = None  # JSONL content (parquet is streamed instead)
    _lines: list[int] | None = None  # JSONL line number of each row

    def where(self, row: int) -> str:
        """Human location of a row: `file: row N` (parquet, 0-based) or `file: line N` (JSONL)."""
        if self._lines is not None:
            return f"{self.path}: line {self._lines[row]}"
        return f"{self.path}: row {row}"

    def batches(self, batch_size: int) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Yield (first row number, Arrow record batch) in order."""
        if self._rows is not None:
            for start in range(0, len(self._rows), batch_size):
                chunk = self._rows[start : start + batch_size]
                yield start, pa.RecordBatch.from_pylist(chunk, schema=self.schema)
            return
        start = 0
        try:
            parquet = pq.ParquetFile(self.path)
            for batch in parquet.iter_batches(batch_size=batch_size):
                yield start, batch
                start += batch.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{self.path}: cannot read rows from row {start} on ({exc})") from None


def open_source(path: str | Path) -> SourceFile:
    """Open one input file (row count and schema only, for parquet)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return _open_jsonl(path)
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable parquet file ({exc})") from None
    return SourceFile(path, parquet.metadata.num_rows, parquet.schema_arrow)


def _open_jsonl(path: Path) -> SourceFile:
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    for number, value in read_jsonl(path):
        rows.append(value)
        lines.append(number)
    if not rows:
        raise DataError(f"{path}: no JSON lines (empty file)")
    try:
        schema = pa.Table.from_pylist(rows).schema
    except (pa.ArrowException, TypeError) as exc:
        raise DataError(
            f"{path}: line {_first_conflict(rows, lines)}: a field's type differs from earlier lines ({exc})"
        ) from None
    return SourceFile(path, len(rows), schema, rows, lines)


def _first_conflict(rows: list[dict[str, Any]], lines: list[int]) -> int | str:
    """Line of the first row whose field types cannot be merged with the rows before it (error path only)."""
    merged: pa.Schema | None = None
    for row, line in zip(rows, lines, strict=True):
        try:
            schema = pa.Table.from_pylist([row]).schema
            merged = schema if merged is None else pa.unify_schemas([merged, schema], promote_options="permissive")
        except (pa.ArrowException, TypeError):
            return line
    return "?"
