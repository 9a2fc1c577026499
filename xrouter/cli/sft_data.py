"""Write supervised warm-start traces for the router from its training rows and their recorded outcomes.

Each trace is the row's router prompt with the row's pool as tools, then the target turn(s) in the
exact hermes format the training agent loop parses: a call to one pool model and, in agent mode, the
recorded answer as the tool response followed by `select_response`. `--target` decides which model:
`uniform` over the pool, `table` (best mean reward of the row's task at --cost-lambda) or
`cheapest-correct`. Rows of the held-out split (as `xrouter bench --split eval` draws it with the same
--holdout and --split-seed) are left out. The output parquet stores `messages` and `tools` as JSON text
(parquet would otherwise merge the keys of different tools); `xrouter train --stage sft` reads it with
the dataset class that decodes them.

  xrouter sft-data --rows rows/ --tools tools.yaml --out sft.parquet --target uniform
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from xrouter.cli.common import add_overwrite_argument, parquet_files
from xrouter.cli.models import add_catalog_argument
from xrouter.cli.reward_flags import add_reward_arguments, reward_config
from xrouter.errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter sft-data`."""
    parser.add_argument("--rows", nargs="+", action="extend", required=True, metavar="PATH",
                        help="router training rows: parquet files or folders from `xrouter preprocess`")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="output parquet (written atomically)")
    parser.add_argument("--target", default="uniform", choices=["uniform", "table", "cheapest-correct"],
                        help="which pool model the traces call (default: uniform)")  # fmt: skip
    parser.add_argument("--tools", type=Path, metavar="FILE",
                        help="tool schemas to offer: the verl tool YAML training uses, or an OpenAI tools JSON "
                        "(default: built from the catalog)")  # fmt: skip
    parser.add_argument("--outcomes", nargs="+", action="extend", metavar="PATH",
                        help="outcome tables with the recorded answers (needed for agent-mode rows)")  # fmt: skip
    parser.add_argument("--no-think", action="store_true", help="no <think> task note before the call")
    parser.add_argument("--call-prompt", help="optimized_system_prompt written into the calls")
    parser.add_argument("--holdout", type=float, default=0.3, help="held-out fraction left out (default: 0.3)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the held-out split (default: 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the uniform choice (default: 0)")
    parser.add_argument("--per-row", type=int, default=1, help="traces per row (uniform: independent draws; default 1)")
    add_overwrite_argument(parser, "--out file")
    add_reward_arguments(parser)
    add_catalog_argument(parser)


def _rows(files: list[Path]) -> list[dict[str, Any]]:
    import pandas as pd

    rows = []
    for path in files:
        frame = pd.read_parquet(path)
        missing = {"data_source", "prompt", "extra_info"} - set(frame.columns)
        if missing:
            raise DataError(f"{path}: not a router training file (missing {', '.join(sorted(missing))})")
        for i, row in enumerate(frame.to_dict("records")):
            rows.append({**row, "where": f"{path} row {i}"})
    return rows


def tool_schemas(path: Path) -> dict[str, dict[str, Any]]:
    """name -> OpenAI tool schema, from a verl tool YAML (`tools: [{tool_schema}]`) or an OpenAI tools JSON."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"--tools {path}: cannot read ({exc.__class__.__name__})") from None
    entries = data.get("tools") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise DataError(f"--tools {path}: expected a verl tool YAML or a JSON list of tools")
    schemas = [e.get("tool_schema", e) for e in entries if isinstance(e, dict)]
    return {s["function"]["name"]: s for s in schemas if isinstance(s, dict) and "function" in s}


def _tools_for(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from xrouter.catalog import SELECT_TOOL_NAME, load_catalog, openai_tools

    if args.tools:
        known = tool_schemas(args.tools)

        def from_file(row: dict[str, Any]) -> list[dict[str, Any]]:
            names = [str(n) for n in row["extra_info"].get("tool_selection") or []]
            if row["extra_info"].get("mode") == "agent" and SELECT_TOOL_NAME not in names:
                names.append(SELECT_TOOL_NAME)
            missing = [n for n in names if n not in known]
            if missing:
                raise DataError(f"{row['where']}: tools {', '.join(missing)} are not in --tools {args.tools}")
            return [known[n] for n in names]

        return from_file
    catalog = load_catalog(args.catalog)

    def from_catalog(row: dict[str, Any]) -> list[dict[str, Any]]:
        simple = row["extra_info"].get("mode") == "simple"
        return openai_tools(catalog, list(row["extra_info"]["model_pool"]), simple=simple)

    return from_catalog


def _answers(paths: list[str] | None):  # type: ignore[no-untyped-def]
    if not paths:
        return None
    from xrouter.data.outcomes import load_outcomes
    from xrouter.llm.replay import ReplayStore

    store = ReplayStore(load_outcomes([Path(p) for p in paths]))
    return lambda query_id, model: store.lookup(model, [], query_id=query_id).text


def run(args: argparse.Namespace) -> int:
    """Build the traces, write the parquet, print what was written."""
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from xrouter.io import atomic_path, refuse_existing
    from xrouter.train.sft import DEFAULT_CALL_PROMPT, TraceConfig, build_traces

    refuse_existing([args.out], overwrite=args.overwrite)
    config = TraceConfig(
        target=args.target, reward=reward_config(args), think=not args.no_think,
        call_prompt=args.call_prompt or DEFAULT_CALL_PROMPT, seed=args.seed, holdout=args.holdout,
        split_seed=args.split_seed, per_row=args.per_row,
    )  # fmt: skip
    traces = build_traces(_rows(list(parquet_files(args.rows, "--rows"))), _tools_for(args), config, _answers(args.outcomes))
    if not traces:
        raise DataError("no traces: every row is in the held-out split (check --holdout / --split-seed)")
    with atomic_path(args.out) as tmp:
        pd.DataFrame(traces).to_parquet(tmp, index=False)
    table = Table(title=f"{len(traces)} traces -> {args.out}")
    for column in ("task", "target model", "traces"):
        table.add_column(column)
    for (task, model), count in sorted(Counter((t["data_source"], t["target"]) for t in traces).items()):
        table.add_row(task, model, str(count))
    Console().print(table)
    first = json.loads(traces[0]["messages"])
    Console().print(f"first target turn: {json.dumps(first[-1], ensure_ascii=False)[:200]}")
    return 0
