"""Get the public data sets the project reads: `xrouter data fetch NAME`, `xrouter data list`.

`fetch` downloads a data set from its public home with a progress bar, checks every file's SHA-256, lays
it out exactly as the other commands read it and writes `SOURCE.json` beside it. The data folder is
`--out DIR`, else $XROUTER_DATA, else `data/`. Without network it stops with one line and writes nothing.

Examples:
  xrouter data fetch routerbench-slices      # -> data/routerbench_slices/*_train.csv
  xrouter data fetch evalsets --out ~/xrouter-data
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xrouter.cli.common import add_overwrite_argument
from xrouter.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands `fetch` and `list` of `xrouter data`."""
    from xrouter.data.fetch.registry import names

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    fetch = sub.add_parser(
        "fetch",
        help="download and verify a public data set into the data folder",
        description="Download NAME (see `xrouter data list`), verify its SHA-256 sums, convert it where the "
        "public format differs, and put it under the data folder as the other commands read it. A data set "
        "folder that exists already is refused unless --overwrite.",
    )
    fetch.add_argument("names", nargs="+", metavar="NAME", choices=names(), help=f"data set: {', '.join(names())}")
    fetch.add_argument("--out", metavar="DIR", help="data folder (default: $XROUTER_DATA, else data)")
    fetch.add_argument("--mirror", metavar="URL",
                       help="download from a mirror with the same paths instead of the original hosts "
                       "(the hub's HF_ENDPOINT is honoured too)")  # fmt: skip
    add_overwrite_argument(fetch, "data set folders")
    sub.add_parser("list", help="list the data sets fetch knows, with their source and license",
                   description="List every data set `xrouter data fetch` knows: folder, content, source, license.")  # fmt: skip


def _progress_factory(console):  # noqa: ANN001, ANN202 - rich Console; returns a callback factory
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())  # fmt: skip
    progress = Progress(*columns, console=console, transient=True, disable=not console.is_terminal)

    def factory(name: str):  # noqa: ANN202 - a Progress callback
        task = progress.add_task(name, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        return update

    return progress, factory


def _fetch(args: argparse.Namespace) -> int:
    from rich.console import Console

    from xrouter.data.fetch import data_root, expand, fetch_dataset

    root = Path(args.out) if args.out else data_root()
    specs = [spec for name in args.names for spec in expand(name)]
    console = Console(stderr=True)
    progress, factory = _progress_factory(console)
    with progress:
        folders = [
            fetch_dataset(s, root, overwrite=args.overwrite, mirror=args.mirror, progress=factory) for s in specs
        ]
    for spec, folder in zip(specs, folders, strict=True):
        sys.stdout.write(f"{spec.name}: {folder}\n")
    return 0


def _list() -> int:
    from rich.console import Console
    from rich.table import Table

    from xrouter.data.fetch import GROUPS, data_root
    from xrouter.data.fetch.registry import DATASETS

    table = Table(title=f"xrouter data fetch NAME  (data folder: {data_root()})")
    for column in ("name", "folder", "content", "source", "license"):
        table.add_column(column, overflow="fold")
    for spec in DATASETS.values():
        table.add_row(spec.name, spec.folder, spec.summary, spec.source, spec.license)
    for group, members in GROUPS.items():
        table.add_row(group, "evalsets", "all of: " + ", ".join(members), "", "")
    Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160).print(table)
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch `xrouter data fetch|list`."""
    if args.data_command == "fetch":
        return _fetch(args)
    if args.data_command == "list":
        return _list()
    raise UsageError("choose an action: xrouter data fetch NAME [--out DIR] | xrouter data list")
