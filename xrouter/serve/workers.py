"""`xrouter serve --workers N`: N uvicorn worker processes on one listening socket.

Each worker is a fresh (spawned) process with its own event loop, call layer, HTTP pools, ledger descriptor
and cache connections, all built in the worker from the same `ServeSettings`. Several writers stay correct:
the ledger appends each line with one `os.write` on an `O_APPEND` descriptor (lines never interleave), and
the response cache is SQLite in WAL mode with a busy timeout. `/metrics` counts the requests of the worker
that answers the scrape.
"""

from __future__ import annotations

import socket
from functools import partial
from typing import Any

import uvicorn

from xrouter.llm.redact import configure_logging
from xrouter.serve.app import create_app
from xrouter.serve.protocol import server_options
from xrouter.serve.state import ServeSettings


class WorkerConfig(uvicorn.Config):
    """uvicorn settings that travel to each worker; the app, header guards and logging are set up there."""

    def __init__(self, settings: ServeSettings, workers: int, log_level: str = "WARNING", **options: Any) -> None:
        super().__init__(
            partial(create_app, settings),
            factory=True,
            workers=workers,
            log_level="warning",
            access_log=False,
            log_config=None,
            **options,
        )
        self.serve_settings = settings
        self.worker_log_level = log_level

    def load(self) -> None:
        """Runs in the worker: logging, the guarded HTTP protocol (a class made at run time), then uvicorn's load."""
        if not self.loaded:
            configure_logging(self.worker_log_level)
            for name, value in server_options(self.serve_settings).items():
                setattr(self, name, value)
        super().load()


def serve_workers(settings: ServeSettings, sock: socket.socket, workers: int, log_level: str = "WARNING") -> None:
    """Serve on `sock` with `workers` processes until interrupted (SIGINT/SIGTERM stop them all)."""
    from uvicorn.supervisors import Multiprocess

    config = WorkerConfig(settings, workers, log_level)
    Multiprocess(config, sockets=[sock]).run()
