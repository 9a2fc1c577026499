"""Turn a folder of guru-style parquet/JSONL files into router training parquets for verl.

Every input file gives one output parquet whose rows carry the router prompt, a per-row model pool
(`tools_kwargs`, `tool_selection`, `model_pool`, `model_set_type`) and the original fields; a
`generation_config.yaml` beside them records the arguments, seed, catalog and pool statistics.
Upstream flag spellings with underscores (`--input_dir`, `--num_repetitions`, ...) are accepted too.
For RouterBench rows use the replay catalog alone:
`--catalog xrouter/resources/routerbench_models.yaml --catalog-only`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from xrouter.cli.models import add_catalog_argument
from xrouter.errors import UsageError

_TIER_DEFAULTS = {"premium": (1, 7), "budget": (1, 5), "standard": (0, 5), "specialized": (0, 3)}


def _flag(parser: argparse.ArgumentParser, name: str, **kwargs: Any) -> None:
    """Add `--kebab-name` plus the upstream `--snake_name` alias."""
    kebab = "--" + name.replace("_", "-")
    snake = "--" + name
    parser.add_argument(kebab, *([snake] if snake != kebab else []), dest=name, **kwargs)


def add_catalog_flags(parser: argparse.ArgumentParser) -> None:
    """`--catalog FILE` (shared flag) and `--catalog-only`."""
    add_catalog_argument(parser)
    parser.add_argument(
        "--catalog-only",
        action="store_true",
        help="use only the --catalog file(s), not the shipped catalog (e.g. the RouterBench replay catalog)",
    )


def load_cli_catalog(args: argparse.Namespace):
    """The catalog selected by --catalog / --catalog-only."""
    from xrouter.catalog import load_catalog

    if args.catalog_only and not args.catalog:
        raise UsageError("--catalog-only needs at least one --catalog FILE")
    return load_catalog(args.catalog, base=None if args.catalog_only else "models.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter preprocess`."""
    _flag(parser, "input_dir", required=True, type=Path, help="folder of guru-style .parquet/.jsonl input files")
    _flag(
        parser, "output_dir", required=True, type=Path, help="folder for the output parquets and generation_config.yaml"
    )
    _add_pool_flags(parser)
    _flag(
        parser,
        "seed",
        type=int,
        default=42,
        help="seed for row selection and pools; same seed, same output (default: 42)",
    )
    _flag(
        parser,
        "max_system_prompt_length",
        type=int,
        default=2000,
        help="user system prompts longer than this many characters are inlined before the query (default: 2000)",
    )
    _flag(
        parser, "max_num_samples", type=int, default=5000, help="rows kept per input file; 0 keeps all (default: 5000)"
    )
    _flag(
        parser,
        "workers",
        type=int,
        default=None,
        help="worker processes building rows (default, or 0: CPU count, at most 8)",
    )
    _flag(parser, "batch_size", type=int, default=2000, help="input rows read per batch (memory bound; default: 2000)")
    _flag(
        parser,
        "simple_mode",
        action="store_true",
        help="simple router prompt: one call or a direct answer, no select_response",
    )
    _flag(
        parser,
        "cost_lambda",
        default=None,
        metavar="SPEC",
        help="cost weight λ of the rows: a number keeps one λ for all rows and writes none into them (the "
        "trainer's xrouter.cost_lambda applies; the default); a list (1,3,10; choice:3 for one value) or a "
        "distribution (uniform:LO:HI, loguniform:0.3:30) draws one λ per row with --seed, states it in the "
        "row's router prompt and writes it to extra_info.cost_lambda, which the reward reads",
    )
    _flag(parser, "overwrite", action="store_true", help="replace existing output files")
    add_catalog_flags(parser)


def _add_pool_flags(parser: argparse.ArgumentParser) -> None:
    """Repetitions, per-tier ranges and the fixed-set flags."""
    _flag(parser, "num_repetitions", type=int, default=3, help="random-pool versions per source row (default: 3)")
    for tier, (lo, hi) in _TIER_DEFAULTS.items():
        _flag(
            parser,
            f"{tier}_min",
            type=int,
            default=lo,
            help=f"fewest {tier}-tier models in a random pool (default: {lo})",
        )
        _flag(
            parser,
            f"{tier}_max",
            type=int,
            default=hi,
            help=f"most {tier}-tier models in a random pool (default: {hi})",
        )
    _flag(
        parser, "use_fixed_sets", action="store_true", help="give a share of rows a named fixed set (see percentages)"
    )
    for k in (1, 2, 3):
        _flag(
            parser,
            f"fixed_set_{k}_percentage",
            type=float,
            default=0.1,
            help=f"share of rows using fixed set {k} with --use-fixed-sets (default: 0.1)",
        )
    _flag(
        parser,
        "fixed_set_percentage",
        type=float,
        default=None,
        help="deprecated upstream flag, accepted for old scripts and ignored (with a warning): "
        "use --fixed-set-{1,2,3}-percentage",
    )
    _flag(parser, "use_fixed_set_only", action="store_true", help="every row uses the fixed set --fixed-set-choice")
    _flag(parser, "fixed_set_choice", type=int, default=1, choices=(1, 2, 3), help="fixed set for --use-fixed-set-only")


def sampling_config(args: argparse.Namespace):
    """The SamplingConfig described by the parsed flags."""
    from xrouter.data.sampling import SamplingConfig

    return SamplingConfig(
        ranges={t: (getattr(args, f"{t}_min"), getattr(args, f"{t}_max")) for t in _TIER_DEFAULTS},
        num_repetitions=args.num_repetitions,
        max_num_samples=args.max_num_samples,
        seed=args.seed,
        use_fixed_sets=args.use_fixed_sets,
        fixed_set_percentages=(args.fixed_set_1_percentage, args.fixed_set_2_percentage, args.fixed_set_3_percentage),
        use_fixed_set_only=args.use_fixed_set_only,
        fixed_set_choice=args.fixed_set_choice,
    )


def run(args: argparse.Namespace) -> int:
    """Preprocess every file of --input-dir into --output-dir."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from xrouter.data.lambdas import parse_lambda_spec
    from xrouter.data.preprocess import PreprocessConfig, preprocess

    console = Console(stderr=True)
    lambdas = parse_lambda_spec(args.cost_lambda) if args.cost_lambda is not None else None
    if lambdas is not None and not lambdas.per_row:
        console.print(
            f"note: fixed λ {lambdas.values[0]:g}: rows carry no λ, so train with xrouter.cost_lambda="
            f"{lambdas.values[0]:g} (xrouter train --cost-lambda {lambdas.values[0]:g})",
            markup=False,
            highlight=False,
        )
    if args.fixed_set_percentage is not None:
        console.print(
            "warning: --fixed-set-percentage is deprecated and has no effect; use --fixed-set-{1,2,3}-percentage"
        )
    catalog = load_cli_catalog(args)
    config = PreprocessConfig(
        input_dir=args.input_dir,
        output_dir=args.output_dir,
        sampling=sampling_config(args),
        mode="simple" if args.simple_mode else "agent",
        max_system_prompt_length=args.max_system_prompt_length,
        workers=args.workers or min(8, os.cpu_count() or 1),
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        cost_lambda=lambdas,
    )
    recorded = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if not k.startswith("_")}
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def on_progress(name: str, done: int, total: int) -> None:
        if not tasks:
            progress.start()  # started lazily: worker processes are forked before the refresh thread exists
        if name not in tasks:
            tasks[name] = progress.add_task(name, total=total)
        progress.update(tasks[name], completed=done)

    try:
        reports = preprocess(config, catalog, on_progress, arguments=recorded)
    finally:
        if tasks:  # stopping a never-started bar would print a stray blank line before an error
            progress.stop()
    table = Table(title=f"preprocessed {len(reports)} file(s) into {args.output_dir}")
    columns = ["input", "rows in", "rows out", "set types", "mean pool", "output"]
    if lambdas is not None and lambdas.per_row:
        columns.insert(5, "λ min / median / max")
    for column in columns:
        table.add_column(column, overflow="fold")
    for r in reports:
        n = sum(r.pool_sizes.values()) or 1
        mean_pool = sum(size * count for size, count in r.pool_sizes.items()) / n
        sets = ", ".join(f"{k} {v}" for k, v in r.set_types.items())
        cells = [Path(r.input).name, str(r.input_rows), str(r.output_rows), sets, f"{mean_pool:.1f}", r.output]
        if len(columns) > 6:
            lam = r.cost_lambda
            cells.insert(5, " / ".join(f"{lam[k]:g}" for k in ("min", "median", "max")) if lam else "-")
        table.add_row(*cells)
    Console().print(table)
    return 0
