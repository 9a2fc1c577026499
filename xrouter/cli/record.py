"""Record live model answers into an xrouter outcome table, to replay them later for free.

Calls every model in `--models` on every query of `--queries` through the call layer (retries,
per-model concurrency limit, optional response cache and cost ledger) and appends each successful
answer to `--out` (.parquet or .jsonl, outcome-table schema with an empty `score`). An existing `--out`
is refused unless `--resume` (skip the (query, model) pairs already recorded: an interrupted run goes on)
or `--overwrite` (start again).
Queries come from any outcome file `load_outcomes` reads (RouterBench CSV, xrouter parquet/JSONL).
Exit code 0 when every call succeeded, 1 when some failed (a run with --resume retries their pairs).
Example: `xrouter record --queries data/routerbench_slices/mbpp_train.csv --limit 50
--models gpt-5-mini,gpt-4.1-nano --out outputs/mbpp_live.parquet --ledger outputs/calls.jsonl`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from xrouter.cli.common import add_overwrite_argument
from xrouter.cli.credentials import add_env_file_argument, load_provider_keys
from xrouter.cli.models import add_catalog_argument
from xrouter.errors import UsageError
from xrouter.io import refuse_existing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter record`."""
    parser.add_argument(
        "--queries",
        action="append",
        required=True,
        metavar="PATH",
        help="outcome file(s) whose queries to ask (RouterBench CSV, .parquet, .jsonl; repeatable)",
    )
    parser.add_argument("--models", required=True, help="comma-separated catalog model ids to call")
    parser.add_argument("--out", required=True, metavar="FILE", help="outcome table to write (.parquet or .jsonl)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an existing --out: ask only the (query, model) pairs it lacks")  # fmt: skip
    add_overwrite_argument(parser, "--out table (and its journal)")
    parser.add_argument(
        "--dataset", default=None, help="dataset name written into every row (default: the first query's dataset)"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N queries (default: all)")
    parser.add_argument("--system-prompt", default="", help="system prompt sent before each query (default: none)")
    parser.add_argument("--max-tokens", type=int, default=None, help="output budget per call (capped by the catalog)")
    parser.add_argument(
        "--temperature", type=float, default=None, help="sampling temperature (fixed-temperature models ignore it)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight per model (default: 8)")
    parser.add_argument(
        "--api-base", default=None, metavar="URL", help="send every call to this OpenAI-compatible endpoint"
    )
    parser.add_argument("--cache", default=None, metavar="FILE", help="SQLite response cache (readwrite)")
    parser.add_argument("--ledger", default=None, metavar="FILE", help="append every call to this JSONL cost ledger")
    add_catalog_argument(parser)
    add_env_file_argument(parser)


async def _record_all(
    args: argparse.Namespace, queries: Any, model_ids: list[str], recorder: Any
) -> tuple[dict[str, int], dict[str, str]]:
    from rich.progress import Progress

    from xrouter.engine.prompts import target_messages

    counts = {"ok": 0, "failed": 0}
    errors: dict[str, str] = {}  # first failure per error kind, shown in the summary
    jobs = [(q, m) for q in queries.itertuples(index=False) for m in model_ids]
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("recording", total=len(jobs))

        async def one(query: Any, model_id: str) -> None:
            messages = target_messages(args.system_prompt, [{"role": "user", "content": query.query_text}])
            result = await recorder.call(
                model_id,
                messages,
                temperature=args.temperature,
                max_tokens=args.max_tokens,
                query_id=str(query.query_id),
            )
            counts["ok" if result.success else "failed"] += 1
            if not result.success and result.error is not None:
                counts[f"kind:{result.error.kind}"] = counts.get(f"kind:{result.error.kind}", 0) + 1
                errors.setdefault(result.error.kind, f"{model_id}: {result.error.message}")
            progress.advance(task)

        await asyncio.gather(*(one(q, m) for q, m in jobs))
    return counts, errors


def run(args: argparse.Namespace) -> int:
    """Ask every model every query and record the answers."""
    from xrouter.catalog import load_catalog
    from xrouter.cli.replay import load_recorded
    from xrouter.llm.cache import ResponseCache
    from xrouter.llm.client import LLMClient
    from xrouter.llm.ledger import Ledger
    from xrouter.llm.record import Recorder

    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be >= 1, got {args.concurrency}")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be >= 1, got {args.limit}")
    if args.resume and args.overwrite:
        raise UsageError("--resume keeps the earlier answers and --overwrite drops them: give one of them")
    outputs = [Path(args.out), Path(args.out + ".journal.jsonl")]
    if not args.resume:
        refuse_existing(outputs, overwrite=args.overwrite, resumable=True)
    load_provider_keys(args)
    catalog = load_catalog(args.catalog)
    model_ids = [m.strip() for m in args.models.split(",") if m.strip()]
    model_ids = [catalog.resolve(m).id for m in model_ids]  # unknown ids fail here, before any call
    queries = load_recorded(args.queries, "--queries").queries()
    if args.limit is not None:
        queries = queries.head(args.limit)
    client = LLMClient(
        catalog,
        cache=ResponseCache(args.cache) if args.cache else None,
        ledger=Ledger(args.ledger) if args.ledger else None,
        max_concurrency_per_model=args.concurrency,
        api_base=args.api_base,
    )
    if args.overwrite:
        for path in outputs:
            path.unlink(missing_ok=True)
    dataset = args.dataset or (str(queries["dataset"].iloc[0]) if len(queries) else "recorded")
    recorder = Recorder(client, args.out, dataset=dataset)
    try:
        counts, errors = asyncio.run(_record_all(args, queries, model_ids, recorder))
    finally:
        recorder.close()
    sys.stdout.write(
        f"{counts['ok']} answers ok, {counts['failed']} failed; {recorder.recorded} new rows in {args.out}\n"
    )
    for kind, example in errors.items():  # the reason, without needing --log-level INFO
        sys.stdout.write(f"  {counts[f'kind:{kind}']} failed ({kind}), e.g. {example}\n")
    return 0 if counts["failed"] == 0 else 1
