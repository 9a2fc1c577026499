"""Pieces several subcommands share: binding a listening socket, and the rule for existing outputs.

Existing outputs: a command never replaces an earlier result silently. If a file it would write already
exists it stops before any work (exit 2, one line naming the file), unless `--overwrite` is given;
commands that can continue an interrupted run (`bench`, `record`) also take `--resume`.
"""

from __future__ import annotations

import argparse
import socket

from xrouter.errors import UsageError


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port and listening (uvicorn serves on it); UsageError when impossible."""
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only then (else ~40 ms per answer).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections made once the ready line is out wait in the backlog, not refused
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"cannot listen on {host}:{port} ({reason}); choose another --host/--port") from None
    return sock


def add_overwrite_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, what: str = "outputs") -> None:
    """The `--overwrite` flag every command with file outputs takes (the check is `xrouter.io.refuse_existing`)."""
    parser.add_argument("--overwrite", action="store_true", help=f"replace existing {what} (default: refuse)")


def parquet_files(values: list[str] | None, flag: str) -> tuple:
    """The parquet files named by a repeatable path flag (folders expand to their *.parquet), resolved.

    A missing path, or paths that hold no parquet file, is a UsageError naming the flag.
    """
    from pathlib import Path

    files: list[Path] = []
    for raw in values or []:
        path = Path(raw).resolve()
        if path.is_dir():
            files.extend(sorted(path.glob("*.parquet")))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{flag} {raw}: no such file or folder")
    if values and not files:
        raise UsageError(f"{flag}: no parquet files in {' '.join(values)}")
    return tuple(files)
