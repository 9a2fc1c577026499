"""Record mode and the ledger: live calls become a replayable outcome table; crashes lose at most a line."""

from __future__ import annotations

import json

import pytest

from tests.llm.conftest import FAST_RETRY
from xrouter.catalog import Usage, load_catalog
from xrouter.data.outcomes import load_outcomes
from xrouter.errors import DataError
from xrouter.llm.client import LLMClient
from xrouter.llm.ledger import Ledger, read_ledger
from xrouter.llm.record import Recorder, query_id_for_text
from xrouter.llm.replay import ReplayCaller, ReplayStore
from xrouter.llm.types import CallResult


async def test_recorded_live_calls_replay_identically(scripted, tmp_path):
    """Calls recorded through the client into parquet replay with the same text and cost."""
    url, script = scripted
    catalog = load_catalog(use_env=False)
    recorder = Recorder(LLMClient(catalog, api_base=url, retry=FAST_RETRY), tmp_path / "out.parquet", dataset="demo")
    live = {}
    for question in ("what is 3+3?", "name a colour"):
        for model in ("gpt-4o", "gpt-5-mini"):
            messages = [{"role": "system", "content": "short"}, {"role": "user", "content": question}]
            live[(question, model)] = await recorder.call(model, messages, max_tokens=20)
    script.reset("500", "500", "500")
    failed = await recorder.call("gpt-4o", [{"role": "user", "content": "fails"}])
    assert not failed.success
    assert recorder.close() == tmp_path / "out.parquet" and not recorder.journal.exists()
    table = load_outcomes(tmp_path / "out.parquet")
    assert len(table.frame) == 4 and set(table.models) == {"gpt-4o", "gpt-5-mini"}
    assert table.frame["score"].isna().all() and set(table.frame["dataset"]) == {"demo"}
    caller = ReplayCaller(ReplayStore(table, catalog), catalog)
    for (question, model), original in live.items():
        replayed = await caller.call(model, [{"role": "user", "content": question}])
        assert replayed.text == original.text and replayed.cost_usd == pytest.approx(original.cost_usd, abs=1e-15)
        assert replayed.usage == Usage(original.usage.input_tokens, original.usage.output_tokens, 400)


def test_first_answer_per_query_and_model_wins_across_sessions(tmp_path):
    """Re-recording the same (query, model) keeps the first answer, also after reopening."""
    messages = [{"role": "user", "content": "hello"}]
    path = tmp_path / "o.jsonl"
    with Recorder(caller=None, path=path) as recorder:  # type: ignore[arg-type]
        assert recorder.record(CallResult("m", "first", True, cost_usd=0.1), messages)
        assert not recorder.record(CallResult("m", "second", True, cost_usd=0.2), messages)
    with Recorder(caller=None, path=path) as recorder:  # type: ignore[arg-type]
        assert not recorder.record(CallResult("m", "third", True, cost_usd=0.3), messages)
        assert recorder.record(CallResult("m", "other", True, cost_usd=0.3), messages, query_id="q2")
    table = load_outcomes(path)
    assert sorted(table.frame["response"]) == ["first", "other"]
    assert query_id_for_text("hello") in set(table.frame["query_id"])


def test_record_output_must_be_parquet_or_jsonl(tmp_path):
    """Any other suffix is a DataError naming the file."""
    with pytest.raises(DataError, match="out.csv"):
        Recorder(caller=None, path=tmp_path / "out.csv")  # type: ignore[arg-type]


def test_ledger_skips_a_torn_last_line_only(tmp_path):
    """A crash mid-write leaves a partial last line that readers skip; earlier lines are intact."""
    path = tmp_path / "ledger.jsonl"
    with Ledger(path) as ledger:
        for i in range(3):
            ledger.append(CallResult("m", "x", True, cost_usd=0.01 * i, request_id=f"r{i}"), query_id="q")
    with path.open("a") as handle:
        handle.write('{"request_id": "r3", "cost')
    records = list(read_ledger(path))
    assert [r["request_id"] for r in records] == ["r0", "r1", "r2"]
    assert records[2]["cost_usd"] == pytest.approx(0.02) and records[0]["query_id"] == "q"
    assert "text" not in records[0] and json.loads(path.read_text().splitlines()[0])["model_id"] == "m"


def test_ledger_corruption_before_the_end_is_an_error(tmp_path):
    """A broken line in the middle is not a crash artefact: DataError with the line number."""
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(DataError, match="line 2"):
        list(read_ledger(path))


def test_cli_record_from_replay_server_then_replay_gives_the_same_answers(replay_server, mbpp_table, tmp_path):
    """`xrouter record` over HTTP writes a table whose answers and costs match the source recording."""
    from xrouter.cli.main import main

    data = mbpp_table.sources[0]
    catalog_file = tmp_path / "replay.yaml"
    api_base = f"{replay_server.url}/v1"
    assert main(["replay", "catalog", "--data", data, "--out", str(catalog_file), "--api-base", api_base]) == 0
    out = tmp_path / "live.parquet"
    args = ["record", "--queries", data, "--limit", "3", "--models", "claude-v2,mistralai/mistral-7b-chat"]
    assert main([*args, "--out", str(out), "--catalog", str(catalog_file), "--ledger", str(tmp_path / "l.jsonl")]) == 0
    recorded = load_outcomes(out).frame.set_index(["query_id", "model"])
    assert len(recorded) == 6 and len(list(read_ledger(tmp_path / "l.jsonl"))) == 6
    source = mbpp_table.frame.set_index(["query_id", "model"]).loc[recorded.index]
    assert (recorded["response"] == source["response"]).all()
    assert (recorded["cost_usd"] - source["cost_usd"]).abs().max() < 1e-12
    assert main([*args, "--out", str(out), "--catalog", str(catalog_file)]) == 2  # exists: needs --resume
    assert main([*args, "--out", str(out), "--catalog", str(catalog_file), "--resume"]) == 0  # nothing new
    assert len(load_outcomes(out).frame) == 6
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    fresh = str(tmp_path / "fresh.parquet")
    assert main(["record", "--queries", str(empty), "--models", "claude-v2", "--out", fresh]) == 2
    assert main([*args[:-4], "--limit", "0", "--models", "claude-v2", "--out", fresh]) == 2


def test_killed_concurrent_ledger_writers_leave_only_whole_lines(tmp_path):
    """3 processes append to one ledger and are SIGKILLed mid-stream: every line but a torn last one is whole."""
    import multiprocessing as mp
    import os
    import signal
    import time

    from tests.llm.workers import append_ledger_forever

    path = tmp_path / "ledger.jsonl"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=append_ledger_forever, args=(str(path), w)) for w in range(3)]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + 60
    busy = [tmp_path / f"ledger.jsonl.{w}.busy" for w in range(3)]
    while time.monotonic() < deadline and not all(marker.exists() for marker in busy):
        time.sleep(0.02)  # kill only once every writer is appending, so the kill lands mid-stream for all
    for proc in procs:
        os.kill(proc.pid, signal.SIGKILL)
    for proc in procs:
        proc.join()
    records = list(read_ledger(path))  # raises DataError on any torn or interleaved line before the last
    writers = {r["request_id"].split("-")[0] for r in records}
    assert len(records) > 500 and writers == {"0", "1", "2"}
    assert all(len(r["note"]) == 1000 + 37 * int(r["request_id"].split("-")[0]) for r in records)
    for worker in writers:  # each writer's lines are in order with no gap: nothing lost but the line in flight
        numbers = [int(r["request_id"].split("-")[1]) for r in records if r["request_id"].startswith(f"{worker}-")]
        assert numbers == list(range(len(numbers)))
