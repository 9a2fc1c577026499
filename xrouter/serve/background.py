"""Run an ASGI app with uvicorn in a background thread (tests, benchmarks, the demo).

with BackgroundServer(app) as server:      # binds 127.0.0.1 on a free port
    httpx.get(f"{server.url}/health")

`wait_until_serving(url, process)` waits for a server started as a separate process (benchmarks, soaks).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
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


def wait_until_serving(
    url: str, process: subprocess.Popen, timeout_s: float = 90.0, output: Callable[[], str] | None = None
) -> None:
    """Poll `url` until it answers below 500; RuntimeError (with `output()`, its last words) if `process` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = output()[-2000:] if output is not None else ""
            raise RuntimeError(f"{url}: the server exited with code {process.returncode}: {said}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up in {timeout_s:.0f}s")
