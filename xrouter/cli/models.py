"""List the model catalog: ids, tiers, prices per 1M tokens, limits and tool names.

Prints a table, or JSON (`--json`) with one object per model. Merge your own models over the
shipped catalog with `--catalog FILE` (or the XROUTER_CATALOG variable).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from xrouter.catalog import TIERS, ModelSpec, load_catalog


def add_catalog_argument(parser: argparse.ArgumentParser) -> None:
    """The shared `--catalog FILE` flag (repeatable)."""
    parser.add_argument(
        "--catalog",
        action="append",
        default=None,
        metavar="FILE",
        help="YAML catalog merged over the shipped one (repeatable; also read from $XROUTER_CATALOG)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter models`."""
    parser.add_argument("--tier", choices=TIERS, help="show only models of this tier")
    parser.add_argument("--json", action="store_true", help="print JSON (a list of objects) instead of a table")
    add_catalog_argument(parser)


def model_record(spec: ModelSpec) -> dict[str, Any]:
    """JSON record of one model, as printed by `--json`."""
    return {
        "id": spec.id,
        "display_name": spec.name,
        "tier": spec.tier,
        "provider": spec.provider,
        "litellm_model": spec.litellm_model,
        "tool_name": spec.tool_name,
        "input_usd_per_mtok": spec.input_usd_per_mtok,
        "cached_input_usd_per_mtok": spec.cached_input_usd_per_mtok,
        "output_usd_per_mtok": spec.output_usd_per_mtok,
        "context_window": spec.context_window,
        "max_output_tokens": spec.max_output_tokens,
        "reasoning": spec.reasoning,
        "capabilities": list(spec.capabilities),
    }


def _price(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}"


def run(args: argparse.Namespace) -> int:
    """Print the catalog."""
    catalog = load_catalog(args.catalog)
    specs = catalog.by_tier(args.tier) if args.tier else list(catalog.models.values())
    if args.json:
        sys.stdout.write(json.dumps([model_record(s) for s in specs], indent=2) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"xrouter catalog {catalog.version} ({len(specs)} models, USD per 1M tokens)")
    for column in ("id", "tier", "provider", "in", "cached in", "out", "context", "max out", "tool"):
        table.add_column(
            column, justify="right" if column in ("in", "cached in", "out", "context", "max out") else "left"
        )
    for s in specs:
        table.add_row(
            s.id,
            s.tier,
            s.provider,
            _price(s.input_usd_per_mtok),
            _price(s.cached_input_usd_per_mtok),
            _price(s.output_usd_per_mtok),
            f"{s.context_window:,}",
            f"{s.max_output_tokens:,}",
            s.tool_name,
        )
    Console().print(table)
    return 0
