"""Benchmark: LLMClient → replay server vs a raw httpx POST loop to the same server, same run.

    LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_OFFLINE_MODE=true \
        .venv/bin/python scripts/bench_client_replay.py --data data/routerbench_slices/mbpp_train.csv

The replay server runs in its own process (`xrouter replay serve`, loopback). For each concurrency
level the same requests are sent by (1) raw httpx, (2) LLMClient (default transport: direct HTTP
for this OpenAI-compatible endpoint), (3) LLMClient with transport="litellm", (4) the in-process
ReplayCaller (no HTTP), in alternating rounds. Prints median per-call latency, throughput, client-side
CPU time per call (this process only; the server is another process, so this is the client's own
cost and is far less sensitive to other load on the machine than wall time) and the client/raw
ratio; `--json FILE` also writes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from xrouter.data.outcomes import load_outcomes
from xrouter.llm.client import LLMClient, RetryConfig
from xrouter.llm.replay import ReplayCaller, ReplayStore

ERRORS: dict[str, int] = {}
OFFLINE = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true", "HF_HUB_OFFLINE": "1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(data: list[str], port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "xrouter.cli.main", "replay", "serve", "--port", str(port)]
    for path in data:
        cmd += ["--data", path]
    proc = subprocess.Popen(cmd, env={**os.environ, **OFFLINE}, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("replay server did not start")


def _server_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds used so far by the server process (Linux /proc; 0 elsewhere)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVER_PID: int | None = None


async def _run(worker: Any, requests: list[dict[str, Any]], concurrency: int) -> tuple[list[float], float, float]:
    """Send all requests with `concurrency` workers; per-call latencies, wall time and client CPU time."""
    queue = list(reversed(requests))
    latencies: list[float] = []

    async def loop() -> None:
        while queue:
            request = queue.pop()
            t0 = time.perf_counter()
            try:
                await worker(request)
            except Exception as exc:  # counted, not fatal: one reset must not void the run
                ERRORS[worker.__name__] = ERRORS.get(worker.__name__, 0) + 1
                print(f"{worker.__name__}: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            latencies.append(time.perf_counter() - t0)

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, time.process_time() - cpu_started


async def bench(store: ReplayStore, url: str, levels: list[int], calls: int, rounds: int) -> list[dict[str, Any]]:
    """Median latency and throughput per method and concurrency level."""
    frame = store.table.frame
    rows = frame[frame.cost_usd.notna()].sample(n=calls, random_state=0, replace=len(frame) < calls)
    requests = [{"model": r.model, "messages": [{"role": "user", "content": r.query_text}]} for r in rows.itertuples()]
    # Retries on: a pooled keep-alive connection the server closed between rounds is a retryable reset.
    retry = RetryConfig(max_attempts=3, base_delay_s=0.01, max_delay_s=0.1, total_timeout_s=60)
    client = LLMClient(store.catalog, api_base=f"{url}/v1", retry=retry, max_concurrency_per_model=max(levels))
    via_litellm = LLMClient(
        store.catalog, api_base=f"{url}/v1", retry=retry, max_concurrency_per_model=max(levels), transport="litellm"
    )
    caller = ReplayCaller(store)
    limits = httpx.Limits(max_connections=max(levels) * 2, max_keepalive_connections=max(levels) * 2)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

        async def raw(req: dict[str, Any]) -> None:
            response = await http.post("/v1/chat/completions", json=req)
            response.raise_for_status()
            response.json()

        async def via_client(req: dict[str, Any]) -> None:
            result = await client.call(req["model"], req["messages"])
            if not result.success:
                raise RuntimeError(result.error)

        async def litellm_client(req: dict[str, Any]) -> None:
            result = await via_litellm.call(req["model"], req["messages"])
            if not result.success:
                raise RuntimeError(result.error)

        async def in_process(req: dict[str, Any]) -> None:
            await caller.call(req["model"], req["messages"])

        methods = {
            "raw_httpx": raw,
            "llm_client": via_client,
            "litellm_client": litellm_client,
            "in_process": in_process,
        }
        for method in (raw, via_client, litellm_client):  # warm up connections and LiteLLM's lazy imports
            await _run(method, requests[:32], 8)
        rows_out = []
        for level in levels:
            stats: dict[str, dict[str, list[float]]] = {
                m: {"lat": [], "tput": [], "cpu": [], "server_cpu": []} for m in methods
            }
            for _ in range(rounds):  # alternate methods so load drift hits all of them alike
                for name, method in methods.items():
                    server_before = _server_cpu_s(SERVER_PID)
                    lat, wall, cpu = await _run(method, requests, level)
                    stats[name]["server_cpu"].append((_server_cpu_s(SERVER_PID) - server_before) / len(requests) * 1e3)
                    stats[name]["lat"].append(statistics.median(lat) * 1e3)
                    stats[name]["tput"].append(len(requests) / wall)
                    stats[name]["cpu"].append(cpu / len(requests) * 1e3)
            row: dict[str, Any] = {"concurrency": level}
            for name in methods:
                row[f"{name}_median_ms"] = round(statistics.median(stats[name]["lat"]), 3)
                row[f"{name}_calls_per_s"] = round(statistics.median(stats[name]["tput"]), 1)
                row[f"{name}_cpu_ms_per_call"] = round(statistics.median(stats[name]["cpu"]), 3)
            server_ms = statistics.median(stats["raw_httpx"]["server_cpu"])
            row["server_cpu_ms_per_call"] = round(server_ms, 3)
            # What the (single-process) server sustains with one core to itself: load-independent capacity.
            row["server_capacity_calls_per_s_1_core"] = round(1000 / server_ms, 1) if server_ms > 0 else None
            row["client_cpu_overhead_ms"] = round(
                row["llm_client_cpu_ms_per_call"] - row["raw_httpx_cpu_ms_per_call"], 3
            )
            row["client_overhead_ms"] = round(row["llm_client_median_ms"] - row["raw_httpx_median_ms"], 3)
            row["client_over_raw_ratio"] = round(row["llm_client_median_ms"] / row["raw_httpx_median_ms"], 2)
            row["litellm_overhead_ms"] = round(row["litellm_client_median_ms"] - row["raw_httpx_median_ms"], 3)
            rows_out.append(row)
    return rows_out


def main() -> int:
    """Parse flags, start the server, run the benchmark, print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", required=True, help="outcome file(s) to replay (repeatable)")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated concurrency levels")
    parser.add_argument("--calls", type=int, default=400, help="calls per method, level and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are taken over rounds")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON to this file")
    args = parser.parse_args()
    os.environ.update(OFFLINE)
    store = ReplayStore(load_outcomes(args.data))
    load_before = os.getloadavg()
    port = _free_port()
    server = _start_server(args.data, port)
    global SERVER_PID
    SERVER_PID = server.pid
    try:
        levels = [int(x) for x in args.concurrency.split(",")]
        results = asyncio.run(bench(store, f"http://127.0.0.1:{port}", levels, args.calls, args.rounds))
    finally:
        server.terminate()
        server.wait(timeout=10)
    for row in results:
        print(f"concurrency {row['concurrency']}:")
        for key, value in row.items():
            if key != "concurrency":
                print(f"  {key:32s} {value}")
    print(f"failed calls: {ERRORS or 'none'}; load average before/after: {load_before} / {os.getloadavg()}")
    if args.json:
        payload = {"cpus": os.cpu_count(), "errors": ERRORS, "load_before": load_before, "results": results}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
