"""Response cache: keys, hits, modes, concurrent writers, crashes and corruption."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import time

import pytest

from tests.llm.conftest import FAST_RETRY
from tests.llm.workers import result as _result
from tests.llm.workers import write_cache_entries, write_cache_forever
from xrouter.catalog import Usage, load_catalog
from xrouter.errors import DataError, UsageError
from xrouter.llm.cache import ResponseCache, cache_key
from xrouter.llm.client import LLMClient
from xrouter.llm.types import CallError, CallResult

MESSAGES = [{"role": "user", "content": "name a prime"}]


def test_key_is_canonical_and_sensitive_to_every_field():
    """Dict order does not change the key; model, messages and params do."""
    fields = {"model": "gpt-4o", "messages": MESSAGES, "params": {"temperature": 0.5, "max_tokens": 10}}
    reordered = {"params": {"max_tokens": 10, "temperature": 0.5}, "messages": MESSAGES, "model": "gpt-4o"}
    assert cache_key(fields) == cache_key(reordered)
    assert len(cache_key(fields)) == 64
    for change in ({"model": "gpt-5"}, {"messages": [{"role": "user", "content": "x"}]}, {"params": {}}):
        assert cache_key({**fields, **change}) != cache_key(fields)


def test_hit_reports_recorded_cost_and_zero_spend(tmp_path):
    """A stored success comes back as a hit with the recorded cost and no money spent."""
    cache = ResponseCache(tmp_path / "c.db")
    assert cache.get("k") is None
    assert cache.put("k", _result())
    hit = cache.get("k")
    assert hit.cache_hit and hit.text == "7" and hit.cost_usd == 0.002 and hit.spent_usd == 0.0
    assert hit.usage == Usage(10, 5)


def test_failures_are_never_stored(tmp_path):
    """Only successful results enter the cache."""
    cache = ResponseCache(tmp_path / "c.db")
    failed = CallResult("gpt-4o", "", False, error=CallError("server", "boom", 500))
    assert not cache.put("k", failed) and cache.get("k") is None and len(cache) == 0


def test_modes_control_reads_and_writes(tmp_path):
    """read never writes, write never serves, off does nothing, bad mode is a usage error."""
    path = tmp_path / "c.db"
    ResponseCache(path, "write").put("k", _result())
    assert ResponseCache(path, "write").get("k") is None
    assert ResponseCache(path, "read").get("k").text == "7"
    assert not ResponseCache(path, "read").put("k2", _result())
    assert ResponseCache(path, "off").get("k") is None
    with pytest.raises(UsageError, match="cache mode"):
        ResponseCache(path, "sometimes")  # type: ignore[arg-type]


def test_corrupt_database_is_a_clear_error(tmp_path):
    """A file that is not SQLite raises DataError naming the file at open."""
    path = tmp_path / "c.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DataError, match="c.db.*delete it"):
        ResponseCache(path)


def test_unreadable_entry_falls_back_to_a_miss(tmp_path):
    """A damaged row is a miss (the caller then calls the provider), never a wrong answer."""
    cache = ResponseCache(tmp_path / "c.db")
    cache.put("k", _result())
    sqlite3.connect(tmp_path / "c.db").execute("UPDATE responses SET result = '{broken'").connection.commit()
    assert cache.get("k") is None


def test_eight_processes_writing_concurrently_lose_nothing(tmp_path):
    """8 processes x 40 writes: every entry is readable afterwards."""
    path = str(tmp_path / "c.db")
    ResponseCache(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=write_cache_entries, args=(path, w, 40)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    cache = ResponseCache(path, "read")
    assert len(cache) == 320
    assert all(cache.get(f"{w}-{i}").text == f"{w}-{i}" for w in range(8) for i in range(40))


def test_killed_writer_leaves_a_readable_database(tmp_path):
    """SIGKILL in the middle of writes: the database opens and serves what was committed."""
    path = str(tmp_path / "c.db")
    ResponseCache(path).put("before", _result())
    proc = mp.get_context("spawn").Process(target=write_cache_forever, args=(path,))
    proc.start()
    deadline_rows = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the writer has committed some rows
        deadline_rows = len(ResponseCache(path, "read"))
        if deadline_rows > 20:
            break
        proc.join(timeout=0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    cache = ResponseCache(path)
    assert cache.get("before").text == "7" and len(cache) >= deadline_rows > 20
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_client_serves_second_identical_call_from_cache(scripted, tmp_path):
    """The second identical call is a cache hit: same text and cost, no HTTP request, nothing spent."""
    url, script = scripted
    client = LLMClient(load_catalog(use_env=False), api_base=url, retry=FAST_RETRY, cache=ResponseCache(tmp_path / "c"))
    first = await client.call("gpt-4o", MESSAGES, temperature=0.0, max_tokens=50)
    second = await client.call("gpt-4o", MESSAGES, temperature=0.0, max_tokens=50)
    other = await client.call("gpt-4o", MESSAGES, temperature=0.0, max_tokens=51)
    assert first.success and other.success and len(script.requests) == 2
    assert not first.cache_hit and second.cache_hit and not other.cache_hit
    assert second.text == first.text and second.cost_usd == first.cost_usd and second.spent_usd == 0.0


def test_key_separates_endpoints_and_follows_catalog_constraints():
    """Replay/local endpoints never share entries with the provider; constrained params collapse."""
    from xrouter.llm.params import cache_fields, sampling_params

    spec = load_catalog(use_env=False).get("gpt-5")
    low, high = (sampling_params(spec, temperature=t, max_tokens=100) for t in (0.2, 0.7))
    assert low == high == {"temperature": 1.0, "max_completion_tokens": 100}
    live = cache_key(cache_fields(spec, MESSAGES, low))
    assert live == cache_key(cache_fields(spec, MESSAGES, high))
    assert live != cache_key(cache_fields(spec, MESSAGES, low, "http://127.0.0.1:8100/v1"))


def test_key_format_is_stable():
    """The key is SHA-256 of documented canonical JSON: a change here silently invalidates every cache."""
    from xrouter.llm.cache import canonical_json

    fields = {
        "model": "openai/gpt-4o",
        "api_base": None,
        "messages": [{"role": "user", "content": "héllo"}],
        "params": {"temperature": 0.5, "max_tokens": 10},
    }
    expected = '{"api_base":null,"messages":[{"content":"héllo","role":"user"}],"model":"openai/gpt-4o",'
    assert canonical_json(fields) == expected + '"params":{"max_tokens":10,"temperature":0.5}}'
    assert cache_key(fields) == "1d702f5508e7b1d984efe06ec83bad6e3eea0101b550798c65548aa3f3a32b75"


async def test_locked_database_falls_back_to_live_calls_without_stalling_the_loop(scripted, catalog, tmp_path):
    """Another connection holds the write lock: hits still served, misses answered live, the event loop keeps running."""
    import asyncio

    url, script = scripted
    path = tmp_path / "c.db"
    cache = ResponseCache(path, busy_timeout_s=0.6, lock_cooldown_s=60)
    client = LLMClient(catalog, api_base=url, retry=FAST_RETRY, cache=cache)
    stored = await client.call("gpt-4o", MESSAGES)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("INSERT INTO responses VALUES ('other', 'm', 0, '{}')")
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(time.monotonic() - last)
            last = time.monotonic()

    ticking = asyncio.ensure_future(ticker())
    try:
        hit = await client.call("gpt-4o", MESSAGES)
        started = time.monotonic()
        live = await client.call("gpt-4o", [{"role": "user", "content": "another question"}])
        first_store_s = time.monotonic() - started
        started = time.monotonic()
        paused = await client.call("gpt-4o", [{"role": "user", "content": "a third question"}])
        paused_store_s = time.monotonic() - started
    finally:
        ticking.cancel()
        locker.execute("ROLLBACK")
    assert stored.success and hit.cache_hit and hit.text == stored.text
    assert live.success and not live.cache_hit and paused.success and len(script.requests) == 3
    assert first_store_s >= 0.6 and paused_store_s < 0.5  # one wait for the lock, then stores pause
    assert max(gaps) < 0.3  # the 0.6 s wait happened off the event loop
    assert len(ResponseCache(path, "read")) == 1  # nothing half-written while locked
