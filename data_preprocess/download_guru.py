"""Download the Reasoning360 "guru" RL data (`LLM360/guru-RL-92k`) as parquet files, one per domain.

Needs internet access and `pip install datasets` (not run in CI or on offline machines). The dataset
is streamed, so memory stays small; rows are written in chunks to `<out>/<domain>.parquet` (math,
codegen, logic, simulation, table, stem, by the `<domain>__<name>` prefix of `data_source`).
Then convert and preprocess:

    python data_preprocess/download_guru.py --out data/guru_raw
    xrouter preprocess-source guru --input data/guru_raw --out data/guru
    xrouter preprocess --input-dir data/guru --output-dir data/router_train

Files are written under temporary names and renamed when complete.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CHUNK = 5000


def parse_args() -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="LLM360/guru-RL-92k", help="hub dataset id (default: LLM360/guru-RL-92k)")
    parser.add_argument("--split", default="train", help="split to stream (default: train)")
    parser.add_argument("--out", type=Path, required=True, help="output folder for <domain>.parquet files")
    parser.add_argument("--limit", type=int, default=0, help="stop after this many rows (default: all)")
    return parser.parse_args()


def main() -> None:
    """Stream the dataset and write one parquet per domain."""
    import contextlib

    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import load_dataset

    from xrouter.io import atomic_path

    args = parse_args()
    stream = load_dataset(args.dataset, split=args.split, streaming=True)
    # The hub's declared features give one schema for every chunk (rows differ in optional fields).
    schema = stream.features.arrow_schema if stream.features is not None else None
    buffers: dict[str, list[dict]] = {}
    writers: dict[str, pq.ParquetWriter] = {}
    with contextlib.ExitStack() as stack:  # files are renamed into place only if the whole download succeeds

        def flush(domain: str) -> None:
            rows = buffers.pop(domain, [])
            if not rows:
                return
            table = pa.Table.from_pylist(rows, schema=schema or (writers[domain].schema if domain in writers else None))
            if domain not in writers:
                tmp = stack.enter_context(atomic_path(args.out / f"{domain}.parquet"))
                writers[domain] = stack.enter_context(pq.ParquetWriter(tmp, table.schema))
            writers[domain].write_table(table)

        for n, row in enumerate(stream):
            if args.limit and n >= args.limit:
                break
            domain = str(row.get("data_source", "unknown")).split("__", 1)[0]
            buffers.setdefault(domain, []).append(row)
            if len(buffers[domain]) >= CHUNK:
                flush(domain)
        for domain in list(buffers):
            flush(domain)
    for domain in writers:
        print(f"{domain}: {args.out / (domain + '.parquet')}")


if __name__ == "__main__":
    main()
