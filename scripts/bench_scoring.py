"""Benchmark quality scoring throughput: 1,000 MATH-500-style answers (math-verify) and the 164 HumanEval
canonical solutions (sandboxed), each with 1 worker (the baseline, same run) and with N workers.

    LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_scoring.py \
        --data data/evalsets --workers 2 --repeats 3

Math answers: for each MATH-500 problem, its reference worked solution (usually settled by the exact
boxed-answer fast path) and a wrong boxed answer (always goes through math-verify parsing and comparison).
Math runs in a process pool (math-verify holds the GIL); code runs in a thread pool because each test run is
already a separate sandboxed process. Figures are medians over --repeats runs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from xrouter.io import read_jsonl
from xrouter.reward.sandbox import isolation_report
from xrouter.reward.scorers import score


def _jsonl(path: Path) -> list[dict]:
    return [row for _, row in read_jsonl(path)]


def math_items(data: Path, n: int) -> list[tuple[str, str]]:
    """n (solution, gold) pairs: alternately a reference solution and a wrong boxed answer."""
    problems = _jsonl(data / "math500" / "test.jsonl")
    items = []
    for p in problems:
        items.append((p["solution"], p["answer"]))
        items.append((f"After simplifying, the result is \\boxed{{{p['answer']}+1}}.", p["answer"]))
    return (items * (n // len(items) + 1))[:n]


def _score_math_chunk(chunk: list[tuple[str, str]]) -> float:
    return sum(score("math500", s, g).score for s, g in chunk)


def _score_code(item: dict) -> float:
    spec = {"test": item["test"], "entry_point": item["entry_point"], "prompt": item["prompt"]}
    return score("humaneval", item["canonical_solution"], spec).score


def run_math(items: list[tuple[str, str]], workers: int) -> tuple[float, float]:
    """(seconds, total score) to score `items` with `workers` processes."""
    # Shuffle first: the items alternate fast (reference) and slow (wrong, full math-verify) answers, so
    # a strided split would hand every slow answer to one worker.
    mixed = list(items)
    random.Random(0).shuffle(mixed)
    chunks = [mixed[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_score_math_chunk, [c[:2] for c in chunks]))  # warm up imports outside the timing
        start = time.perf_counter()
        total = sum(pool.map(_score_math_chunk, chunks))
    return time.perf_counter() - start, total


def run_code(problems: list[dict], workers: int) -> tuple[float, float]:
    """(seconds, number passed) for the canonical solutions with `workers` concurrent sandboxes."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        passed = sum(pool.map(_score_code, problems))
    return time.perf_counter() - start, passed


def _report(name: str, n: int, timings: dict[int, list[float]], result: float) -> None:
    base = statistics.median(timings[1])
    for workers, runs in timings.items():
        med = statistics.median(runs)
        print(f"{name:9s} workers={workers}  n={n}  median {med:6.2f} s  {n / med:8.1f} items/s  "
              f"speed-up x{base / med:4.2f}  (score sum {result:g})")  # fmt: skip


def main() -> None:
    """Parse flags, run both benchmarks, print medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("XROUTER_DATA") or "data") / "evalsets",
                        help="the evalsets folder (with math500/ and humaneval/)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel workers to compare with 1")
    parser.add_argument("--math-n", type=int, default=1000, help="number of math answers to score")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (the median is reported)")
    args = parser.parse_args()
    if min(args.workers, args.math_n, args.repeats) < 1:
        parser.error("--workers, --math-n and --repeats must be >= 1")
    print(f"sandbox: {isolation_report()}; cpu_count={os.cpu_count()} (shared machine: figures are noisy)")
    items = math_items(args.data, args.math_n)
    problems = _jsonl(args.data / "humaneval" / "HumanEval.jsonl")
    worker_counts = sorted({1, args.workers})
    math_t: dict[int, list[float]] = {w: [] for w in worker_counts}
    code_t: dict[int, list[float]] = {w: [] for w in worker_counts}
    math_total = code_total = 0.0
    for _ in range(args.repeats):
        for w in worker_counts:
            seconds, math_total = run_math(items, w)
            math_t[w].append(seconds)
            seconds, code_total = run_code(problems, w)
            code_t[w].append(seconds)
    _report("math", len(items), math_t, math_total)
    _report("humaneval", len(problems), code_t, code_total)


if __name__ == "__main__":
    main()
