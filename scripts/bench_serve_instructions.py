"""CPU instructions per request of `xrouter serve`, counted by valgrind's callgrind: a figure load cannot blur.

Wall-clock benchmarks on a shared machine spread by tens of percent from run to run; an instruction count of the
same requests varies by well under one percent. For each source tree given, this starts `xrouter serve` from
that tree under `valgrind --tool=callgrind` (the replay server and the scripted router of
`bench_serve_overhead.py` run normally), sends warm-up requests, zeroes the counters, sends `--requests`
requests one at a time and divides the instructions counted by their number. Needs valgrind (with
`callgrind_control`); a tree other than this checkout is put first on PYTHONPATH.

    .venv/bin/python scripts/bench_serve_instructions.py --tree . --tree /tmp/main-tree --targets http
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
OFFLINE = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_command(tree: Path, args: argparse.Namespace, ports: dict[str, int], out: str) -> list[str]:
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m", "xrouter.cli.main"]
    command += ["serve", "--router-api-base", f"http://127.0.0.1:{ports['router']}/v1", "--router-model", "bench"]
    command += ["--models", args.model, "--no-ledger", "--port", str(ports["serve"]), "--router-timeout-s", "600"]
    command += ["--target-timeout-s", "600", "--request-timeout-s", "1200"]
    if args.targets == "http":
        catalog = tree / "xrouter" / "resources" / "routerbench_models.yaml"
        return [*command, "--catalog", str(catalog), "--target-api-base", f"http://127.0.0.1:{ports['replay']}/v1"]
    return [*command, "--replay-data", args.data]


def _count(tree: Path, args: argparse.Namespace, ports: dict[str, int], queries: list[str], work: Path) -> float:
    """Instructions per request of the server started from `tree`."""
    from xrouter.serve.background import wait_until_serving

    out = str(work / f"callgrind.{tree.name}.%p")
    env = {**os.environ, **OFFLINE}
    if tree.resolve() != REPO:
        env["PYTHONPATH"] = str(tree)
    process = subprocess.Popen(
        _serve_command(tree, args, ports, out), env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{ports['serve']}/health", process, 900.0)
        url = f"http://127.0.0.1:{ports['serve']}/v1/chat/completions"
        with httpx.Client(timeout=600) as client:
            for index, query in enumerate(queries):
                if index == args.warmup:
                    subprocess.run(["callgrind_control", "--zero", str(process.pid)], check=True, capture_output=True)
                body = {"model": "router", "messages": [{"role": "user", "content": query}]}
                client.post(url, json=body).raise_for_status()
        subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True, capture_output=True)
    finally:
        process.terminate()
        process.wait(timeout=120)
    dump = next(iter(glob.glob(out.replace("%p", str(process.pid)) + ".1")))
    for line in Path(dump).read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1]) / args.requests
    raise RuntimeError(f"no totals in {dump}")


def main() -> int:
    """Count instructions per request for each --tree and print them (and JSON with --out)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", required=True, help="source tree to measure (repeatable)")
    parser.add_argument("--targets", choices=["http", "inproc"], default="http",
                        help="targets over HTTP through the call layer (default) or answered in-process")  # fmt: skip
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "routerbench_slices" /
                                              "arc_challenge_train.csv"), help="RouterBench CSV replayed as the target")  # fmt: skip
    parser.add_argument("--model", default="gpt-4-1106-preview", help="target model (name as in the data)")
    parser.add_argument("--requests", type=int, default=300, help="counted requests (default 300)")
    parser.add_argument("--warmup", type=int, default=30, help="requests before counting starts (default 30)")
    parser.add_argument("--out", help="also write {tree: instructions per request} as JSON")
    args = parser.parse_args()
    from xrouter.catalog import tool_name_for
    from xrouter.data.outcomes import load_outcomes
    from xrouter.serve.background import wait_until_serving

    frame = load_outcomes([Path(args.data)]).frame
    texts = list(dict.fromkeys(frame[(frame.model == args.model) & frame.response.notna()].query_text))
    queries = [texts[i % len(texts)] for i in range(args.warmup + args.requests)]
    ports = {name: _free_port() for name in ("replay", "router", "serve")}
    overhead = str(REPO / "scripts" / "bench_serve_overhead.py")
    helpers = [
        subprocess.Popen([sys.executable, overhead, "--replay-port", str(ports["replay"]), "--data", args.data],
                         env={**os.environ, **OFFLINE}, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, overhead, "--scripted-router-port", str(ports["router"]), "--tool",
                          tool_name_for(args.model)], stderr=subprocess.DEVNULL),
    ]  # fmt: skip
    results: dict[str, float] = {}
    try:
        wait_until_serving(f"http://127.0.0.1:{ports['replay']}/health", helpers[0])
        wait_until_serving(f"http://127.0.0.1:{ports['router']}/v1/models", helpers[1])
        with tempfile.TemporaryDirectory(prefix="xrouter-callgrind-") as work:
            for tree in args.tree:
                results[tree] = _count(Path(tree).resolve(), args, ports, queries, Path(work))
                print(f"{tree}: {results[tree]:,.0f} instructions per request ({args.targets} targets)", flush=True)
    finally:
        for helper in helpers:
            helper.terminate()
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
