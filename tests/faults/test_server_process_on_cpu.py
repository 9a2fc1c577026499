"""`xrouter serve` as a real process: LiteLLM warmed at start-up and offline by default, keys kept off argv and logs.

An audit hook in the server process records (and blocks) every name lookup or connection to a non-loopback
address, so "never resolves or connects to a remote host" is checked, not assumed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import BOUND_S, SECRET

_AUDITED = r"""
import ipaddress, json, sys

_log = open(sys.argv[1], "a", encoding="utf-8")

def _loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"

def _hook(event, args):
    if event == "socket.getaddrinfo" and args[0] is not None:
        host = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    elif event == "socket.connect" and isinstance(args[1], tuple):
        host = str(args[1][0])
    else:
        return
    if not _loopback(host):
        _log.write(json.dumps([event, host]) + "\n")
        _log.flush()
        raise OSError(f"blocked by the test: {event} {host}")

sys.addaudithook(_hook)
from xrouter.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(args: list[str], cwd: Path, env: dict[str, str], audit_log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    command = [sys.executable, "-c", _AUDITED, str(audit_log), *args, "--port", str(port), "--host", "127.0.0.1"]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"xrouter serve exited {process.returncode}: {process.stderr.read()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("xrouter serve did not come up")


def _stop(process: subprocess.Popen) -> str:
    """Stop the server; its output (logs go to stdout, errors to stderr)."""
    process.terminate()
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return out + err


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM_") and k != "FAULT_API_KEY"}
    return {**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "1000", **extra}  # wide logs: no wrapped lines


def test_litellm_is_warmed_at_start_and_nothing_remote_is_contacted(fault_catalog, tmp_path):
    """A LiteLLM router and target: /health stays responsive during the first request; no remote lookups at all."""
    audit = tmp_path / "remote.jsonl"
    args = [
        "serve",
        "--policy",
        "litellm:fault-lite",
        "--models",
        "fault-a,fault-lite",
        "--catalog",
        str(fault_catalog),
    ]
    process, url = _start([*args, "--no-ledger"], tmp_path, _environment(FAULT_API_KEY=SECRET), audit)
    gaps: list[float] = []
    done = threading.Event()

    def poll_health() -> None:
        while not done.is_set():
            started = time.monotonic()
            httpx.get(f"{url}/health", timeout=BOUND_S)
            gaps.append(time.monotonic() - started)
            time.sleep(0.02)

    poller = threading.Thread(target=poll_health)
    poller.start()
    try:
        body = {"model": "router", "messages": [{"role": "user", "content": "2+2? [[r1=call:fault-lite]]"}]}
        response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=BOUND_S * 3)
    finally:
        done.set()
        poller.join()
        err = _stop(process)
    assert response.status_code == 200, response.text + err[-2000:]
    meta = response.json()["router_metadata"]
    assert meta["routing_strategy"] == "select_response" and meta["model_used"] == "fault-lite"
    print(f"longest /health answer during the first LiteLLM request: {max(gaps):.3f}s")
    assert max(gaps) < 1.5, f"the event loop was blocked for {max(gaps):.1f}s during the first LiteLLM call"
    remote = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
    assert remote == [], f"the server tried to reach remote hosts: {remote[:5]}"


def test_key_file_and_dotenv_keep_keys_off_the_command_line_and_out_of_the_logs(fault_catalog, tmp_path):
    """--api-key-file guards the API; the provider key comes from ./.env; neither shows in argv or in INFO logs."""
    server_key = "xr-file-key-5566778899"
    (tmp_path / "key.txt").write_text(server_key + "\n")
    (tmp_path / ".env").write_text(f"FAULT_API_KEY={SECRET}\n")
    args = ["--log-level", "INFO", "serve", "--models", "fault-a", "--catalog", str(fault_catalog)]
    args += ["--router-api-base", _upstream_base(fault_catalog), "--router-model", "fault-router"]
    args += ["--api-key-file", "key.txt", "--ledger", "ledger.jsonl"]
    process, url = _start(args, tmp_path, _environment(), tmp_path / "remote.jsonl")
    try:
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode(errors="replace")
        body = {"model": "router", "messages": [{"role": "user", "content": "x [[r1=call:fault-a target=echo:400]]"}]}
        denied = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=BOUND_S)
        answer = httpx.post(
            f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {server_key}"}, timeout=BOUND_S
        )
    finally:
        err = _stop(process)
    assert denied.status_code == 401 and answer.status_code == 200, answer.text
    call = answer.json()["router_metadata"]["call_history"][0]
    assert call["error_kind"] == "bad_request" and "REDACTED" in call["error"]  # the key from .env was sent
    assert server_key not in cmdline and SECRET not in cmdline
    assert "attempt 1 failed" in err, err[-2000:]  # INFO logs were written ...
    for text in (err, answer.text, (tmp_path / "ledger.jsonl").read_text()):
        assert "provider-secret" not in text and server_key not in text  # ... without any key


def _upstream_base(catalog: Path) -> str:
    for line in catalog.read_text().splitlines():
        if "api_base: '" in line:
            return line.split("api_base: '", 1)[1].split("'", 1)[0]
    pytest.fail("no api_base in the fault catalog")
