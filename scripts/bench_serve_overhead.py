"""Router overhead of `xrouter serve` side by side with peer gateways, on one replay upstream, in one run.

Starts, as separate processes on 127.0.0.1 (inside a private loopback-only network when the machine allows):
the replay server (the app of `xrouter replay serve`, the target), a scripted router that answers instantly
(turn 1: call the target, turn 2: select_response), `xrouter serve` with targets over HTTP
(`--target-api-base`, through the call layer), the same with `--workers N`, `xrouter serve` with targets
answered in-process (`--replay-data`), and the peers, each from its own virtual environment (see
`bench_peers.py`): the LiteLLM proxy (one worker, defaults, the replay model as an OpenAI-compatible
deployment) and the RouteLLM server (`random` router, both models the replay model). At each concurrency
level it sends the same RouterBench queries to every path in interleaved rounds and reports median/p99
latency, overhead over the direct target call, req/s, CPU ms per request in each gateway's process tree, and
each peer's overhead and req/s as a ratio to xrouter's HTTP path.

    .venv/bin/python scripts/bench_serve_overhead.py --requests 600 --levels 1,32 --rounds 3
    .venv/bin/python scripts/bench_serve_overhead.py --peers none --workers 2   # xrouter only
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
from typing import Any

import bench_peers
from bench_serve_common import (
    DEFAULT_DATA,
    REPO,
    enter_loopback_only,
    free_port,
    measure,
    queries,
    replay_command,
    spawn,
    stats,
    stop,
    tree_cpu_s,
    wait,
)

DIRECT, XR_HTTP, XR_INPROC = "direct call (replay)", "xrouter, HTTP targets", "xrouter, in-process targets"


def _serve_replay(port: int, data: str, stream_delay_ms: float) -> None:
    """Child-process mode: the replay server app (`create_replay_app`, what `xrouter replay serve` runs) on `port`.

    Started here with uvicorn's own listening socket so the baseline measures the app, not how a CLI binds.
    """
    import uvicorn

    from xrouter.data.outcomes import load_outcomes
    from xrouter.llm.replay import ReplayStore, create_replay_app

    app = create_replay_app(ReplayStore(load_outcomes([Path(data)])), stream_delay_ms / 1e3)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _serve_scripted(port: int, tool: str) -> None:
    """Child-process mode: the scripted router on `port`."""
    import uvicorn

    from xrouter.serve.scripted_router import call_then_select, create_scripted_router_app

    app = create_scripted_router_app(call_then_select(tool))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _xrouter_commands(args: argparse.Namespace, ports: dict[str, int]) -> dict[str, list[str]]:
    from xrouter.llm.replay import ROUTERBENCH_CATALOG

    xr = [sys.executable, "-m", "xrouter.cli.main", "serve", "--router-api-base"]
    common = [*xr, f"http://127.0.0.1:{ports['router']}/v1", "--router-model", "bench", "--models", args.model]
    common.append("--no-ledger")
    http = [*common, "--catalog", str(REPO / "xrouter" / "resources" / ROUTERBENCH_CATALOG)]
    http += ["--target-api-base", f"http://127.0.0.1:{ports['replay']}/v1"]
    commands = {XR_HTTP: [*http, "--port", str(ports[XR_HTTP])]}
    if args.workers > 1:
        commands[_workers_label(args)] = [*http, "--port", str(ports[_workers_label(args)]), "--workers",
                                          str(args.workers)]  # fmt: skip
    inproc = XR_INPROC
    commands[inproc] = [*common, "--replay-data", args.data, "--port", str(ports[inproc])]
    return commands


def _workers_label(args: argparse.Namespace) -> str:
    return f"xrouter --workers {args.workers}, HTTP targets"


def _start(args: argparse.Namespace, peers: list[bench_peers.Peer], work: Path, skipped: list[str]):
    """Spawn every server; returns {label: (URL, model name)} and {label: process}; a peer that fails is skipped."""
    from xrouter.catalog import tool_name_for

    labels = ["replay", "router", XR_HTTP, _workers_label(args), XR_INPROC]
    ports = {name: free_port() for name in [*labels, *(p.name for p in peers)]}
    replay_base = f"http://127.0.0.1:{ports['replay']}/v1"
    processes = {
        "replay": spawn(replay_command(ports["replay"], args.data)),
        "router": spawn(
            [
                sys.executable,
                __file__,
                "--scripted-router-port",
                str(ports["router"]),
                "--tool",
                tool_name_for(args.model),
            ]
        ),  # fmt: skip
    }
    for label, command in _xrouter_commands(args, ports).items():
        processes[label] = spawn(command)
    targets = {label: (ports[label], "router") for label in processes if label.startswith("xrouter")}
    logs: dict[str, Path] = {}
    for peer in peers:
        env, log = bench_peers.peer_env(replay_base), work / f"{peer.name}.log"
        if peer.name == "litellm-proxy":
            command = bench_peers.litellm_command(peer.python, ports[peer.name], replay_base, args.model, work)
            label, model = "LiteLLM proxy 1.100.0", args.model
        else:
            command = bench_peers.routellm_command(peer.python, ports[peer.name], replay_base, args.model)
            label, model = "RouteLLM 0.2.0 (random)", bench_peers.ROUTELLM_MODEL
        processes[label] = spawn(command, env, log)
        targets[label] = (ports[peer.name], model)
        logs[label] = log
    for label, process in processes.items():
        port = ports.get(label) or targets[label][0]
        path = {"router": "/v1/models", "replay": "/health"}.get(label, "/health")
        if label.startswith(("LiteLLM", "RouteLLM")):
            path = "/health/liveliness" if label.startswith("LiteLLM") else "/docs"
        try:
            wait(f"http://127.0.0.1:{port}{path}", process, 180, logs.get(label))
        except (RuntimeError, TimeoutError) as exc:
            if label not in logs:
                raise
            skipped.append(f"skipped {label}: it did not start ({' '.join(str(exc).split())[-300:]})")
            print(skipped[-1], flush=True)
            targets.pop(label)
    paths = {DIRECT: (f"http://127.0.0.1:{ports['replay']}/v1/chat/completions", args.model)}
    paths.update({label: (f"http://127.0.0.1:{port}/v1/chat/completions", model) for label, (port, model) in
                  targets.items()})  # fmt: skip
    return paths, processes


def _run_level(args, level: int, paths: dict[str, tuple[str, str]], processes: dict, texts: list[str]):
    """All paths at one concurrency, in interleaved rounds so load drift on a shared machine hits them alike."""
    pooled: dict[str, list[float]] = {label: [] for label in paths}
    rates: dict[str, list[float]] = {label: [] for label in paths}
    cpu: dict[str, float] = {label: 0.0 for label in paths}
    per_round = max(1, args.requests // args.rounds)
    for round_index in range(args.rounds):
        for label, (url, model) in paths.items():
            chunk = texts[round_index * per_round : (round_index + 1) * per_round] or texts[:per_round]
            bodies = [{"model": model, "messages": [{"role": "user", "content": q}]} for q in chunk]
            gateway = processes.get(label) or processes["replay"]
            before = tree_cpu_s(gateway.pid)
            latencies, _, wall = asyncio.run(measure(url, bodies, level))
            cpu[label] += tree_cpu_s(gateway.pid) - before
            pooled[label] += latencies
            rates[label].append(len(latencies) / wall)
    return [
        {
            "concurrency": level,
            "path": label,
            **stats(pooled[label]),
            "rps": statistics.median(rates[label]),
            "cpu_ms": cpu[label] * 1e3 / len(pooled[label]),
        }  # fmt: skip
        for label in paths
    ]


def _report(args: argparse.Namespace, results: list[dict[str, Any]], skipped: list[str]) -> None:
    """Overheads against the direct call, ratios of the peers to xrouter's HTTP path, a rich table, JSON."""
    from rich.console import Console
    from rich.table import Table

    load = os.getloadavg()
    title = f"serve overhead side by side ({args.requests} requests per row in {args.rounds} rounds, "
    table = Table(title=title + f"{os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} (1 / 5 min))")
    columns = ("conc.", "path", "median ms", "p99 ms", "req/s", "overhead ms", "CPU ms/req", "overhead ÷ xr",
               "req/s ÷ xr")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "path" else "right")
    for row in results:
        same = [r for r in results if r["concurrency"] == row["concurrency"]]
        base = next(r for r in same if r["path"] == DIRECT)
        xr = next(r for r in same if r["path"] == XR_HTTP)
        row["overhead_median_ms"] = row["median_ms"] - base["median_ms"]
        row["overhead_p99_ms"] = row["p99_ms"] - base["p99_ms"]
        xr_overhead = xr["median_ms"] - base["median_ms"]
        row["overhead_vs_xrouter"] = row["overhead_median_ms"] / xr_overhead if xr_overhead > 0 else None
        row["rps_vs_xrouter"] = row["rps"] / xr["rps"]
        gateway = row["path"] != DIRECT
        table.add_row(
            str(row["concurrency"]), row["path"], f"{row['median_ms']:.2f}", f"{row['p99_ms']:.2f}",
            f"{row['rps']:.0f}", f"{row['overhead_median_ms']:.2f}" if gateway else "", f"{row['cpu_ms']:.2f}",
            f"{row['overhead_vs_xrouter']:.2f}" if gateway and row["overhead_vs_xrouter"] else "",
            f"{row['rps_vs_xrouter']:.2f}" if gateway else "",
        )  # fmt: skip
    console = Console(width=max(Console().width, 150))
    console.print(table)
    console.print("CPU ms/req: the gateway's process tree (for the direct row: the replay server); "
                  f"÷ xr: this path's overhead and req/s divided by those of '{XR_HTTP}'")  # fmt: skip
    for line in skipped:
        console.print(line)
    if args.out:
        Path(args.out).write_text(json.dumps({"load": load, "skipped": skipped, "rows": results}, indent=2))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="RouterBench CSV replayed as the target")
    parser.add_argument("--model", default="gpt-4-1106-preview", help="target model (name as in the data)")
    parser.add_argument("--requests", type=int, default=600, help="requests per measured path (default 600)")
    parser.add_argument("--levels", default="1,32", help="comma-separated concurrency levels (default 1,32)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per level; req/s is their median")
    parser.add_argument("--workers", type=int, default=2, help="also measure `xrouter serve --workers N` (1: not)")
    bench_peers.add_peer_arguments(parser)
    parser.add_argument("--out", help="also write the results as JSON to this file")
    parser.add_argument("--scripted-router-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--replay-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stream-delay-ms", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--tool", default="call_gpt_4_1106_preview", help=argparse.SUPPRESS)
    return parser


def main() -> int:
    """Run the benchmark and print a table (and JSON with --out)."""
    args = _parser().parse_args()
    if args.replay_port:
        _serve_replay(args.replay_port, args.data, args.stream_delay_ms)
        return 0
    if args.scripted_router_port:
        _serve_scripted(args.scripted_router_port, args.tool)
        return 0
    peers, skipped = bench_peers.wanted_peers(args)  # installs need the network: before the fence goes up
    enter_loopback_only()
    processes: dict[str, subprocess.Popen] = {}
    with tempfile.TemporaryDirectory(prefix="xrouter-bench-") as work:
        try:
            paths, processes = _start(args, peers, Path(work), skipped)
            texts = queries(Path(args.data), args.model, max(args.requests, args.rounds))
            results = [row for level in args.levels.split(",") for row in _run_level(args, int(level), paths,
                       processes, texts)]  # fmt: skip
        finally:
            stop(processes)
    _report(args, results, skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
