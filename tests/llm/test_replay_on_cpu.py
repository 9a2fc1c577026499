"""Replay store, in-process caller, HTTP server and `xrouter replay` CLI."""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest
import yaml

from xrouter.catalog import load_catalog
from xrouter.cli.main import main
from xrouter.data.outcomes import load_outcomes
from xrouter.llm.replay import ReplayCaller, ReplayNotFound, ReplayStore, estimate_tokens, replay_catalog
from xrouter.llm.replay.server import stream_pieces


def _row(table, model: str, index: int = 0):
    frame = table.frame
    return frame[(frame.model == model) & frame.cost_usd.notna()].iloc[index]


def test_store_matches_by_normalised_text_by_id_and_with_provider_prefix(replay_store, mbpp_table):
    """Whitespace changes, an explicit id and openai/ or hosted_vllm/ prefixes all find the recording."""
    row = _row(mbpp_table, "mistralai/mixtral-8x7b-chat", 4)
    spaced = "  " + row.query_text.replace(" ", "   \n ") + "\n"
    for model in (row.model, f"openai/{row.model}", f"hosted_vllm/{row.model}"):
        record = replay_store.lookup(model, [{"role": "system", "content": "s"}, {"role": "user", "content": spaced}])
        assert record.text == row.response and record.query_id == row.query_id
    by_id = replay_store.lookup(row.model, [], query_id=row.query_id)
    assert by_id.cost_usd == row.cost_usd


def test_store_names_what_is_missing(replay_store, mbpp_table):
    """Unknown model and unknown query raise ReplayNotFound saying which."""
    row = _row(mbpp_table, "claude-v1")
    with pytest.raises(ReplayNotFound, match="model 'gpt-99'") as exc:
        replay_store.lookup("gpt-99", [{"role": "user", "content": row.query_text}])
    assert exc.value.what == "model"
    with pytest.raises(ReplayNotFound, match="query id 'nope'") as exc:
        replay_store.lookup("claude-v1", [], query_id="nope")
    assert exc.value.what == "query"


def test_replay_catalog_prices_the_eleven_routerbench_models(mbpp_table):
    """All 11 models come from the shipped YAML with openai/<name> and provider replay."""
    catalog = replay_catalog(mbpp_table)
    assert len(catalog) == 11 and set(catalog.ids()) == set(mbpp_table.models)
    spec = catalog.get("gpt-4-1106-preview")
    assert spec.litellm_model == "openai/gpt-4-1106-preview" and spec.provider == "replay" and spec.has_price


def test_usage_is_counted_from_the_recorded_texts_and_the_cost_is_the_recorded_one(replay_store, mbpp_table):
    """Without recorded token counts, tokens are counted from query and answer (characters / 4); cost is exact."""
    for model in mbpp_table.models:
        row = _row(mbpp_table, model, 11)
        record = replay_store.lookup(model, [], query_id=row.query_id)
        assert record.usage.input_tokens == estimate_tokens(row.query_text)
        assert record.usage.output_tokens == estimate_tokens(row.response) >= 1
        assert record.cost_usd == row.cost_usd


async def test_in_process_caller_matches_recording(replay_store, mbpp_table):
    """ReplayCaller returns the recorded text and exact cost with nothing spent; misses are failures."""
    caller = ReplayCaller(replay_store)
    row = _row(mbpp_table, "gpt-3.5-turbo-1106", 2)
    result = await caller.call(row.model, [{"role": "user", "content": row.query_text}], request_id="r")
    assert result.success and result.text == row.response and result.cost_usd == row.cost_usd
    assert result.spent_usd == 0.0 and result.provider == "replay" and result.request_id == "r"
    miss = await caller.call(row.model, [{"role": "user", "content": "???"}])
    assert not miss.success and miss.error.kind == "not_found"
    broken = await caller.call(row.model, None)  # type: ignore[arg-type]
    assert not broken.success and broken.error.kind == "bad_request"


def test_unknown_model_in_a_user_table_gets_a_derived_catalog_entry(tmp_path):
    """A model outside RouterBench is priced from its recorded cost and tokens."""
    frame = pd.DataFrame(
        {
            "query_id": ["q1", "q2"],
            "query_text": ["what is 1+1?", "what is 2+2?"],
            "model": ["my-local-model", "my-local-model"],
            "response": ["2", "4"],
            "cost_usd": [0.001, 0.003],
            "score": [1.0, 1.0],
            "input_tokens": [100, 300],
            "output_tokens": [900, 2700],
        }
    )
    frame.to_parquet(tmp_path / "mine.parquet")
    store = ReplayStore(load_outcomes(tmp_path / "mine.parquet"))
    spec = store.catalog.get("my-local-model")
    assert spec.litellm_model == "openai/my-local-model" and spec.input_usd_per_mtok == pytest.approx(1.0)
    record = store.lookup("openai/my-local-model", [{"role": "user", "content": "what is 2+2?"}])
    assert record.usage.input_tokens == 300 and record.usage.output_tokens == 2700 and record.text == "4"


def test_server_lists_models_and_health(replay_server, mbpp_table):
    """/v1/models lists every model in the data; /health counts queries."""
    models = httpx.get(f"{replay_server.url}/v1/models").json()
    assert [m["id"] for m in models["data"]] == mbpp_table.models
    health = httpx.get(f"{replay_server.url}/health").json()
    assert health == {"status": "ok", "models": 11, "queries": 299}


def test_server_errors_are_openai_style_404_and_400(replay_server, mbpp_table):
    """Unknown model/query → 404 naming it; a broken body → 400; both with the OpenAI error shape."""
    url = f"{replay_server.url}/v1/chat/completions"
    row = _row(mbpp_table, "claude-v2")
    bad_model = httpx.post(url, json={"model": "gpt-99", "messages": [{"role": "user", "content": row.query_text}]})
    assert bad_model.status_code == 404
    error = bad_model.json()["error"]
    assert "gpt-99" in error["message"] and error["code"] == "model_not_found" and error["param"] == "model"
    bad_query = httpx.post(url, json={"model": "claude-v2", "messages": [{"role": "user", "content": "unseen"}]})
    assert bad_query.status_code == 404 and bad_query.json()["error"]["code"] == "query_not_found"
    broken = httpx.post(url, content=b"{oops", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and set(broken.json()["error"]) == {"message", "type", "param", "code"}


def test_server_answers_with_usage_cost_and_query_id_header(replay_server, mbpp_table):
    """A hit carries the recorded cost in usage.cost; the query id can come from the header."""
    row = _row(mbpp_table, "zero-one-ai/Yi-34B-Chat", 5)
    response = httpx.post(
        f"{replay_server.url}/v1/chat/completions",
        json={"model": f"openai/{row.model}", "messages": [{"role": "user", "content": "x"}]},
        headers={"x-xrouter-query-id": row.query_id},
    )
    body = response.json()
    assert response.status_code == 200 and body["usage"]["cost"] == row.cost_usd
    assert body["choices"][0]["message"]["content"] == row.response
    assert response.headers["x-xrouter-query-id"] == row.query_id


def test_server_streams_when_asked(replay_server, mbpp_table):
    """stream=true returns word-piece SSE chunks that join to the full text, usage last, then [DONE]."""
    row = _row(mbpp_table, "claude-v1", 1)
    with httpx.stream(
        "POST",
        f"{replay_server.url}/v1/chat/completions",
        json={"model": row.model, "stream": True, "metadata": {"query_id": row.query_id}, "messages": []},
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == row.response and len(chunks) == len(stream_pieces(row.response)) + 2  # role chunk, usage chunk
    assert chunks[-1]["usage"]["cost"] == row.cost_usd and chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_cli_replay_catalog_writes_a_loadable_catalog(tmp_path, shared_data):
    """`xrouter replay catalog` writes YAML that load_catalog accepts, with the requested api_base."""
    out = tmp_path / "replay.yaml"
    data = str(shared_data / "routerbench_slices" / "mbpp_train.csv")
    code = main(["replay", "catalog", "--data", data, "--out", str(out), "--api-base", "http://127.0.0.1:9/v1"])
    assert code == 0
    catalog = load_catalog(out, use_env=False, base=None)
    assert len(catalog) == 11 and catalog.get("claude-v2").api_base == "http://127.0.0.1:9/v1"
    assert yaml.safe_load(out.read_text())["models"][0]["provider"] == "replay"


def test_cli_replay_serve_with_missing_data_exits_2(tmp_path, capsys):
    """A --data path that does not exist is a one-line error and exit code 2."""
    assert main(["replay", "serve", "--data", str(tmp_path / "missing.csv"), "--port", "0"]) == 2
    assert "missing.csv" in capsys.readouterr().err


async def test_in_process_caller_accepts_tool_names_and_reports_catalog_ids(replay_store, mbpp_table):
    """`call_<slug>` resolves through the catalog; the result names the catalog id."""
    row = _row(mbpp_table, "meta/llama-2-70b-chat", 6)
    result = await ReplayCaller(replay_store).call("call_meta_llama_2_70b_chat", [], query_id=row.query_id)
    assert result.success and result.model_id == "meta/llama-2-70b-chat" and result.text == row.response


def test_cli_replay_serve_answers_over_http(shared_data, mbpp_table):
    """`xrouter replay serve --port 0` in its own process prints the port it got, answers there, stops cleanly."""
    import os
    import re
    import subprocess
    import sys

    data = str(shared_data / "routerbench_slices" / "mbpp_train.csv")
    cmd = [sys.executable, "-m", "xrouter.cli.main", "replay", "serve", "--data", data, "--port", "0"]
    proc = subprocess.Popen(cmd, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        banner = proc.stdout.readline().decode()  # printed once the data is loaded and the port is bound
        assert "replaying 3289 recorded answers" in banner, proc.stderr.read().decode() if not banner else banner
        base = re.search(r"(http://127\.0\.0\.1:\d+/v1)", banner).group(1)
        assert not base.endswith(":0/v1")
        row = _row(mbpp_table, "gpt-4-1106-preview", 9)
        body = {"model": row.model, "messages": [{"role": "user", "content": row.query_text}]}
        answer = httpx.post(f"{base}/chat/completions", json=body, timeout=30).json()
        assert answer["choices"][0]["message"]["content"] == row.response
        assert answer["usage"]["cost"] == row.cost_usd
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode in (0, -15) and b"Traceback" not in proc.stderr.read()  # uvicorn re-raises SIGTERM


def test_cli_replay_serve_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    """An unreadable --data file, a busy port and a bad --keep-alive each give one error line and exit 2."""
    import socket

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["replay", "serve", "--data", str(empty), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "empty.csv" in err and "Traceback" not in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["replay", "serve", "--data", str(empty), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "--port" in err
    assert main(["replay", "serve", "--data", str(empty), "--keep-alive", "0"]) == 2
    assert "--keep-alive" in capsys.readouterr().err


def test_replay_serve_socket_is_tcp_so_answers_are_not_delayed():
    """The pre-bound socket says TCP, so asyncio turns Nagle off on accepted connections (else ~40 ms per answer)."""
    import socket

    from xrouter.cli.common import bind_socket

    with bind_socket("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname()[1] > 0
        with socket.create_connection(sock.getsockname(), timeout=5):
            accepted, _ = sock.accept()  # listening already: a client connecting right after the banner waits
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP
