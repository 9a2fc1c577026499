"""`xrouter serve`: flag errors exit 2, and the real command serves replayed targets in simple mode."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import TOOL
from tests.servers import wait_until_healthy
from xrouter.cli.main import main
from xrouter.serve.scripted_router import call_then_select


def test_help_explains_every_flag(capsys):
    """`xrouter serve --help` exits 0 and every flag of the parser has a help text that is printed."""
    import argparse

    from xrouter.cli import serve

    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, action.option_strings
        assert action.option_strings[0] in out


def test_unknown_model_exits_2_naming_it(capsys, shared_data, router_url):
    """A --models entry missing from the replay data fails before serving, with exit code 2."""
    code = main(
        [
            "serve",
            "--router-api-base",
            router_url,
            "--no-ledger",
            "--replay-data",
            str(shared_data / "routerbench_slices" / "arc_challenge_train.csv"),
            "--models",
            "gpt-9",
        ]
    )
    assert code == 2 and "gpt-9" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--max-turns", "0"], "--max-turns must be at least 1"),
        (["--max-cost-usd", "-1"], "--max-cost-usd must be >= 0"),
        (["--router-api-base", "localhost:8001"], "--router-api-base 'localhost:8001' is not an http(s) URL"),
        (["--port", "99999"], "not a port number"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(capsys, flags, fragment):
    """Bad limits, URLs and ports are usage errors whose one line names the flag."""
    base = ["serve", "--models", "gpt-5-mini", "--router-api-base", "http://127.0.0.1:9/v1", "--no-ledger"]
    assert main([*base, *flags]) == 2
    assert fragment in capsys.readouterr().err


def test_no_router_exits_2_saying_how_to_give_one(capsys):
    """Without --router-api-base or a litellm policy the command says how to name a router."""
    assert main(["serve", "--models", "gpt-5-mini", "--no-ledger"]) == 2
    err = capsys.readouterr().err
    assert "--router-api-base" in err and "--policy litellm:" in err


def test_busy_port_exits_2_before_loading(capsys, router_url):
    """A port that is already taken is reported in one line with exit code 2."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        code = main(
            ["serve", "--models", "gpt-5-mini", "--router-api-base", router_url, "--no-ledger", "--port", str(port)]
        )
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_litellm_router_is_priced_from_its_catalog_entry_without_warning(caplog):
    """--policy litellm:gpt-5-nano takes gpt-5-nano's catalog price; no 'has no price' warning."""
    import logging

    from xrouter.serve.state import ServeSettings, build_components

    settings = ServeSettings(models=("gpt-5-mini",), policy="litellm:gpt-5-nano", ledger_path=None)
    with caplog.at_level(logging.WARNING):
        components = build_components(settings)
    assert components.engine.policy.name == "gpt-5-nano"
    assert not [r for r in caplog.records if "no price" in r.getMessage()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_command_with_in_process_replay_in_simple_mode(
    shared_data, scripts, router_url, queries, recorded, tmp_path
):
    """The real `xrouter serve` process: simple mode delegates to one replayed model and returns its answer."""
    query = queries[7]
    scripts.by_query[query] = call_then_select(TOOL["gpt-3.5-turbo-1106"])
    port = _free_port()
    env = {**os.environ, "XROUTER_API_KEY": "from-env"}
    command = [
        sys.executable,
        "-m",
        "xrouter.cli.main",
        "serve",
        "--router-api-base",
        router_url,
        "--router-model",
        "r",
        "--replay-data",
        str(shared_data / "routerbench_slices" / "arc_challenge_train.csv"),
        "--mode",
        "simple",
        "--models",
        "gpt-3.5-turbo-1106,mistralai/mistral-7b-chat",
        "--port",
        str(port),
        "--ledger",
        str(tmp_path / "ledger.jsonl"),
    ]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, cwd=Path(__file__).parent)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, timeout_s=60)
        body = {"model": "router", "messages": [{"role": "user", "content": query}]}
        response = httpx.post(f"{url}/v1/chat/completions", json=body, headers={"Authorization": "Bearer from-env"})
        assert response.status_code == 200, response.text
        meta = response.json()["router_metadata"]
        assert meta["routing_strategy"] == "delegate_to_model" and meta["turns_used"] == 1
        assert response.json()["choices"][0]["message"]["content"] == recorded[(query, "gpt-3.5-turbo-1106")][0]
        assert meta["cache_hits"] == 0 and meta["call_history"][0]["spent_usd"] == 0.0
        # priced from the replay catalog: the recorded cost of that answer
        assert meta["target_models_cost"] == pytest.approx(recorded[(query, "gpt-3.5-turbo-1106")][1], abs=1e-9)
        assert (tmp_path / "ledger.jsonl").read_text().count('"kind": "request"') == 1
    finally:
        process.terminate()
        process.wait(timeout=20)


def _run_client(script: str, *args: str) -> subprocess.CompletedProcess:
    repo = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, str(repo / script), *args], capture_output=True, text=True, timeout=120, cwd=repo
    )


def test_evaluation_client_runs_every_category(server_url):
    """evaluation/test_serve.py sends all seven categories and reports them all as succeeded."""
    from tests.serve.conftest import API_KEY

    result = _run_client("evaluation/test_serve.py", "--url", f"{server_url}/v1", "--api-key", API_KEY)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "7/7 succeeded" in result.stdout and "system_prompt" in result.stdout


def test_example_client_streams_and_prints_metadata(server_url, scripts):
    """examples/openai_client.py streams the answer and prints the routing summary."""
    from tests.serve.conftest import API_KEY

    scripts.by_query["Capital of Australia?"] = [{"content": "Canberra."}]
    result = _run_client(
        "examples/openai_client.py",
        "--url",
        f"{server_url}/v1",
        "--api-key",
        API_KEY,
        "--stream",
        "Capital of Australia?",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert result.stdout.startswith("Canberra.") and '"routing_strategy": "direct_response"' in result.stdout
