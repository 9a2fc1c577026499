"""Soak `xrouter serve` with random faults: N requests at concurrency C against a misbehaving upstream.

Starts, as separate processes on 127.0.0.1, the fault upstream (`xrouter.serve.fault_upstream`: router and
targets) and a real `xrouter serve` in front of it (targets through the call layer over HTTP, a ledger, an API
key from a file). Each request draws its faults at random: router and target faults, a few hostile bodies
(NaN, deep nesting, broken JSON). Reports answers by HTTP status and error code, target-call outcomes by kind,
p50/p99/max latency, the server's RSS after warm-up and at the end, and checks that the ledger holds exactly
one request line per request that ran an episode (200, 502, 504) and none for the refused ones; exit code 1
when that, "no 500" or "still serving" fails.

    .venv/bin/python scripts/soak_serve.py --requests 3000 --concurrency 32 --out outputs/soak.json
    .venv/bin/python scripts/soak_serve.py --requests 3000 --concurrency 32 --cooldown-s 5   # the server default
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
KEY = "soak-server-key-0123456789"
OFFLINE = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "FAULT_API_KEY": "sk-soak-0123456789",
}
TARGET_FAULTS = [
    ("ok", 50), ("status:429", 4), ("status:500", 4), ("status:503", 3), ("hang:3", 1), ("drip:2", 1), ("cut", 2),
    ("malformed", 2), ("partial", 2), ("no_choices", 2), ("message_string", 2), ("no_usage", 3), ("usage_list", 2),
    ("cost:1e9", 2), ("huge:6", 1), ("flaky:1", 3), ("echo:400", 2), ("nan", 1), ("status:404", 1),
]  # fmt: skip
ROUTER_STEPS = [
    ("", 70), ("r1=text", 6), ("r1=call:fault-a,fault-b", 6), ("r1=message_string", 2), ("r2=usage_list", 2),
    ("r2=tool_calls_strings", 2), ("r1=malformed", 2), ("r1=status:500", 2), ("r1=args:fault-a", 2),
    ("r1=tool:call_nowhere", 2), ("r2=select:fault-c", 2), ("r1=slow:0.2", 2),
]  # fmt: skip
HOSTILE = [b'{"model": "router", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}',
           b'{"model": "router", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}", b'{"model": "router", "mess']  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _bodies(count: int, seed: int) -> list[bytes]:
    """Request bodies with random directives (2% hostile bodies)."""
    rng = random.Random(seed)
    bodies = []
    for index in range(count):
        if rng.random() < 0.02:
            bodies.append(rng.choice(HOSTILE))
            continue
        model = rng.choice(["fault-a", "fault-b", "fault-c"])
        step = _pick(rng, ROUTER_STEPS) or f"r1=call:{model}"
        text = f"Soak request {index} [[{step} target={_pick(rng, TARGET_FAULTS)} key=soak-{index}]]"
        bodies.append(json.dumps({"model": "router", "messages": [{"role": "user", "content": text}]}).encode())
    return bodies


def _log_kinds(path: Path) -> dict[str, int]:
    """How many lines of the server's log are warnings, errors and tracebacks."""
    text = path.read_text(errors="replace")
    return {level: text.count(level) for level in ("WARNING", "ERROR", "Traceback")}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _start(work: Path, args: argparse.Namespace) -> tuple[dict[str, subprocess.Popen], str]:
    """The upstream and `xrouter serve` processes; returns them and the server's base URL."""
    from xrouter.serve.background import wait_until_serving
    from xrouter.serve.fault_upstream import fault_catalog

    ports = {"upstream": _free_port(), "serve": _free_port()}
    upstream = f"http://127.0.0.1:{ports['upstream']}/v1"
    (work / "catalog.yaml").write_text(fault_catalog(upstream))
    (work / "key.txt").write_text(KEY + "\n")
    env = {**os.environ, **OFFLINE}
    logs = {name: (work / f"{name}.log").open("w") for name in ("upstream", "serve")}  # files: a pipe would fill up
    serve = [sys.executable, "-m", "xrouter.cli.main", "serve", "--router-api-base", upstream, "--router-model", "soak"]
    serve += ["--models", "fault-a,fault-b,fault-c", "--catalog", str(work / "catalog.yaml"), "--router-price-in", "1"]
    serve += ["--router-price-out", "2", "--target-timeout-s", "1.5", "--request-timeout-s", "10", "--port"]
    serve += [str(ports["serve"]), "--ledger", str(work / "ledger.jsonl"), "--api-key-file", str(work / "key.txt")]
    serve += ["--cooldown-s", str(args.cooldown_s)]
    upstream_cmd = [sys.executable, __file__, "--upstream-port", str(ports["upstream"])]
    processes = {
        name: subprocess.Popen(cmd, cwd=work, env=env, stdout=logs[name], stderr=subprocess.STDOUT)
        for name, cmd in (("upstream", upstream_cmd), ("serve", serve))
    }
    for handle in logs.values():  # the children hold their own copies
        handle.close()
    for name, url in (("upstream", f"{upstream}/models"), ("serve", f"http://127.0.0.1:{ports['serve']}/health")):
        wait_until_serving(url, processes[name], 180.0, (work / f"{name}.log").read_text)
    return processes, f"http://127.0.0.1:{ports['serve']}"


async def _load(url: str, bodies: list[bytes], concurrency: int) -> list[tuple[int, float, dict[str, Any]]]:
    """(status, latency, parsed body) of every request, sent by `concurrency` workers."""
    import aiohttp

    results: list[tuple[int, float, dict[str, Any]]] = []
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as s:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                async with s.post(f"{url}/v1/chat/completions", data=body) as response:
                    raw = await response.read()
                    results.append((response.status, time.perf_counter() - started, json.loads(raw)))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def _request_lines(ledger: Path) -> int:
    from xrouter.llm.ledger import read_ledger

    return sum(1 for r in read_ledger(ledger) if r.get("kind") == "request") if ledger.exists() else 0


def _summary(results: list[tuple[int, float, dict[str, Any]]], ledger_lines: int) -> dict[str, Any]:
    answers = collections.Counter(
        f"{status} {body['error']['code']}" if status != 200 else "200 ok" for status, _, body in results
    )
    kinds = collections.Counter(
        call["error_kind"] or "ok"
        for status, _, body in results
        if status == 200
        for call in body["router_metadata"]["call_history"]
        if call["executed"] and call["model"]
    )
    latencies = sorted(latency for _, latency, _ in results)
    episodes = sum(1 for status, _, _ in results if status in (200, 502, 504))
    return {
        "requests": len(results),
        "answers": dict(answers.most_common()),
        "target_calls": dict(kinds.most_common()),
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1e3,
        "max_ms": latencies[-1] * 1e3,
        "episodes": episodes,
        "ledger_request_lines": ledger_lines,
        "estimated_calls": sum(body["router_metadata"].get("estimated_calls", 0) for s, _, body in results if s == 200),
    }


def _report(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"xrouter serve soak: {summary['requests']} requests, load average {os.getloadavg()[0]:.1f}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("p50_ms", "p99_ms", "max_ms", "rss_before_mb", "rss_after_mb", "episodes", "ledger_request_lines"):
        table.add_row(key, f"{summary[key]:.1f}" if isinstance(summary[key], float) else str(summary[key]))
    table.add_row("wall_s", f"{summary['wall_s']:.1f}")
    console.print(table)
    console.print("answers by status and code:", summary["answers"])
    console.print("target calls by outcome:", summary["target_calls"])
    console.print("server log:", summary["serve_log_lines"])


def main() -> int:
    """Run the soak, print the report (and JSON with --out); exit 1 when an invariant failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="requests to send (default 3000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="fault draw seed (default 0)")
    parser.add_argument(
        "--cooldown-s",
        type=float,
        default=0.0,
        help="the server's --cooldown-s (default 0: off, so that every fault reaches the router; the server's own "
        "default is 5, under which models failing this often spend most of the soak cooling down)",
    )
    parser.add_argument("--out", help="also write the summary as JSON to this file")
    parser.add_argument("--upstream-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream_port:
        import uvicorn

        from xrouter.serve.fault_upstream import create_fault_upstream_app

        uvicorn.run(create_fault_upstream_app(history=10), host="127.0.0.1", port=args.upstream_port, log_level="error")
        return 0
    with tempfile.TemporaryDirectory(prefix="xrouter-soak-") as tmp:
        work = Path(tmp)
        processes, url = _start(work, args)
        try:
            asyncio.run(_load(url, _bodies(50, args.seed + 1), 8))  # warm-up, not counted
            pid, ledger = processes["serve"].pid, work / "ledger.jsonl"
            rss_before, lines_before, started = _rss_mb(pid), _request_lines(ledger), time.perf_counter()
            results = asyncio.run(_load(url, _bodies(args.requests, args.seed), args.concurrency))
            wall, rss_after = time.perf_counter() - started, _rss_mb(pid)
            alive = httpx.get(f"{url}/health", timeout=10).status_code == 200
            summary = _summary(results, _request_lines(ledger) - lines_before)
            summary["serve_log_lines"] = _log_kinds(work / "serve.log")
        finally:
            for process in processes.values():
                process.terminate()
                process.wait(timeout=30)
    summary.update(rss_before_mb=rss_before, rss_after_mb=rss_after, wall_s=wall, still_serving=alive)
    summary["ledger_matches"] = summary["episodes"] == summary["ledger_request_lines"]
    _report(summary)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=2))
    no_500 = not any(key.startswith("500") for key in summary["answers"])
    return 0 if alive and no_500 and summary["ledger_matches"] else 1


if __name__ == "__main__":
    sys.exit(main())
