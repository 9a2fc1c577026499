"""Run an ASGI app with uvicorn in a background thread (tests, benchmarks, the demo).

with BackgroundServer(app) as server:      # binds 127.0.0.1 on a free port
    httpx.get(f"{server.url}/health")
"""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class BackgroundServer:
    """A uvicorn server on a daemon thread; `url` is `http://host:port` once started."""

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, *, startup_timeout_s: float = 30.0, **options: Any
    ) -> None:
        """`options` go to `uvicorn.Config` (e.g. `xrouter.serve.protocol.server_options(settings)`)."""
        self._config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="on", access_log=False, **options
        )
        self._server = uvicorn.Server(self._config)
        self._thread = threading.Thread(target=self._server.run, name=f"uvicorn-{host}:{port}", daemon=True)
        self._timeout = startup_timeout_s
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. http://127.0.0.1:40123."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        """Start serving and wait until the socket is bound."""
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on {self.host}:{self.port} failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {self.host}:{self.port} did not start in {self._timeout:.0f}s")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and join the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
