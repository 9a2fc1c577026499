"""A real HTTP file server on 127.0.0.1 standing in for the data sets' public hosts (used as --mirror)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FileServer:
    """Serves `files[path] = bytes`; `hub[path] = bytes` like the hub: a 302 carrying X-Linked-Etag first."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hub: dict[str, bytes] = {}
        self.report_sha256 = True
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                server.requests.append(self.path)
                if self.path in server.hub:
                    self.send_response(302)
                    self.send_header("Location", "/cdn" + self.path)
                    if server.report_sha256:
                        self.send_header("X-Linked-Etag", f'"{hashlib.sha256(server.hub[self.path]).hexdigest()}"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server.files.get(self.path) or server.hub.get(self.path.removeprefix("/cdn"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    """A fresh local file server per test."""
    server = FileServer()
    yield server
    server.close()
