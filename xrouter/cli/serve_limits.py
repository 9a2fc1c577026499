"""`xrouter serve` flags for what the server tolerates from clients and upstreams: timeouts, sizes, cooldowns."""

from __future__ import annotations

import argparse
from typing import Any

from xrouter.llm.limits import DEFAULT_MAX_ANSWER_BYTES


def add_limit_flags(group: argparse._ArgumentGroup) -> None:
    """Body and header guards for clients, answer size and cooldown for upstream models."""
    group.add_argument(
        "--body-timeout-s", type=float, default=30.0, metavar="S",
        help="time a client has to send its whole request body (default 30; then 408)",
    )  # fmt: skip
    group.add_argument(
        "--header-timeout-s", type=float, default=10.0, metavar="S",
        help="time a client has to send its request headers (default 10; then 408 and the connection is closed)",
    )  # fmt: skip
    group.add_argument(
        "--max-header-bytes", type=int, default=32 << 10, metavar="N",
        help="largest accepted request header block (default 32 KiB; larger gets 431)",
    )  # fmt: skip
    group.add_argument(
        "--max-answer-bytes", type=int, default=DEFAULT_MAX_ANSWER_BYTES, metavar="N",
        help="largest answer accepted from a target or the router (default 4 MiB; a larger target answer is a "
        "failed call, a larger router answer a 502)",
    )  # fmt: skip
    group.add_argument(
        "--allowed-fails", type=int, default=3, metavar="N",
        help="failed attempts of one model within 60 s before it cools down (default 3)",
    )  # fmt: skip
    group.add_argument(
        "--cooldown-s", type=float, default=5.0, metavar="S",
        help="how long a model that keeps failing is not called (default 5; 0 turns cooldowns off)",
    )  # fmt: skip


def limit_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The `ServeSettings` fields of the limit flags."""
    names = ("body_timeout_s", "header_timeout_s", "max_header_bytes", "max_answer_bytes", "allowed_fails")
    return {name: getattr(args, name) for name in (*names, "cooldown_s")}
