"""Drop training rows whose prompt is longer than --max-tokens tokens for the policy's tokenizer.

The length counts the chat-templated router prompt *including the rendered tool schemas* of the
row's pool (what the rollout feeds the policy). Kept rows go to --output-dir (default:
`<data-dir>_filtered_<N>`) under the same file names, with `length_report.yaml`; the length
distribution is printed as a table and a histogram.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from xrouter.cli.preprocess import add_catalog_flags, load_cli_catalog
from xrouter.errors import DataError, UsageError

if TYPE_CHECKING:
    from xrouter.data.length_filter import LengthReport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter filter-length`."""
    parser.add_argument(
        "--data-dir",
        "--data_dir",
        dest="data_dir",
        required=True,
        type=Path,
        help="folder of training parquets written by `xrouter preprocess`",
    )
    parser.add_argument(
        "--tokenizer",
        required=True,
        help="local tokenizer folder of the policy model (with a chat template that renders tools)",
    )
    parser.add_argument(
        "--max-tokens",
        "--max_tokens",
        dest="max_tokens",
        required=True,
        type=int,
        help="keep rows whose prompt has at most this many tokens",
    )
    parser.add_argument(
        "--output-dir",
        "--output_dir",
        dest="output_dir",
        type=Path,
        default=None,
        help="where kept rows go (default: <data-dir>_filtered_<max-tokens>)",
    )
    parser.add_argument("--bins", type=int, default=10, help="histogram buckets in the report (default: 10)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_catalog_flags(parser)


def _load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot load a tokenizer ({exc})") from None


def run(args: argparse.Namespace) -> int:
    """Filter every parquet of --data-dir and print the length distribution."""
    import yaml
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from xrouter.data.length_filter import REPORT_NAME, filter_lengths
    from xrouter.data.reader import open_source
    from xrouter.io import atomic_write_text

    if not args.data_dir.is_dir():
        raise DataError(f"{args.data_dir}: no such folder")
    inputs = sorted(args.data_dir.glob("*.parquet"))
    if not inputs:
        raise DataError(f"{args.data_dir}: no .parquet files")
    out = args.output_dir or args.data_dir.with_name(f"{args.data_dir.name}_filtered_{args.max_tokens}")
    if args.max_tokens < 1 or args.bins < 1:
        raise UsageError("--max-tokens and --bins must be at least 1")
    total = sum(open_source(p).num_rows for p in inputs)  # DataError naming an unreadable file
    catalog = load_cli_catalog(args)
    tokenizer = _load_tokenizer(args.tokenizer)
    console = Console(stderr=True)
    with Progress(TextColumn("tokenizing"), BarColumn(), MofNCompleteColumn(), console=console,
                  disable=not console.is_terminal) as bar:  # fmt: skip
        task = bar.add_task("rows", total=total)
        report = filter_lengths(
            inputs,
            out,
            tokenizer,
            catalog,
            args.max_tokens,
            overwrite=args.overwrite,
            tick=lambda n: bar.advance(task, n),
        )
    summary = report.summary()
    record = {
        "tokenizer": str(args.tokenizer),
        "summary": summary,
        "histogram": report.histogram(args.bins),
        "files": report.files,
    }
    atomic_write_text(out / REPORT_NAME, yaml.safe_dump(record, sort_keys=False))
    _print_report(report, args, out)
    return 0


def _print_report(report: LengthReport, args: argparse.Namespace, out: Path) -> None:
    """Summary table and a text histogram of the token lengths on stdout."""
    from rich.console import Console
    from rich.table import Table

    summary = report.summary()
    console = Console()
    table = Table(title=f"prompt tokens incl. tool schemas ({args.data_dir} -> {out})")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)
    hist = Table(title="length histogram", show_header=True)
    for column in ("tokens", "rows", ""):
        hist.add_column(column)
    peak = max((c for _, _, c in report.histogram(args.bins)), default=1) or 1
    for low, high, count in report.histogram(args.bins):
        marker = "  (over limit)" if low > args.max_tokens else ""
        hist.add_row(f"{low}-{high}", str(count), "█" * max(1 if count else 0, round(40 * count / peak)) + marker)
    console.print(hist)
