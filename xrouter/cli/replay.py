"""Replay recorded model outcomes offline, at zero cost.

`xrouter replay serve --data PATH [--data PATH ...]` starts an OpenAI-compatible server
(`/v1/chat/completions`, `/v1/models`, `/health`) answering from RouterBench CSVs and xrouter outcome
tables (parquet/JSONL; folders expand). `xrouter replay catalog --data PATH --out FILE` writes the
matching catalog YAML (models priced for token accounting, `api_base` pointing at the server) to
pass as `--catalog FILE` to other commands.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from xrouter.cli.common import add_overwrite_argument, bind_socket
from xrouter.errors import UsageError

logger = logging.getLogger(__name__)


def _add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="PATH",
        help="RouterBench-format CSV, xrouter outcome table (.parquet/.jsonl) or a folder of them (repeatable)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands `serve` and `catalog` of `xrouter replay`."""
    sub = parser.add_subparsers(dest="replay_command", metavar="ACTION")
    serve = sub.add_parser(
        "serve",
        help="serve recorded outcomes over an OpenAI-compatible HTTP API",
        description="Answer POST /v1/chat/completions from recorded outcomes; GET /v1/models lists the models in "
        "the data, GET /health counts them. A request is matched to a recorded query by header "
        "x-xrouter-query-id or metadata.query_id (RouterBench sample_id), else by the whitespace-normalised "
        "text of its last user message; to a model by its name in the data (an openai/ or hosted_vllm/ prefix "
        "is accepted). usage.cost carries the recorded cost; unknown query or model -> HTTP 404. Stop with Ctrl-C.",
    )
    _add_data_argument(serve)
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=8100, help="TCP port to listen on (default: 8100; 0 = any free)")
    serve.add_argument(
        "--keep-alive",
        type=float,
        default=75.0,
        metavar="SECONDS",
        help="keep idle client connections open this long (default: 75; longer than client pools keep them, "
        "so a pooled connection is never closed under a request)",
    )
    serve.add_argument(
        "--stream-delay-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="pause before each streamed word piece, a fixed inter-token delay (default: 0)",
    )
    serve.add_argument(
        "--log-requests", action="store_true", help="log every HTTP request (uvicorn access log; slower)"
    )
    catalog = sub.add_parser(
        "catalog",
        help="write the replay catalog YAML for the models in the data",
        description="Write a catalog YAML with one entry per model in the data (RouterBench models from the "
        "shipped routerbench_models.yaml, others priced from their recorded cost), to pass as --catalog FILE.",
    )
    _add_data_argument(catalog)
    catalog.add_argument("--out", required=True, metavar="FILE", help="where to write the catalog YAML")
    catalog.add_argument(
        "--api-base",
        default=None,
        metavar="URL",
        help="api_base written into every entry, e.g. http://127.0.0.1:8100/v1 (default: none)",
    )
    add_overwrite_argument(catalog, "--out file")


def load_recorded(paths: list[str], flag: str = "--data") -> Any:
    """`load_outcomes(paths)`, with parser errors the loader does not name (e.g. an empty CSV) as DataError."""
    from xrouter.data.outcomes import load_outcomes
    from xrouter.errors import DataError, XRouterError

    try:
        return load_outcomes(paths)
    except XRouterError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"{flag} {' '.join(paths)}: cannot be read as recorded outcomes ({detail})") from None


def _load(paths: list[str]) -> Any:
    from xrouter.llm.replay import ReplayStore

    return ReplayStore(load_recorded(paths))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from xrouter.llm.replay import create_replay_app

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be within 0..65535, got {args.port}")
    if args.keep_alive <= 0:
        raise UsageError(f"--keep-alive must be > 0 seconds, got {args.keep_alive:g}")
    if args.stream_delay_ms < 0:
        raise UsageError(f"--stream-delay-ms must be >= 0, got {args.stream_delay_ms:g}")
    # Bind before loading the data: a busy port fails at once, and --port 0 can print the real port.
    sock = bind_socket(args.host, args.port)
    store = _load(args.data)
    port = sock.getsockname()[1]
    sys.stdout.write(
        f"replaying {len(store)} recorded answers ({store.num_queries} queries x {len(store.models)} models) "
        f"on http://{args.host}:{port}/v1\n"
    )
    sys.stdout.flush()
    config = uvicorn.Config(
        create_replay_app(store, args.stream_delay_ms / 1e3),
        log_level="info" if args.log_requests else "warning",
        access_log=args.log_requests,
        timeout_keep_alive=args.keep_alive,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from xrouter.io import atomic_write_text, refuse_existing
    from xrouter.llm.replay.catalog import catalog_yaml

    refuse_existing([args.out], overwrite=args.overwrite)
    store = _load(args.data)
    atomic_write_text(Path(args.out), catalog_yaml(store.catalog, args.api_base))
    sys.stdout.write(f"wrote {len(store.catalog.models)} replay models to {args.out}\n")
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch `xrouter replay serve|catalog`."""
    if args.replay_command == "serve":
        return _serve(args)
    if args.replay_command == "catalog":
        return _catalog(args)
    raise UsageError(
        "choose an action: xrouter replay serve --data PATH | xrouter replay catalog --data PATH --out FILE"
    )
