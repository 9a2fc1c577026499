"""Record live model answers into an xrouter outcome table, to replay them later for free.

Calls every model in `--models` on every query of `--queries` through the call layer (retries,
per-model concurrency limit, optional response cache and cost ledger) and appends each successful
answer to `--out` (.parquet or .jsonl, outcome-table schema with an empty `score`). Rerunning with
the same `--out` skips (query, model) pairs already recorded, so an interrupted run resumes.
Queries come from any outcome file `load_outcomes` reads (RouterBench CSV, xrouter parquet/JSONL).
Exit code 0 when every call succeeded, 1 when some failed (their pairs are retried on the next run).
Example: `xrouter record --queries mbpp_train.csv --limit 50 --models gpt-5-mini,gpt-4.1-nano
--out outcomes/mbpp_live.parquet --ledger outcomes/ledger.jsonl`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from xrouter.cli.credentials import add_env_file_argument, load_provider_keys
from xrouter.cli.models import add_catalog_argument
from xrouter.errors import UsageError


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
    parser.add_argument("--out", required=True, metavar="FILE", help="outcome table to append to (.parquet or .jsonl)")
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


async def _record_all(args: argparse.Namespace, queries: Any, model_ids: list[str], recorder: Any) -> dict[str, int]:
    from rich.progress import Progress

    from xrouter.engine.prompts import target_messages

    counts = {"ok": 0, "failed": 0}
    jobs = [(q, m) for q in queries.itertuples(index=False) for m in model_ids]
    with Progress(transient=True) as progress:
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
            progress.advance(task)

        await asyncio.gather(*(one(q, m) for q, m in jobs))
    return counts


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
    dataset = args.dataset or (str(queries["dataset"].iloc[0]) if len(queries) else "recorded")
    recorder = Recorder(client, args.out, dataset=dataset)
    try:
        counts = asyncio.run(_record_all(args, queries, model_ids, recorder))
    finally:
        recorder.close()
    sys.stdout.write(
        f"{counts['ok']} answers ok, {counts['failed']} failed; {recorder.recorded} new rows in {args.out}\n"
    )
    return 0 if counts["failed"] == 0 else 1
