"""Preprocess a folder of guru-style files into router training parquets (one output per input).

Each input file is planned first (`sampling.plan_rows`: which source rows and versions survive),
then streamed in batches; worker processes build the rows of a batch and return an Arrow table that
the main process appends to the output. Outputs are written in source-row order (each source row's
versions together): verl shuffles at load time. Workers are forked (no re-import of the caller's
`__main__`), before any progress thread starts in the CLI. All outputs of a run are written under temporary names
and renamed only when every file succeeded, so a malformed row leaves no partial output behind.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import re
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from xrouter.catalog import Catalog
from xrouter.data.generation import GENERATION_CONFIG, generation_record
from xrouter.data.lambdas import lambda_stats
from xrouter.data.reader import SourceFile, list_inputs, open_source
from xrouter.data.rows import build_row, check_columns, encode_for_parquet, output_schema
from xrouter.data.run_config import FileReport, PreprocessConfig
from xrouter.data.sampling import PoolSampler, RowPlan, plan_rows, set_type_name
from xrouter.errors import DataError, UsageError
from xrouter.io import atomic_path

logger = logging.getLogger(__name__)
_COUNT_SUFFIX = re.compile(r"_\d+[kKmM]?$")


def output_name(path: Path, count: int) -> str:
    """Output file name: a trailing `_<n>[k|m]` of the input stem becomes `_<count>`, else `_<count>` is added."""
    return f"{_COUNT_SUFFIX.sub('', path.stem)}_{count}.parquet"


# ---- worker side ---------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(catalog: Catalog, config: PreprocessConfig) -> None:
    _WORKER["sampler"] = PoolSampler(catalog, config.sampling)
    _WORKER["config"] = config


def _build_chunk(job: dict[str, Any]) -> tuple[pa.Table, Counter, Counter]:
    """Build the planned rows of one batch; returns the Arrow table plus pool statistics."""
    sampler: PoolSampler = _WORKER["sampler"]
    config: PreprocessConfig = _WORKER["config"]
    sources = dict(zip(job["needed"], job["batch"].to_pylist(), strict=True))
    rows, models, sizes = [], Counter(), Counter()
    lambdas = config.cost_lambda
    for index, source_row, version, code in job["entries"]:
        pool = sampler.pool(job["file_key"], source_row, version, code)
        lam = lambdas.draw(config.sampling.seed, job["file_key"], source_row, version) if lambdas else None
        models.update(pool)
        sizes[len(pool)] += 1
        row = build_row(
            sources[source_row],
            where=job["where"][source_row],
            file_stem=job["file_stem"],
            source_row=source_row,
            index=index,
            version=version,
            model_set_type=set_type_name(code),
            pool=pool,
            mode=config.mode,
            max_system_prompt_length=config.max_system_prompt_length,
            cost_lambda=lam,
        )
        rows.append(encode_for_parquet(row))
    return pa.Table.from_pylist(rows, schema=job["schema"]), models, sizes


# ---- main side -----------------------------------------------------------------------------------
class _Progress:
    """Counts rows read from one file and forwards them to the caller's progress callback."""

    def __init__(self, source: SourceFile, callback: Callable[[str, int, int], None] | None) -> None:
        self.name, self.total, self.done, self.callback = source.path.name, source.num_rows, 0, callback

    def __call__(self, n: int) -> None:
        self.done += n
        if self.callback:
            self.callback(self.name, self.done, self.total)


def _jobs(source: SourceFile, plan: RowPlan, schema: pa.Schema, batch_size: int):
    """Yield (rows read, job) per input batch; a job holds only the rows the plan keeps."""
    starts = np.arange(len(plan))
    for first, batch in source.batches(batch_size):
        lo, hi = np.searchsorted(plan.source, [first, first + batch.num_rows])
        entries = [
            (int(i), int(s), int(v), int(c))
            for i, s, v, c in zip(
                starts[lo:hi], plan.source[lo:hi], plan.version[lo:hi], plan.set_code[lo:hi], strict=True
            )
        ]
        needed = sorted({e[1] for e in entries})
        job = {
            "file_key": source.path.name,
            "file_stem": source.path.stem,
            "schema": schema,
            "entries": entries,
            "needed": needed,
            "batch": batch.take(pa.array([s - first for s in needed], type=pa.int64())),  # only kept rows travel
            "where": {s: source.where(s) for s in needed},
        }
        yield batch.num_rows, job


def _process_file(
    source: SourceFile,
    target: Path,
    catalog: Catalog,
    config: PreprocessConfig,
    pool: Any,
    advance: Callable[[int], None],
) -> FileReport:
    plan = plan_rows(source.num_rows, config.sampling, source.path.name)
    per_row = config.cost_lambda is not None and config.cost_lambda.per_row
    possible = PoolSampler(catalog, config.sampling).possible_models()
    schema = output_schema(source.schema, possible, config.mode, per_row)
    models: Counter = Counter()
    sizes: Counter = Counter()
    lambdas: list[float] = []
    pending: deque = deque()

    def drain(writer: pq.ParquetWriter, keep: int) -> None:
        while len(pending) > keep:
            table, m, s = pending.popleft().get() if pool else pending.popleft()
            writer.write_table(table)
            models.update(m)
            sizes.update(s)
            if per_row:
                lambdas.extend(table.column("extra_info").combine_chunks().field("cost_lambda").to_pylist())

    with pq.ParquetWriter(target, schema) as writer:
        for n_read, job in _jobs(source, plan, schema, config.batch_size):
            pending.append(pool.apply_async(_build_chunk, (job,)) if pool else _build_chunk(job))
            drain(writer, keep=2 * config.workers if pool else 0)  # bounded in-flight batches
            advance(n_read)
        drain(writer, keep=0)
    return FileReport(
        input=str(source.path),
        output=str(target),
        input_rows=source.num_rows,
        output_rows=len(plan),
        set_types=plan.counts(),
        pool_sizes=dict(sorted(sizes.items())),
        model_counts=dict(models.most_common()),
        cost_lambda=lambda_stats(lambdas),
    )


def preprocess(
    config: PreprocessConfig,
    catalog: Catalog,
    on_progress: Callable[[str, int, int], None] | None = None,
    arguments: dict[str, Any] | None = None,
) -> list[FileReport]:
    """Run preprocessing and write `generation_config.yaml`; `on_progress(file, done, total)` runs per batch."""
    config.sampling.check_catalog(catalog)
    inputs = list_inputs(config.input_dir)
    if config.output_dir.exists() and not config.output_dir.is_dir():
        raise UsageError(f"--output-dir {config.output_dir} is a file; give a folder")
    if config.output_dir.resolve() == config.input_dir.resolve():
        raise UsageError("--output-dir must differ from --input-dir (outputs would be read as inputs next time)")
    sources = [open_source(p) for p in inputs]
    targets = []
    for source in sources:
        if source.num_rows == 0:
            raise DataError(f"{source.path}: no rows")
        check_columns(source.schema, str(source.path))  # every file before any work
        plan_size = len(plan_rows(source.num_rows, config.sampling, source.path.name))
        target = config.output_dir / output_name(source.path, plan_size)
        if target.exists() and not config.overwrite:
            raise UsageError(f"{target} exists; pass --overwrite to replace it")
        targets.append(target)
    if len(set(targets)) != len(targets):
        raise UsageError("two input files map to the same output name; rename one of them")
    use_pool = config.workers > 1 and sum(s.num_rows for s in sources) > config.batch_size
    reports = []
    with contextlib.ExitStack() as stack:
        if use_pool:
            pool = stack.enter_context(
                multiprocessing.get_context("fork").Pool(config.workers, _init_worker, (catalog, config))
            )
        else:
            pool = None
            _init_worker(catalog, config)
        for source, target in zip(sources, targets, strict=True):
            tmp = stack.enter_context(atomic_path(target))  # renamed only when the whole run succeeds
            reports.append(_process_file(source, tmp, catalog, config, pool, _Progress(source, on_progress)))
            logger.info("%s: %d rows -> %s", source.path.name, reports[-1].output_rows, target)
        if pool is not None:
            pool.close()
            pool.join()
        for report, target in zip(reports, targets, strict=True):
            report.output = str(target)
        record = generation_record(config, catalog, reports, arguments or {})
        tmp = stack.enter_context(atomic_path(config.output_dir / GENERATION_CONFIG))
        tmp.write_text(yaml.safe_dump(record, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return reports
