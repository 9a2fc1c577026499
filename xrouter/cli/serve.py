"""Serve the router as an OpenAI-compatible API: POST /v1/chat/completions answers with router_metadata.

The router is a trained model behind an OpenAI-compatible endpoint (--router-api-base, e.g. vLLM or
SGLang with a hermes tool parser), a catalog model called through LiteLLM (--policy litellm:gpt-5-nano)
or another registered policy (--policy KIND:ARG). Targets are live catalog models, or recorded
outcomes answered in-process with --replay-data (--models: names in the data; default all of them).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from xrouter.cli.common import bind_socket
from xrouter.cli.credentials import add_api_key_arguments, add_env_file_argument, load_provider_keys, server_api_key
from xrouter.cli.models import add_catalog_argument
from xrouter.cli.serve_limits import add_limit_flags, limit_settings
from xrouter.errors import UsageError

if TYPE_CHECKING:  # the server stack is imported only when the command runs
    from xrouter.serve.state import ServeSettings


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _port(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)")
    return int(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter serve`."""
    _router_flags(parser.add_argument_group("router policy"))
    _episode_flags(parser.add_argument_group("episode"))
    _target_flags(parser.add_argument_group("targets"))
    add_catalog_argument(parser)
    add_env_file_argument(parser)
    _server_flags(parser.add_argument_group("server"))
    add_limit_flags(parser.add_argument_group("limits"))


def _router_flags(router: argparse._ArgumentGroup) -> None:
    router.add_argument(
        "--router-model",
        default="router",
        metavar="NAME",
        help="name of the router: sent as 'model' to the router endpoint, accepted as 'model' in requests "
        "(besides router and xrouter), looked up in the catalog for its price (default: router)",
    )
    router.add_argument(
        "--router-api-base",
        metavar="URL",
        help="OpenAI-compatible base URL of the router, e.g. http://127.0.0.1:8001/v1",
    )
    router.add_argument(
        "--router-api-key", metavar="KEY", help="bearer key sent to the router endpoint (default: none)"
    )
    router.add_argument(
        "--policy",
        metavar="KIND[:ARG]",
        help="router policy KIND[:ARG]: endpoint (default with --router-api-base), litellm[:CATALOG_ID] "
        "(a catalog model as untrained router; default without --router-api-base), hf:PATH (a trained "
        "checkpoint folder run in-process on the CPU, e.g. the model/ folder of `xrouter train`), or a "
        "registered kind such as learned:DIR",
    )
    router.add_argument(
        "--router-price-in",
        type=float,
        metavar="USD",
        help="router price per 1M input tokens (give both price flags; default: the catalog entry of the router "
        "model, else 0 with a warning)",
    )
    router.add_argument(
        "--router-price-out",
        type=float,
        metavar="USD",
        help="router price per 1M output tokens (see --router-price-in)",
    )
    router.add_argument(
        "--router-temperature",
        type=float,
        metavar="T",
        default=1.0,
        help="router sampling temperature (default 1.0, as in training)",
    )
    router.add_argument(
        "--router-max-tokens",
        type=int,
        default=4096,
        metavar="N",
        help="output-token limit of each router turn (default 4096)",
    )
    router.add_argument(
        "--router-timeout-s",
        type=float,
        default=120.0,
        metavar="S",
        help="timeout of one router turn in seconds (default 120)",
    )
    router.add_argument(
        "--no-router-stream",
        dest="router_stream",
        action="store_false",
        help="request router turns without stream even for streamed requests: the router's own answer then goes "
        "out when its turn is complete, and turns that call tools save the cost of a streamed reply "
        "(about 2 ms of time to first token on this machine)",
    )


def _episode_flags(episode: argparse._ArgumentGroup) -> None:
    pool = episode.add_mutually_exclusive_group()
    pool.add_argument(
        "--models",
        type=_csv,
        metavar="A,B,C",
        help="comma-separated target models (catalog ids, or names as in the data with --replay-data; "
        "default with --replay-data: every model in the data)",
    )
    pool.add_argument("--fixed-set", metavar="N", help="use a named fixed model set of the catalog as targets (e.g. 1)")
    episode.add_argument(
        "--mode",
        choices=["agent", "simple"],
        default=None,
        help="agent: call several models then select or summarise; simple: answer or delegate to one model "
        "(default: the mode an hf:PATH checkpoint was trained in, from its xrouter.json; else agent)",
    )
    episode.add_argument(
        "--max-turns", type=int, default=3, metavar="N", help="router generations per request (default 3)"
    )
    episode.add_argument(
        "--max-calls-per-turn", type=int, default=4, metavar="N", help="model calls run per router turn (default 4)"
    )
    episode.add_argument(
        "--max-total-calls", type=int, default=8, metavar="N", help="model calls per request (default 8)"
    )
    episode.add_argument(
        "--max-cost-usd",
        type=float,
        metavar="USD",
        help="default per-request budget: a call whose worst-case cost exceeds what is left is refused "
        "(requests may send max_cost_usd; default: no budget)",
    )
    episode.add_argument(
        "--cost-lambda",
        type=float,
        metavar="λ",
        help="default cost weight λ stated in the router's prompt (0 to 100000; requests may send "
        '"xrouter": {"cost_lambda": λ}; default: none, the prompt routers were trained on before λ was an input; '
        "learned:DIR routers then use their own λ)",
    )
    episode.add_argument(
        "--one-step-select",
        action="store_true",
        help="agent mode: let select_response name a model not called yet; that model is then called and its "
        "answer returned unchanged, and streamed token by token with stream: true (the router's prompt and "
        "the select tool say so; off by default: routers are trained without it)",
    )
    episode.add_argument(
        "--target-timeout-s",
        type=float,
        metavar="S",
        default=120.0,
        help="time limit of one target call incl. retries (default 120)",
    )


def _target_flags(targets: argparse._ArgumentGroup) -> None:
    targets.add_argument(
        "--replay-data",
        action="append",
        default=[],
        metavar="PATH",
        help="answer targets in-process from recorded outcomes (RouterBench CSV folder/file or xrouter outcome table; repeatable)",
    )
    targets.add_argument(
        "--target-api-base",
        metavar="URL",
        help="send every target call to this OpenAI-compatible base URL (e.g. a replay server)",
    )


def _server_flags(server: argparse._ArgumentGroup) -> None:
    server.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    server.add_argument("--port", type=_port, default=8800, help="port, 1-65535 (default 8800)")
    add_api_key_arguments(server)
    server.add_argument(
        "--ledger",
        metavar="PATH",
        default="outputs/serve_ledger.jsonl",
        help="cost ledger JSONL, one line per request (default outputs/serve_ledger.jsonl)",
    )
    server.add_argument("--no-ledger", action="store_true", help="do not write a cost ledger")
    server.add_argument(
        "--cache",
        metavar="PATH",
        help="SQLite response cache of target answers (identical target calls are answered from it and cost "
        "nothing; shared safely by --workers; default: no cache)",
    )
    server.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes, each with its own event loop and call layer, on one socket (default 1)",
    )
    server.add_argument(
        "--max-body-bytes",
        type=int,
        metavar="N",
        default=1 << 20,
        help="largest accepted request body (default 1 MiB; larger gets 413)",
    )
    server.add_argument(
        "--request-timeout-s",
        type=float,
        metavar="S",
        default=600.0,
        help="time limit of one routing episode (default 600; then 504)",
    )


def trained_mode(policy: str | None) -> str | None:
    """The mode an `hf:PATH` checkpoint was trained in (its router card), else None."""
    if not policy or not policy.startswith("hf:"):
        return None
    from xrouter.train.models import read_router_card

    return read_router_card(policy[3:]).get("mode")


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    """ServeSettings from parsed flags; loads --env-file (or ./.env) and reads the API key once, here."""
    from xrouter.serve.state import ServeSettings

    load_provider_keys(args)

    models = args.models
    if not models and not args.fixed_set:
        if not args.replay_data:
            raise UsageError("name the target models: --models A,B,C or --fixed-set N (or give --replay-data)")
        from xrouter.cli.replay import load_recorded

        models = tuple(load_recorded(args.replay_data, "--replay-data").models)
    if args.fixed_set:
        from xrouter.catalog import load_catalog

        models = tuple(spec.id for spec in load_catalog(args.catalog).fixed_set(args.fixed_set))
    return ServeSettings(
        models=models,
        router_model=args.router_model,
        router_api_base=args.router_api_base,
        router_api_key=args.router_api_key,
        policy=args.policy,
        router_price_in=args.router_price_in,
        router_price_out=args.router_price_out,
        router_temperature=args.router_temperature,
        router_max_tokens=args.router_max_tokens,
        router_timeout_s=args.router_timeout_s,
        router_stream=args.router_stream,
        mode=args.mode or trained_mode(args.policy) or "agent",
        max_turns=args.max_turns,
        max_calls_per_turn=args.max_calls_per_turn,
        max_total_calls=args.max_total_calls,
        max_cost_usd=args.max_cost_usd,
        cost_lambda=args.cost_lambda,
        one_step_select=args.one_step_select,
        target_timeout_s=args.target_timeout_s,
        replay_data=tuple(args.replay_data),
        catalog_files=tuple(args.catalog or ()),
        target_api_base=args.target_api_base,
        ledger_path=None if args.no_ledger else args.ledger,
        cache_path=args.cache,
        api_key=server_api_key(args),
        max_body_bytes=args.max_body_bytes,
        request_timeout_s=args.request_timeout_s,
        **limit_settings(args),
    )


def run(args: argparse.Namespace) -> int:
    """Build everything (bad flags or data fail here with exit 2), then serve until interrupted."""
    import uvicorn

    from xrouter.engine.policy import RouterPolicyError
    from xrouter.serve.app import create_app
    from xrouter.serve.protocol import server_options
    from xrouter.serve.state import build_components

    settings = settings_from_args(args)
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    sock = bind_socket(args.host, args.port)  # a taken port fails here, before anything loads
    try:
        components = build_components(settings)  # with --workers: only a check, each worker builds its own
    except RouterPolicyError as exc:
        raise UsageError(str(exc)) from None
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    sys.stdout.write(
        f"xrouter serve: router {components.engine.policy.name!r} ({settings.mode} mode) over "
        f"{len(settings.models)} target models on http://{args.host}:{sock.getsockname()[1]}/v1{workers} "
        "(Ctrl-C stops)\n"
    )
    sys.stdout.flush()
    if args.workers > 1:
        import asyncio

        from xrouter.serve.workers import serve_workers

        asyncio.run(components.aclose())
        serve_workers(settings, sock, args.workers, getattr(args, "log_level", "WARNING"))
        return 0
    app = create_app(settings, components)
    # log_config=None: uvicorn's records go through the CLI's (redacting) log handler; the options add the
    # header size limit and the header-read timeout
    config = uvicorn.Config(app, log_level="warning", access_log=False, log_config=None, **server_options(settings))
    uvicorn.Server(config).run(sockets=[sock])
    return 0
