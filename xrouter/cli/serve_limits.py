"""`xrouter serve` flags for what the server tolerates from clients and upstreams: timeouts, sizes, cooldowns."""

from __future__ import annotations

import argparse
from typing import Any

from xrouter.llm.limits import DEFAULT_MAX_ANSWER_BYTES

# flag, type, default, metavar, help
_FLAGS: tuple[tuple[str, type, Any, str, str], ...] = (
    ("--body-timeout-s", float, 30.0, "S", "time a client has to send its whole request body (default 30; then 408)"),
    ("--header-timeout-s", float, 10.0, "S",
     "time a client has to send its request headers (default 10; then 408 and the connection is closed)"),
    ("--max-header-bytes", int, 32 << 10, "N", "largest accepted request header block (default 32 KiB; larger gets 431)"),
    ("--max-answer-bytes", int, DEFAULT_MAX_ANSWER_BYTES, "N",
     "largest answer accepted from a target or the router (default 4 MiB; a larger target answer is a failed call, "
     "a larger router answer a 502)"),
    ("--allowed-fails", int, 3, "N", "a model with more than N failed attempts within 60 s cools down (default 3)"),
    ("--cooldown-s", float, 5.0, "S", "how long a model that keeps failing is not called (default 5; 0 turns cooldowns off)"),
    ("--stream-keepalive-s", float, 5.0, "S",
     "with stream=true, an SSE comment is sent after S seconds without anything else to send (default 5)"),
)  # fmt: skip


def add_limit_flags(group: argparse._ArgumentGroup) -> None:
    """Body and header guards for clients, answer size and cooldown for upstream models."""
    for flag, kind, default, metavar, help_text in _FLAGS:
        group.add_argument(flag, type=kind, default=default, metavar=metavar, help=help_text)


def limit_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The `ServeSettings` fields of the limit flags."""
    names = [flag[2:].replace("-", "_") for flag, *_ in _FLAGS]
    return {name: getattr(args, name) for name in names}
