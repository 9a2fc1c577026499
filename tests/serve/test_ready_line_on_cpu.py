"""`xrouter serve` says where it listens once it is ready, and takes its pool from the replay data by default."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx

from tests.conftest import REPO_ROOT

SAMPLE = REPO_ROOT / "xrouter" / "resources" / "llmrouter_sample.csv"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_prints_url_and_policy_when_ready_with_the_data_models_as_pool():
    """The first stdout line names the policy, the pool size and the URL, and the server answers there."""
    port = _free_port()
    command = [sys.executable, "-m", "xrouter.cli.main", "serve", "--policy", "litellm:gpt-5-nano",
               "--replay-data", str(SAMPLE), "--port", str(port), "--no-ledger"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
    try:
        line = process.stdout.readline()
        assert f"on http://127.0.0.1:{port}/v1" in line, process.stderr.read() if process.poll() is not None else line
        assert "'gpt-5-nano'" in line and "over 9 target models" in line
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=30).json()["data"]
        assert {"codegemma-7b", "gemma-2-9b-it"} <= {m["id"] for m in models}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_without_pool_or_replay_data_names_the_flags(capsys):
    """No --models, --fixed-set or --replay-data: one line saying how to name the targets, exit 2."""
    from xrouter.cli.main import main

    assert main(["serve", "--policy", "litellm:gpt-5-nano", "--no-ledger"]) == 2
    assert "--models A,B,C or --fixed-set N" in capsys.readouterr().err
