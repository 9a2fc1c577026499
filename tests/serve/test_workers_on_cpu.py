"""`xrouter serve --workers 2`: two processes on one socket share the ledger and the response cache correctly."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

import xrouter
from tests.serve.conftest import TOOL
from tests.servers import wait_until_healthy
from xrouter.llm.cache import ResponseCache
from xrouter.llm.ledger import read_ledger
from xrouter.llm.replay import ROUTERBENCH_CATALOG
from xrouter.serve.scripted_router import call_then_select

REQUESTS = 200
DISTINCT = 40  # queries asked five times each: the repeats are answered from the shared cache


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _send_all(url: str, queries: list[str], concurrency: int = 16) -> list[int]:
    todo = list(queries)
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=60) as client:

        async def worker() -> None:
            while todo:
                body = {"model": "router", "messages": [{"role": "user", "content": todo.pop()}]}
                statuses.append((await client.post(f"{url}/v1/chat/completions", json=body)).status_code)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def _worker_pids(url: str, tries: int = 60) -> set[int]:
    pids = set()
    for _ in range(tries):  # a new connection each time, so either worker may accept it
        pids.add(httpx.get(f"{url}/health", headers={"Connection": "close"}).json()["worker_pid"])
        if len(pids) == 2:
            break
    return pids


def test_two_workers_write_one_ledger_and_one_cache(scripts, router_url, replay_url, queries, tmp_path):
    """200 requests: exactly 200 request rows (and 200 call rows), both workers served, the cache is sound."""
    asked = queries[:DISTINCT]
    for query in asked:
        scripts.by_query[query] = call_then_select(TOOL["gpt-3.5-turbo-1106"])
    ledger, cache = tmp_path / "ledger.jsonl", tmp_path / "cache.sqlite"
    port = _free_port()
    catalog = Path(xrouter.__file__).parent / "resources" / ROUTERBENCH_CATALOG
    command = [sys.executable, "-m", "xrouter.cli.main", "serve", "--workers", "2", "--port", str(port)]
    command += ["--router-api-base", router_url, "--router-model", "r", "--catalog", str(catalog)]
    command += ["--target-api-base", replay_url, "--models", "gpt-3.5-turbo-1106,mistralai/mistral-7b-chat"]
    command += ["--ledger", str(ledger), "--cache", str(cache)]
    process = subprocess.Popen(command, env=dict(os.environ), stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, timeout_s=120)
        assert len(_worker_pids(url)) == 2
        statuses = asyncio.run(_send_all(url, [asked[i % DISTINCT] for i in range(REQUESTS)]))
        assert statuses == [200] * REQUESTS
    finally:
        process.terminate()
        process.wait(timeout=30)
    rows = list(read_ledger(ledger))
    requests = [r for r in rows if r.get("kind") == "request"]
    calls = [r for r in rows if "kind" not in r]
    assert len(requests) == REQUESTS and len({r["request_id"] for r in requests}) == REQUESTS
    assert len(calls) == REQUESTS and {c["request_id"] for c in calls} == {r["request_id"] for r in requests}
    assert sum(c["cache_hit"] for c in calls) >= REQUESTS - 2 * DISTINCT  # at most one miss per query and worker
    with sqlite3.connect(cache) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with ResponseCache(cache, "read") as readable:
        assert len(readable) == DISTINCT
