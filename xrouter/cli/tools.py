"""Write the router's tool schemas for a set of models.

`--format openai` writes the OpenAI `tools` list (JSON); `--format verl` writes a verl tool-config
YAML (`tools: [{class_name, config, tool_schema}]`) for `actor_rollout_ref.rollout.multi_turn.tool_config_path`.
`--simple` leaves out `select_response` (simple mode: answer directly or delegate to one model).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from xrouter.catalog import load_catalog, openai_tools, verl_tool_config
from xrouter.cli.common import add_overwrite_argument
from xrouter.cli.models import add_catalog_argument
from xrouter.errors import UsageError
from xrouter.io import atomic_write_text, refuse_existing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter tools`."""
    pool = parser.add_mutually_exclusive_group()
    pool.add_argument("--models", help="comma-separated model ids (or call_<slug> names) to expose as tools")
    pool.add_argument("--fixed-set", metavar="NAME", help="use a named fixed set from the catalog (e.g. 1)")
    parser.add_argument(
        "--format", choices=["openai", "verl"], default="openai", help="output format (default: openai)"
    )
    parser.add_argument("--simple", action="store_true", help="simple mode: no select_response tool")
    parser.add_argument("--out", type=Path, help="write to this file (atomically) instead of stdout")
    add_overwrite_argument(parser, "--out file")
    add_catalog_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Build and write the schemas."""
    catalog = load_catalog(args.catalog)
    if args.fixed_set:
        ids = [s.id for s in catalog.fixed_set(args.fixed_set)]
    elif args.models:
        ids = [m.strip() for m in args.models.split(",") if m.strip()]
    else:
        raise UsageError("give --models a,b,... or --fixed-set NAME")
    if not ids:
        raise UsageError("--models is empty")
    if args.format == "openai":
        text = json.dumps(openai_tools(catalog, ids, simple=args.simple), indent=2) + "\n"
    else:
        text = yaml.safe_dump(verl_tool_config(catalog, ids, simple=args.simple), sort_keys=False, width=120)
    if args.out:
        refuse_existing([args.out], overwrite=args.overwrite)
        atomic_write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return 0
