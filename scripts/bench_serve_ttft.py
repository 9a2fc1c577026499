"""Time to first token of streamed answers: xrouter beside the upstream itself and the peer gateways.

The replay server streams each recorded answer in word pieces with a fixed pause before each piece
(`--stream-delay-ms`, so the upstream's own time to first token is about that pause). Measured in one run, in
interleaved rounds, with `stream: true` and one aiohttp client: the upstream directly; `xrouter serve` in simple
mode (the router delegates at once, the delegated model's tokens are streamed as they arrive); `xrouter serve`
in agent mode (call, then select_response: the answer is known only when the episode ends, so its first token
is its last); the same with `--one-step-select` (turn 1 selects the model not called yet, which is then called
and streamed as in simple mode); simple mode with `--no-router-stream` (router turns requested without stream,
which saves the streamed reply's cost on the tool-call turn); the LiteLLM proxy and the RouteLLM server (see `bench_peers.py`). Reported per path: median and
p99 time to the first content chunk, median total time, and the first-token gap over the upstream.

    .venv/bin/python scripts/bench_serve_ttft.py --requests 48 --stream-delay-ms 5 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import bench_peers
from bench_serve_common import (
    OVERHEAD,
    REPO,
    enter_loopback_only,
    free_port,
    measure,
    replay_command,
    spawn,
    stats,
    stop,
    wait,
)

DEFAULT_MBPP = Path(os.environ.get("XROUTER_DATA") or "data") / "routerbench_slices" / "mbpp_train.csv"
UPSTREAM = "upstream (replay, streaming)"
_XROUTER = {  # port name: (label, flags) of each xrouter path
    "simple": ("xrouter serve, simple mode", ["--mode", "simple"]),
    "simple-unstreamed": ("xrouter serve, simple, --no-router-stream", ["--mode", "simple", "--no-router-stream"]),
    "agent": ("xrouter serve, agent mode", ["--mode", "agent"]),
    "one-step": ("xrouter serve, agent, one-step select", ["--mode", "agent", "--one-step-select"]),
}


def _texts(args: argparse.Namespace) -> list[str]:
    """Queries whose recorded answer by --model streams in at most --max-pieces pieces."""
    from xrouter.data.outcomes import load_outcomes
    from xrouter.llm.replay.server import stream_pieces

    frame = load_outcomes([Path(args.data)]).frame
    frame = frame[(frame.model == args.model) & frame.response.notna()]
    short = [
        q for q, r in zip(frame.query_text, frame.response, strict=True) if len(stream_pieces(r)) <= args.max_pieces
    ]
    if not short:
        raise SystemExit(f"no answer of {args.model} in {args.data} has at most {args.max_pieces} pieces")
    return [short[i % len(short)] for i in range(args.requests)]


def _start(args, peers: list[bench_peers.Peer], work: Path, skipped: list[str]):
    from xrouter.catalog import tool_name_for
    from xrouter.llm.replay import ROUTERBENCH_CATALOG

    ports = {name: free_port() for name in ("replay", "router", *_XROUTER, *(p.name for p in peers))}
    base = f"http://127.0.0.1:{ports['replay']}/v1"
    processes = {
        "replay": spawn(replay_command(ports["replay"], args.data, args.stream_delay_ms)),
        "router": spawn(
            [
                sys.executable,
                OVERHEAD,
                "--scripted-router-port",
                str(ports["router"]),
                "--tool",
                tool_name_for(args.model),
            ]
        ),  # fmt: skip
    }
    xr = [sys.executable, "-m", "xrouter.cli.main", "serve", "--router-api-base", f"http://127.0.0.1:{ports['router']}/v1",
          "--router-model", "bench", "--models", args.model, "--no-ledger", "--target-api-base", base, "--catalog",
          str(REPO / "xrouter" / "resources" / ROUTERBENCH_CATALOG)]  # fmt: skip
    paths = {UPSTREAM: (ports["replay"], args.model, "replay")}
    for name, (label, flags) in _XROUTER.items():
        processes[label] = spawn([*xr, *flags, "--port", str(ports[name])])
        paths[label] = (ports[name], "router", label)
    logs = {}
    for peer in peers:
        log = work / f"{peer.name}.log"
        if peer.name == "litellm-proxy":
            label, model = "LiteLLM proxy 1.100.0", args.model
            command = bench_peers.litellm_command(peer.python, ports[peer.name], base, args.model, work)
        else:
            label, model = "RouteLLM 0.2.0 (random)", bench_peers.ROUTELLM_MODEL
            command = bench_peers.routellm_command(peer.python, ports[peer.name], base, args.model)
        processes[label], logs[label] = spawn(command, bench_peers.peer_env(base), log), log
        paths[label] = (ports[peer.name], model, label)
    health = {"replay": "/health", "router": "/v1/models", "LiteLLM proxy 1.100.0": "/health/liveliness"}
    for label, process in processes.items():
        port = ports[label] if label in ports else paths[label][0]
        try:
            wait(f"http://127.0.0.1:{port}{health.get(label, '/health' if label.startswith('x') else '/docs')}",
                 process, 180, logs.get(label))  # fmt: skip
        except (RuntimeError, TimeoutError) as exc:
            if label not in logs:
                raise
            skipped.append(f"skipped {label}: it did not start ({' '.join(str(exc).split())[-300:]})")
            paths.pop(label)
    return {label: (f"http://127.0.0.1:{port}/v1/chat/completions", model) for label, (port, model, _) in
            paths.items()}, processes  # fmt: skip


def _run(args, paths: dict[str, tuple[str, str]], texts: list[str], level: int) -> list[dict]:
    firsts: dict[str, list[float]] = {label: [] for label in paths}
    totals: dict[str, list[float]] = {label: [] for label in paths}
    per_round = max(1, len(texts) // args.rounds)
    for round_index in range(args.rounds):
        chunk = texts[round_index * per_round : (round_index + 1) * per_round]
        for label, (url, model) in paths.items():
            bodies = [{"model": model, "messages": [{"role": "user", "content": q}], "stream": True} for q in chunk]
            latencies, first, _ = asyncio.run(measure(url, bodies, level, stream=True))
            firsts[label] += first
            totals[label] += latencies
    rows = []
    for label in paths:
        first = stats(firsts[label])
        rows.append({"concurrency": level, "path": label, "ttft_median_ms": first["median_ms"],
                     "ttft_p99_ms": first["p99_ms"], "total_median_ms": statistics.median(totals[label]) * 1e3})  # fmt: skip
    upstream = next(r for r in rows if r["path"] == UPSTREAM)
    for row in rows:
        row["ttft_gap_ms"] = row["ttft_median_ms"] - upstream["ttft_median_ms"]
    return rows


def _report(args, rows: list[dict], skipped: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    load = os.getloadavg()
    table = Table(title=f"streamed answers, {args.stream_delay_ms:g} ms before each piece ({args.requests} requests "
                  f"per row, {args.rounds} rounds, load average {load[0]:.2f} / {load[1]:.2f})")  # fmt: skip
    for column in ("conc.", "path", "TTFT median ms", "TTFT p99 ms", "TTFT − upstream ms", "total median ms"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for row in rows:
        table.add_row(str(row["concurrency"]), row["path"], f"{row['ttft_median_ms']:.2f}",
                      f"{row['ttft_p99_ms']:.2f}", f"{row['ttft_gap_ms']:.2f}", f"{row['total_median_ms']:.1f}")  # fmt: skip
    console = Console(width=max(Console().width, 130))
    console.print(table)
    for line in skipped:
        console.print(line)
    if args.out:
        Path(args.out).write_text(json.dumps({"load": load, "skipped": skipped, "rows": rows}, indent=2))


def main() -> int:
    """Run the time-to-first-token benchmark and print a table (and JSON with --out)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_MBPP), help="RouterBench CSV replayed as the streaming upstream")
    parser.add_argument("--model", default="gpt-3.5-turbo-1106", help="target model (name as in the data)")
    parser.add_argument("--max-pieces", type=int, default=100, help="only answers of at most this many pieces")
    parser.add_argument("--stream-delay-ms", type=float, default=5.0, help="upstream pause before each piece")
    parser.add_argument("--requests", type=int, default=48, help="streamed requests per path (default 48)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--levels", default="1", help="comma-separated concurrency levels (default 1)")
    parser.add_argument("--out", help="also write the results as JSON to this file")
    bench_peers.add_peer_arguments(parser)
    args = parser.parse_args()
    peers, skipped = bench_peers.wanted_peers(args)
    enter_loopback_only()
    texts = _texts(args)
    processes: dict[str, subprocess.Popen] = {}
    with tempfile.TemporaryDirectory(prefix="xrouter-ttft-") as work:
        try:
            paths, processes = _start(args, peers, Path(work), skipped)
            rows = [row for level in args.levels.split(",") for row in _run(args, paths, texts, int(level))]
        finally:
            stop(processes)
    _report(args, rows, skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
