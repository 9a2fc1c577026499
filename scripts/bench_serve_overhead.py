"""Router overhead of `xrouter serve`: latency through the server minus the direct target call.

Starts, as separate processes on 127.0.0.1: the replay server (the app of `xrouter replay serve`, the target),
a scripted router that answers instantly (turn 1: call the target, turn 2: select_response), and
two `xrouter serve` instances: `http` (`--target-api-base`: targets over HTTP to the replay server through
the call layer, which POSTs directly to OpenAI-compatible endpoints) and `inproc` (`--replay-data`, targets
answered in-process). Then, at each concurrency level, it sends the same
RouterBench queries (1) directly to the replay server with a raw aiohttp client, (2) directly to the scripted
router (one router turn), (3) through each server, and reports median/p99 latency, the overhead
(server − direct target call) and throughput.

    .venv/bin/python scripts/bench_serve_overhead.py --requests 600 --levels 1,32 --rounds 3
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

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("XROUTER_DATA") or "data") / "routerbench_slices" / "arc_challenge_train.csv"
OFFLINE = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, **OFFLINE}
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)


def _wait(url: str, process: subprocess.Popen, timeout_s: float = 90.0) -> None:
    from xrouter.serve.background import wait_until_serving

    wait_until_serving(url, process, timeout_s, lambda: process.stderr.read().decode())  # type: ignore[union-attr]


def _serve_replay(port: int, data: str) -> None:
    """Child-process mode: the replay server app (`create_replay_app`, what `xrouter replay serve` runs) on `port`.

    Started here with uvicorn's own listening socket so the baseline measures the app, not how a CLI binds.
    """
    import uvicorn

    from xrouter.data.outcomes import load_outcomes
    from xrouter.llm.replay import ReplayStore, create_replay_app

    app = create_replay_app(ReplayStore(load_outcomes([Path(data)])))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _serve_scripted(port: int, tool: str) -> None:
    """Child-process mode: the scripted router on `port`."""
    import uvicorn

    from xrouter.serve.scripted_router import call_then_select, create_scripted_router_app

    app = create_scripted_router_app(call_then_select(tool))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def _measure(url: str, bodies: list[dict[str, Any]], concurrency: int, headers: dict[str, str]):
    """Latencies of all bodies sent with `concurrency` workers, and the wall time (aiohttp: a light client)."""
    import aiohttp

    latencies: list[float] = []
    payloads = [json.dumps(body) for body in bodies]
    queue = list(reversed(payloads))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, headers={**headers, "Content-Type": "application/json"}
    ) as client:

        async def send(payload: str) -> None:
            async with client.post(url, data=payload) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")

        for payload in payloads[: min(20, len(payloads))]:  # warm-up: connections, first-call imports
            await send(payload)

        async def worker() -> None:
            while queue:
                payload = queue.pop()
                started = time.perf_counter()
                await send(payload)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stats(latencies: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"median_ms": statistics.median(ordered) * 1e3, "p99_ms": p99 * 1e3, "rps": len(ordered) / wall}


def _queries(data: Path, model: str, count: int) -> list[str]:
    from xrouter.data.outcomes import load_outcomes

    frame = load_outcomes([data]).frame
    frame = frame[(frame.model == model) & frame.response.notna()]
    texts = list(dict.fromkeys(frame.query_text))
    return [texts[i % len(texts)] for i in range(count)]


def _start(args: argparse.Namespace) -> tuple[dict[str, int], dict[str, subprocess.Popen]]:
    """Spawn the replay server, the scripted router and the two `xrouter serve` variants."""
    from xrouter.catalog import tool_name_for
    from xrouter.llm.replay import ROUTERBENCH_CATALOG

    ports = {name: _free_port() for name in ("replay", "router", "http", "inproc")}
    xr = [sys.executable, "-m", "xrouter.cli.main"]
    catalog = str(REPO / "xrouter" / "resources" / ROUTERBENCH_CATALOG)
    router_base = f"http://127.0.0.1:{ports['router']}/v1"
    common = ["serve", "--router-api-base", router_base, "--router-model", "bench", "--models", args.model]
    common.append("--no-ledger")
    replay_base = f"http://127.0.0.1:{ports['replay']}/v1"
    router_cmd = [sys.executable, __file__, "--scripted-router-port", str(ports["router"])]
    processes = {
        "replay": _spawn([sys.executable, __file__, "--replay-port", str(ports["replay"]), "--data", args.data]),
        "router": _spawn([*router_cmd, "--tool", tool_name_for(args.model)]),
        "http": _spawn(
            [*xr, *common, "--catalog", catalog, "--port", str(ports["http"]), "--target-api-base", replay_base]
        ),
        "inproc": _spawn([*xr, *common, "--replay-data", args.data, "--port", str(ports["inproc"])]),
    }
    for name, process in processes.items():
        _wait(f"http://127.0.0.1:{ports[name]}{'/v1/models' if name == 'router' else '/health'}", process)
    return ports, processes


def _paths(args: argparse.Namespace, ports: dict[str, int]) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """label -> (URL, request bodies) of the four measured paths."""
    queries = _queries(Path(args.data), args.model, max(args.requests, args.rounds))
    user = [[{"role": "user", "content": q}] for q in queries]
    url = "http://127.0.0.1:{}/v1/chat/completions".format
    return {
        "direct target (replay)": (url(ports["replay"]), [{"model": args.model, "messages": m} for m in user]),
        "router turn (scripted)": (url(ports["router"]), [{"model": "bench", "messages": m} for m in user]),
        "serve, targets over HTTP": (url(ports["http"]), [{"model": "router", "messages": m} for m in user]),
        "serve, targets in-process": (url(ports["inproc"]), [{"model": "router", "messages": m} for m in user]),
    }


def _run_level(args: argparse.Namespace, level: int, paths: dict, processes: dict) -> list[dict[str, Any]]:
    """All paths at one concurrency, in interleaved rounds so load drift on a shared machine hits them alike."""
    pooled: dict[str, list[float]] = {label: [] for label in paths}
    rates: dict[str, list[float]] = {label: [] for label in paths}
    cpu: dict[str, dict[str, float]] = {label: {} for label in paths}
    per_round = max(1, args.requests // args.rounds)
    for round_index in range(args.rounds):
        for label, (url, bodies) in paths.items():
            chunk = bodies[round_index * per_round : (round_index + 1) * per_round] or bodies[:per_round]
            before = {name: _cpu_s(p.pid) for name, p in processes.items()}
            latencies, wall = asyncio.run(_measure(url, chunk, level, {}))
            pooled[label] += latencies
            rates[label].append(len(latencies) / wall)
            for name, p in processes.items():
                cpu[label][name] = cpu[label].get(name, 0.0) + (_cpu_s(p.pid) - before[name]) * 1e3
    results = []
    for label in paths:
        stats = _stats(pooled[label], 1.0)
        stats["rps"] = statistics.median(rates[label])
        cpu_ms = {k: round(v / len(pooled[label]), 3) for k, v in cpu[label].items() if v > 0.05 * args.rounds}
        results.append({"concurrency": level, "path": label, **stats, "cpu_ms": cpu_ms})
    return results


def _report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    """Overheads against the direct target call, a rich table, CPU per request, optional JSON."""
    from rich.console import Console
    from rich.table import Table

    load = os.getloadavg()[0]
    title = f"xrouter serve overhead ({args.requests} requests per row in {args.rounds} rounds, {os.cpu_count()} CPUs"
    table = Table(title=f"{title}, load average {load:.1f})")
    for column in ("conc.", "path", "median ms", "p99 ms", "req/s", "overhead median ms", "overhead p99 ms"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for row in results:
        base = next(r for r in results if r["concurrency"] == row["concurrency"] and r["path"].startswith("direct"))
        row["overhead_median_ms"] = row["median_ms"] - base["median_ms"]
        row["overhead_p99_ms"] = row["p99_ms"] - base["p99_ms"]
        serve = row["path"].startswith("serve")
        table.add_row(
            str(row["concurrency"]),
            row["path"],
            f"{row['median_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            f"{row['rps']:.0f}",
            f"{row['overhead_median_ms']:.2f}" if serve else "",
            f"{row['overhead_p99_ms']:.2f}" if serve else "",
        )
    console = Console()
    console.print(table)
    for row in results:
        console.print(f"c={row['concurrency']} {row['path']}: CPU ms per request by process {row['cpu_ms']}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


def main() -> int:
    """Run the benchmark and print a table (and JSON with --out)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="RouterBench CSV replayed as the target")
    parser.add_argument("--model", default="gpt-4-1106-preview", help="target model (name as in the data)")
    parser.add_argument("--requests", type=int, default=600, help="requests per measured path (default 600)")
    parser.add_argument("--levels", default="1,32", help="comma-separated concurrency levels (default 1,32)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per level; req/s is their median")
    parser.add_argument("--out", help="also write the results as JSON to this file")
    parser.add_argument("--scripted-router-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--replay-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tool", default="call_gpt_4_1106_preview", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay_port:
        _serve_replay(args.replay_port, args.data)
        return 0
    if args.scripted_router_port:
        _serve_scripted(args.scripted_router_port, args.tool)
        return 0
    processes: dict[str, subprocess.Popen] = {}
    try:
        ports, processes = _start(args)
        paths = _paths(args, ports)
        results = [row for level in args.levels.split(",") for row in _run_level(args, int(level), paths, processes)]
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=20)
    _report(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
