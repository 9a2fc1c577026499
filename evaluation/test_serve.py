"""Smoke-test a running xrouter API server with the stock openai SDK, one request per category.

    .venv/bin/python evaluation/test_serve.py                      # all categories against :8800
    .venv/bin/python evaluation/test_serve.py --test math --url http://127.0.0.1:8800/v1
    .venv/bin/python evaluation/test_serve.py --models             # list what the server routes to

Each case prints the answer (shortened), the routing strategy, the model used, the cost split
(router / target models) and the wall time; `all` ends with a table and the totals. Exit code 1
if any case failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

CASES: dict[str, list[dict[str, str]]] = {
    "simple": [{"role": "user", "content": "What is 2 + 2?"}],
    "math": [{"role": "user", "content": "Solve 3x^2 + 5x - 2 = 0 step by step and give both roots."}],
    "coding": [
        {
            "role": "user",
            "content": "Write a Python function binary_search(items: list[int], target: int) -> int with type "
            "hints that returns the index or -1, and raises TypeError for non-list input.",
        }
    ],
    "reasoning": [
        {
            "role": "user",
            "content": "100 doors start closed. On pass k you toggle every k-th door, for k = 1..100. "
            "Which doors are open at the end, and why?",
        }
    ],
    "conversation": [
        {"role": "user", "content": "I'm planning a birthday party for 12 people. Give me a short checklist."},
        {"role": "assistant", "content": "Venue, invitations, food and drinks, cake, decorations, music, games."},
        {"role": "user", "content": "My budget is $200. How should I split it across that list?"},
    ],
    "creative": [{"role": "user", "content": "Write a six-sentence story about a robot that dreams."}],
    "system_prompt": [
        {"role": "system", "content": "You are a patient math tutor. Explain each step for a 15-year-old."},
        {"role": "user", "content": "What is the derivative of x^3 * sin(x)?"},
    ],
}


def run_case(client: Any, name: str, model: str) -> dict[str, Any]:
    """Send one case; returns what the summary needs (errors are caught and reported)."""
    started = time.perf_counter()
    try:
        completion = client.chat.completions.create(model=model, messages=CASES[name])
    except Exception as exc:  # report any client/server failure as a failed case, keep going
        return {"case": name, "ok": False, "error": f"{exc.__class__.__name__}: {exc}", "time": 0.0}
    meta = (completion.model_extra or {}).get("router_metadata") or {}
    return {
        "case": name,
        "ok": True,
        "answer": completion.choices[0].message.content or "",
        "time": time.perf_counter() - started,
        "strategy": meta.get("routing_strategy", "?"),
        "model_used": meta.get("model_used", "?"),
        "models_called": meta.get("models_called", []),
        "router_cost": float(meta.get("router_cost") or 0.0),
        "target_cost": float(meta.get("target_models_cost") or 0.0),
        "total_cost": float(meta.get("total_cost") or 0.0),
        "turns": meta.get("turns_used", 0),
    }


def main() -> int:
    """Parse flags and run the selected cases."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8800/v1", help="server base URL (default %(default)s)")
    parser.add_argument(
        "--api-key", default=os.environ.get("XROUTER_API_KEY", "none"), help="bearer key ($XROUTER_API_KEY)"
    )
    parser.add_argument("--model", default="router", help="model name to request (default: router)")
    parser.add_argument("--test", choices=[*CASES, "all"], default="all", help="which case to run (default: all)")
    parser.add_argument("--models", action="store_true", help="list the server's models and exit")
    parser.add_argument("--info", action="store_true", help="print GET /health and exit")
    args = parser.parse_args()

    import httpx
    from openai import OpenAI
    from rich.console import Console
    from rich.table import Table

    console = Console()
    client = OpenAI(base_url=args.url, api_key=args.api_key, max_retries=0, timeout=600)
    if args.info:
        console.print_json(httpx.get(args.url.rsplit("/v1", 1)[0] + "/health", timeout=10).text)
        return 0
    if args.models:
        for model in client.models.list().data:
            console.print(f"{model.id}  [dim]{model.owned_by}[/dim]")
        return 0
    names = list(CASES) if args.test == "all" else [args.test]
    results = []
    for name in names:
        result = run_case(client, name, args.model)
        results.append(result)
        if not result["ok"]:
            console.print(f"[red]{name}: FAILED[/red] {result['error']}")
            continue
        console.rule(f"{name}: {result['strategy']} via {result['model_used']} ({result['time']:.1f}s)")
        console.print(result["answer"][:400] + ("…" if len(result["answer"]) > 400 else ""))
        console.print(
            f"[dim]cost ${result['total_cost']:.6f} = router ${result['router_cost']:.6f} + targets "
            f"${result['target_cost']:.6f}; called {result['models_called'] or 'none'}; turns {result['turns']}[/dim]"
        )
    table = Table(title="xrouter serve smoke test")
    for column in ("case", "ok", "strategy", "model used", "cost USD", "time s"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r["case"],
            "yes" if r["ok"] else "no",
            r.get("strategy", ""),
            str(r.get("model_used", "")),
            f"{r.get('total_cost', 0.0):.6f}",
            f"{r['time']:.2f}",
        )
    console.print(table)
    ok = sum(r["ok"] for r in results)
    total_cost = sum(r.get("total_cost", 0.0) for r in results)
    console.print(
        f"{ok}/{len(results)} succeeded, total cost ${total_cost:.6f}, {sum(r['time'] for r in results):.1f}s"
    )
    return 0 if ok == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
