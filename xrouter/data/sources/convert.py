"""Run a source adapter over files and write guru-style parquet files (all or nothing)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from xrouter.data.reader import INPUT_SUFFIXES, open_source
from xrouter.data.sources import SOURCES, source_module
from xrouter.errors import DataError, UsageError
from xrouter.io import atomic_path

CHUNK_ROWS = 2000


@dataclass
class Converted:
    """One written file."""

    input: str
    output: str
    rows: int


def resolve_inputs(name: str, path: Path) -> list[Path]:
    """The files a source reads from `path` (a file, an `evalsets/` folder, or a folder of files)."""
    if name not in SOURCES:
        raise UsageError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder")
    default = getattr(source_module(name), "DEFAULT_FILE", None)
    if default:
        for candidate in (path / default, path / Path(default).name):
            if candidate.is_file():
                return [candidate]
        raise DataError(f"{path}: expected {default} (an evalsets/ folder) or {Path(default).name}")
    suffixes = (".csv",) if name in ("routerbench", "routellm") else INPUT_SUFFIXES
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in suffixes)
    if not files:
        raise DataError(f"{path}: no {' or '.join(suffixes)} files for source {name!r}")
    return files


def _schema_for(name: str, path: Path, first_chunk: list[dict[str, Any]]) -> pa.Schema:
    if name == "guru":
        from xrouter.data.sources.guru import output_schema

        return output_schema(open_source(path).schema)
    return pa.Table.from_pylist(first_chunk).schema


def _write(name: str, path: Path, rows: Iterator[dict[str, Any]], target: Path, tick: Callable[[int], None]) -> int:
    count, writer = 0, None
    try:
        while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
            if writer is None:
                writer = pq.ParquetWriter(target, _schema_for(name, path, chunk))
            try:
                writer.write_table(pa.Table.from_pylist(chunk, schema=writer.schema))
            except (pa.ArrowException, TypeError) as exc:
                raise DataError(
                    f"{path}: rows {count}-{count + len(chunk) - 1} have inconsistent types ({exc})"
                ) from None
            count += len(chunk)
            tick(len(chunk))
    finally:
        if writer is not None:
            writer.close()
    if count == 0:
        raise DataError(f"{path}: no rows")
    return count


def convert(
    name: str,
    inputs: list[Path],
    out_dir: Path,
    *,
    limit: int = 0,
    overwrite: bool = False,
    tick: Callable[[int], None] = lambda n: None,
    keep: Callable[[dict], bool] | None = None,
) -> list[Converted]:
    """Convert each input with the `name` adapter into `out_dir` (one parquet per input; `limit` rows each).

    `keep(row)` drops the rows it rejects before `limit` applies (e.g. the held-out split).
    """
    single = getattr(source_module(name), "DEFAULT_FILE", None) is not None
    targets = [out_dir / (f"{name}.parquet" if single else f"{p.stem}.parquet") for p in inputs]
    for target in targets:
        if target.exists() and not overwrite:
            raise UsageError(f"{target} exists; pass --overwrite to replace it")
    done = []
    with contextlib.ExitStack() as stack:  # every output is renamed into place only if all succeed
        for path, target in zip(inputs, targets, strict=True):
            rows = source_module(name).rows(path)
            if keep is not None:
                rows = filter(keep, rows)
            if limit > 0:
                rows = itertools.islice(rows, limit)
            tmp = stack.enter_context(atomic_path(target))
            count = _write(name, path, rows, tmp, tick)
            done.append(Converted(str(path), str(target), count))
    return done
