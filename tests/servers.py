"""Test helper: wait until a server process started by a test answers its health check."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest


def wait_until_healthy(url: str, process: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Poll `url`/health until it answers 200; fail the test with the server's stderr if it dies or times out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"the server did not start: {stderr[-2000:]}")
        time.sleep(0.2)
