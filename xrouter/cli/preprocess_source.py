"""Convert a question-answer source into guru-style rows (parquet) that `xrouter preprocess` reads.

Sources: the local eval sets (gsm8k, math500, mmlu_stem, humaneval, aime24; point --input at the
`evalsets/` folder or at the file), RouterBench CSVs (a file or a folder of them), and guru parquet
files downloaded from `LLM360/guru-RL-92k` (see data_preprocess/download_guru.py). Every row gets
a stable `extra_info.query_id`; for RouterBench it equals the id the replay provider and the outcome
tables use.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xrouter.data.sources import SOURCES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter preprocess-source`."""
    parser.add_argument(
        "name",
        choices=list(SOURCES),
        help="source adapter: " + "; ".join(f"{k}: {v[1]}" for k, v in SOURCES.items()),
    )
    parser.add_argument(
        "--input",
        required=True,
        type=Path,
        help="input file, an evalsets/ folder (eval sets) or a folder of CSV (routerbench) / parquet (guru) files",
    )
    parser.add_argument(
        "--out", "--output-dir", "--output_dir", dest="out", required=True, type=Path, help="output folder"
    )
    parser.add_argument("--limit", type=int, default=0, help="keep only the first N rows of each input (default: all)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--split", default="all", choices=["all", "fit", "eval"],
                        help="keep only the fit part or the held-out (eval) part of the queries, drawn by query id "
                        "exactly as `xrouter bench --split` draws it (default: all)")  # fmt: skip
    parser.add_argument("--holdout", type=float, default=0.3, help="held-out fraction for --split (default: 0.3)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the split (default: 0, as bench --seed)")


def split_filter(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The row filter of --split (None for all rows)."""
    if args.split == "all":
        return None
    from xrouter.eval.split import in_split

    in_split("probe", args.split, holdout=args.holdout, seed=args.split_seed)  # validates the flags once

    def keep(row: dict) -> bool:
        query_id = str((row.get("extra_info") or {}).get("query_id", ""))
        return in_split(query_id, args.split, holdout=args.holdout, seed=args.split_seed)

    return keep


def run(args: argparse.Namespace) -> int:
    """Convert and print one line per written file."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from xrouter.data.sources.convert import convert, resolve_inputs

    inputs = resolve_inputs(args.name, args.input)
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} rows"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(f"{args.name}", total=None)
        written = convert(
            args.name,
            inputs,
            args.out,
            limit=args.limit,
            overwrite=args.overwrite,
            tick=lambda n: progress.advance(task, n),
            keep=split_filter(args),
        )
    table = Table(title=f"{args.name} -> {args.out}")
    for column in ("input", "rows", "output"):
        table.add_column(column, overflow="fold")
    for item in written:
        table.add_row(item.input, str(item.rows), item.output)
    Console().print(table)
    return 0
