"""Benchmark `xrouter preprocess`: rows per second and peak memory on synthetic guru rows.

Writes N synthetic guru rows (default 200,000; a third carry a user system prompt) to one parquet,
then preprocesses them (one version per row, no truncation, so N output rows) once per worker count,
each run in a fresh process, `--repeats` times; reports the median wall time, rows/s, the ratio against
the 1-worker baseline measured in the same run, and peak RSS of the main process and of the largest
worker. Example:

    .venv/bin/python scripts/bench_preprocess.py --rows 200000 --workers 1 4 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_input(path: Path, rows: int) -> None:
    """Write `rows` synthetic guru rows to `path` in row groups of 20,000."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for start in range(0, rows, 20_000):
        batch = []
        for i in range(start, min(rows, start + 20_000)):
            prompt = [{"role": "user", "content": f"Question {i}: what is {i % 97} * {i % 89} + {i}? Show your work."}]
            if i % 3 == 0:
                prompt.insert(0, {"role": "system", "content": f"You are a careful tutor number {i % 7}."})
            batch.append(
                {
                    "data_source": "math__synthetic",
                    "prompt": prompt,
                    "ability": "math",
                    "reward_model": {"style": "rule", "ground_truth": str((i % 97) * (i % 89) + i)},
                    "extra_info": {"split": "train", "index": i},
                }
            )
        table = pa.Table.from_pylist(batch)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def run_one(input_dir: str, output_dir: str, workers: int) -> None:
    """Preprocess once in this process and print timing and peak memory as JSON."""
    from xrouter.catalog import load_catalog
    from xrouter.data.preprocess import PreprocessConfig, preprocess
    from xrouter.data.sampling import SamplingConfig

    config = PreprocessConfig(
        input_dir=Path(input_dir),
        output_dir=Path(output_dir),
        sampling=SamplingConfig(num_repetitions=1, max_num_samples=0),
        workers=workers,
        overwrite=True,
    )
    start = time.perf_counter()
    reports = preprocess(config, load_catalog(use_env=False))
    seconds = time.perf_counter() - start
    result = {
        "seconds": seconds,
        "rows": sum(r.output_rows for r in reports),
        "main_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "output_mb": sum(Path(r.output).stat().st_size for r in reports) / 2**20,
    }
    print(json.dumps(result))


def main() -> None:
    """Generate the input, run every worker count `--repeats` times, print a summary table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="synthetic input rows (default: 200000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4], help="worker counts (first is the baseline)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per worker count (default: 3)")
    parser.add_argument("--one", nargs=3, metavar=("IN", "OUT", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one[0], args.one[1], int(args.one[2]))
        return
    with tempfile.TemporaryDirectory(prefix="bench-preprocess-") as tmp:
        input_dir = Path(tmp) / "in"
        input_dir.mkdir()
        start = time.perf_counter()
        make_input(input_dir / "synthetic.parquet", args.rows)
        print(f"input: {args.rows} rows written in {time.perf_counter() - start:.1f} s; cpus={os.cpu_count()}")
        results: dict[int, list[dict]] = {}
        for workers in args.workers:
            for _ in range(args.repeats):
                cmd = [
                    sys.executable,
                    __file__,
                    "--one",
                    str(input_dir),
                    str(Path(tmp) / f"out{workers}"),
                    str(workers),
                ]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                results.setdefault(workers, []).append(json.loads(done.stdout.strip().splitlines()[-1]))
        base = statistics.median(r["seconds"] for r in results[args.workers[0]])
        print(
            f"{'workers':>7} {'median s':>9} {'rows/s':>9} {'vs base':>8} {'main MB':>8} {'worker MB':>9} {'out MB':>7}"
        )
        for workers, runs in results.items():
            med = statistics.median(r["seconds"] for r in runs)
            rows = runs[0]["rows"]
            print(
                f"{workers:>7} {med:>9.1f} {rows / med:>9.0f} {base / med:>7.2f}x "
                f"{max(r['main_peak_mb'] for r in runs):>8.0f} {max(r['worker_peak_mb'] for r in runs):>9.0f} "
                f"{runs[0]['output_mb']:>7.1f}"
            )


if __name__ == "__main__":
    main()
