"""`xrouter` console script: dispatches to one module per subcommand.

Each subcommand module defines `add_arguments(parser)` and `run(args) -> int`, and imports its
heavy dependencies inside `run` so that `xrouter --help` stays fast. Errors derived from
`XRouterError` become one line on stderr and their exit code (2 for usage or data errors).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from xrouter import __version__
from xrouter.errors import XRouterError

# name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("xrouter.cli.data", "download and verify the public data sets (RouterBench, eval sets)"),
    "models": ("xrouter.cli.models", "list the model catalog with prices"),
    "tools": ("xrouter.cli.tools", "write call_<model> tool schemas (OpenAI JSON or verl YAML)"),
    "replay": ("xrouter.cli.replay", "serve recorded model outcomes offline (OpenAI-compatible replay server)"),
    "record": ("xrouter.cli.record", "record live model answers into an outcome table for later replay"),
    "serve": ("xrouter.cli.serve", "serve the router as an OpenAI-compatible API with router_metadata"),
    "preprocess-source": ("xrouter.cli.preprocess_source", "eval set / RouterBench / guru files to guru rows"),
    "preprocess": ("xrouter.cli.preprocess", "build router training parquets with per-row model pools"),
    "filter-length": ("xrouter.cli.filter_length", "drop training rows whose prompt plus tool schemas is too long"),
    "frontier": ("xrouter.cli.frontier", "reward frontier: what each λ makes a perfect router do on recorded outcomes"),
    "sft-data": ("xrouter.cli.sft_data", "write supervised warm-start routing traces from training rows"),
    "init-policy": ("xrouter.cli.init_policy", "create a policy folder to train: SmolLM2-135M from PyPI or a small router"),
    "train": ("xrouter.cli.train", "train the router with verl: supervised warm start or DAPO, CPU or GPU"),
    "fit-router": ("xrouter.cli.fit_router", "fit a kNN/MLP baseline router on recorded outcomes"),
    "bench": ("xrouter.cli.bench", "benchmark routing policies: accuracy, cost, AIQ, frontier plot"),
    "loopback": ("xrouter.cli.loopback", "run a command (e.g. anything that starts Ray) with loopback-only networking"),
}


class _Parser(argparse.ArgumentParser):
    """argparse parser whose usage errors are one line (the full usage stays in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand."""
    parser = _Parser(
        prog="xrouter",
        description="Cost-aware LLM routing: catalog, replay, serving, reward, preprocessing and benchmarks.",
    )
    parser.add_argument(
        "--version", action="version", version=f"xrouter {__version__}", help="print the version and exit"
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging verbosity on stderr (default: WARNING)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def _setup_logging(level: str) -> None:
    from xrouter.llm.redact import configure_logging

    configure_logging(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the xrouter CLI with `argv` (default: sys.argv[1:]); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    _setup_logging(args.log_level)
    try:
        return int(args._run(args) or 0)
    except XRouterError as exc:
        sys.stderr.write(f"xrouter {args.command}: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"xrouter {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
