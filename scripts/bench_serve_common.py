"""Shared pieces of the serve benchmarks: child servers, the aiohttp load generator, CPU per process tree.

`bench_serve_overhead.py` (latency, req/s, CPU per request, peers side by side) and `bench_serve_ttft.py`
(time to first token of streamed answers) both use them. Every server is a separate process on 127.0.0.1.
"""

from __future__ import annotations

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
OVERHEAD = str(REPO / "scripts" / "bench_serve_overhead.py")
DEFAULT_DATA = Path(os.environ.get("XROUTER_DATA") or "data") / "routerbench_slices" / "arc_challenge_train.csv"
OFFLINE = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
}


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(args: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
    """Start a server process (stderr to `log`, or kept for the error message when it dies at start-up)."""
    env = env if env is not None else {**os.environ, **OFFLINE}
    err = log.open("w") if log is not None else subprocess.PIPE
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)


def wait(url: str, process: subprocess.Popen, timeout_s: float = 120.0, log: Path | None = None) -> None:
    """Wait until `url` answers; RuntimeError with the server's last words if it exits first."""
    from xrouter.serve.background import wait_until_serving

    def said() -> str:
        if log is not None:
            return log.read_text(errors="replace")
        return process.stderr.read().decode(errors="replace") if process.stderr else ""

    wait_until_serving(url, process, timeout_s, said)


def stop(processes: dict[str, subprocess.Popen]) -> None:
    """Terminate the started servers (and wait for them)."""
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by `pid` and its living descendants (Linux /proc)."""
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def stats(latencies: list[float]) -> dict[str, float]:
    """Median and p99 in milliseconds."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"median_ms": statistics.median(ordered) * 1e3, "p99_ms": p99 * 1e3}


def queries(data: Path, model: str, count: int) -> list[str]:
    """`count` query texts (cycled) that `model` has a recorded answer to."""
    from xrouter.data.outcomes import load_outcomes

    frame = load_outcomes([data]).frame
    frame = frame[(frame.model == model) & frame.response.notna()]
    texts = list(dict.fromkeys(frame.query_text))
    return [texts[i % len(texts)] for i in range(count)]


async def measure(url: str, bodies: list[dict[str, Any]], concurrency: int, stream: bool = False):
    """(latencies, first-content times or [], wall time) of all bodies sent by `concurrency` workers (aiohttp)."""
    import aiohttp

    latencies: list[float] = []
    firsts: list[float] = []
    payloads = [json.dumps(body) for body in bodies]
    queue = list(reversed(payloads))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"Content-Type": "application/json"}) as client:

        async def send(payload: str) -> float | None:
            started = time.perf_counter()
            first = None
            async with client.post(url, data=payload) as response:
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}: {(await response.read())[:300]!r}")
                if not stream:
                    await response.read()
                    return None
                async for line in response.content:
                    if first is None and line.startswith(b"data: {") and b'"content":"' in line.replace(b" ", b""):
                        if b'"content":""' not in line.replace(b" ", b""):
                            first = time.perf_counter() - started
            return first

        for payload in payloads[: min(20, len(payloads))]:  # warm-up: connections, first-call imports
            await send(payload)

        async def worker() -> None:
            while queue:
                payload = queue.pop()
                started = time.perf_counter()
                first = await send(payload)
                latencies.append(time.perf_counter() - started)
                if first is not None:
                    firsts.append(first)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, firsts, time.perf_counter() - started


def replay_command(port: int, data: str, stream_delay_ms: float = 0.0) -> list[str]:
    """The replay server app as a child process (see `bench_serve_overhead.py --replay-port`)."""
    return [sys.executable, OVERHEAD, "--replay-port", str(port), "--data", data, "--stream-delay-ms",
            str(stream_delay_ms)]  # fmt: skip


def enter_loopback_only() -> bool:
    """Move this benchmark into a private network with only loopback (before any server starts), if possible."""
    from xrouter.netns import NetnsUnavailable, enter_private_network

    try:
        return enter_private_network()
    except NetnsUnavailable as exc:
        print(f"note: running on the machine's network ({exc}); every server still binds 127.0.0.1", flush=True)
        return False
