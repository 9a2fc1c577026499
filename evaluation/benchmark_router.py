"""Benchmark routers against single models and baselines (thin wrapper around `xrouter bench`).

Every argument is passed to `xrouter bench`; run with `--help` for the flags. Example (offline, recorded
RouterBench outcomes, a router served by `xrouter serve` on port 8800):

    python evaluation/benchmark_router.py --dataset data/routerbench_slices --split eval \\
        --policy router:http://127.0.0.1:8800 --policy single:* --policy oracle --out outputs/bench
"""

from __future__ import annotations

import sys

from xrouter.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
