"""Summaries of benchmark samples: per policy x dataset metrics, Pareto membership, AIQ per policy family.

`on_pareto` is membership among the achievable policies (everything but `oracle`, which needs hindsight and
would otherwise dominate every other point); the oracle row is judged against all points.

AIQ is computed per dataset (cost per 1k queries, log10 axis) over a stated range: by default the costs where
every curve is defined (the intersection of the cost spans of the families with two or more points, so no curve
is charged for costs it never tried), else the span of all points with a positive cost; for each policy family:
all `single:*` points together (the non-routing baseline), each `learned:<DIR>` across its lambdas, and every
other policy on its own; only families with at least two points get a value. Below a family's cheapest point its
quality counts as 0 (relevant only with an explicit --aiq-range).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from xrouter.eval.metrics import aiq, cost_per_correct, pareto_mask

ALL = "all"
SUMMARY_COLUMNS = [
    "policy", "dataset", "n", "accuracy", "cost_per_query_usd", "cost_per_1k_usd", "cost_per_correct_usd",
    "calls_per_query", "latency_median_s", "latency_p95_s", "errors", "model_share", "dropped_incomplete",
    "on_pareto", "family", "family_aiq",
]  # fmt: skip


def policy_family(policy: str) -> str:
    """The curve a policy belongs to for AIQ: `single`, `learned:<DIR>`, or the policy itself."""
    if policy.startswith("single:"):
        return "single"
    if policy.startswith("learned:"):
        from xrouter.eval.learned import parse_learned_policy

        return "learned:" + parse_learned_policy(policy[len("learned:") :])[0]
    return policy


def _row(policy: str, dataset: str, part: pd.DataFrame, dropped: int) -> dict[str, Any]:
    n = len(part)
    total_cost = float(part["cost_usd"].sum())
    shares: dict[str, float] = {}
    for models in part["models"]:
        for m in models or ["(none)"]:
            shares[m] = shares.get(m, 0.0) + 1.0 / max(1, len(models or ["(none)"]))
    share = {m: round(v / n, 4) for m, v in sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))}
    latency = part["latency_s"].astype(float)
    return {
        "policy": policy,
        "dataset": dataset,
        "n": n,
        "accuracy": float(part["score"].mean()),
        "cost_per_query_usd": total_cost / n,
        "cost_per_1k_usd": 1000.0 * total_cost / n,
        "cost_per_correct_usd": cost_per_correct(total_cost, float(part["score"].sum())),
        "calls_per_query": float(part["calls"].mean()),
        "latency_median_s": float(latency.median()),
        "latency_p95_s": float(np.percentile(latency, 95)),
        "errors": int(part["error"].notna().sum()),
        "model_share": json.dumps(share),
        "dropped_incomplete": dropped,
    }


def _common_range(part: pd.DataFrame) -> tuple[float, float] | None:
    """Default AIQ range: where every curve (family of 2+ points) is defined, else the span of all points."""
    pts = part[part["cost_per_1k_usd"] > 0]
    if pts.empty:
        return None
    spans = [(g["cost_per_1k_usd"].min(), g["cost_per_1k_usd"].max()) for _, g in pts.groupby("family") if len(g) > 1]
    lo, hi = (max(s[0] for s in spans), min(s[1] for s in spans)) if spans else (0.0, 0.0)
    if not spans or lo >= hi:
        lo, hi = pts["cost_per_1k_usd"].min(), pts["cost_per_1k_usd"].max()
    return float(lo), float(hi)


def summarize(
    samples: Sequence[dict[str, Any]],
    policies: Sequence[str],
    *,
    dropped: dict[str, int] | None = None,
    aiq_range: tuple[float, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, aiq) frames; rows follow the order of `policies`, datasets sorted, `all` last when several."""
    frame = pd.DataFrame(list(samples))
    dropped = dropped or {}
    rows = []
    datasets = sorted(frame["dataset"].unique()) if len(frame) else []
    for policy in policies:
        mine = frame[frame["policy"] == policy] if len(frame) else frame
        for dataset in datasets:
            part = mine[mine["dataset"] == dataset]
            if len(part):
                rows.append(_row(policy, dataset, part, dropped.get(dataset, 0)))
        if len(datasets) > 1 and len(mine):
            rows.append(_row(policy, ALL, mine, sum(dropped.get(d, 0) for d in datasets)))
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS[:13])
    summary["on_pareto"] = False
    summary["family"] = [policy_family(p) for p in summary["policy"]]
    summary["family_aiq"] = np.nan
    aiq_rows = []
    for dataset, idx in summary.groupby("dataset", sort=False).groups.items():
        part = summary.loc[idx]
        # Pareto membership among achievable policies: the oracle needs hindsight and would dominate everything
        real = part[part["policy"] != "oracle"]
        if len(real):
            summary.loc[real.index, "on_pareto"] = pareto_mask(
                real["cost_per_1k_usd"].tolist(), real["accuracy"].tolist()
            )
        everyone = pareto_mask(part["cost_per_1k_usd"].tolist(), part["accuracy"].tolist())
        is_oracle = (part["policy"] == "oracle").to_numpy()
        summary.loc[part.index[is_oracle], "on_pareto"] = everyone[is_oracle]
        bounds = aiq_range or _common_range(part)
        if bounds is None:
            continue
        lo, hi = bounds
        for family, fam in part.groupby("family", sort=False):
            fam = fam[fam["cost_per_1k_usd"] > 0]
            if len(fam) < 2:
                continue  # one point is not a curve: AIQ is reported for families of two or more points
            value = aiq(fam["cost_per_1k_usd"].tolist(), fam["accuracy"].tolist(), cost_min=lo, cost_max=hi)
            summary.loc[fam.index, "family_aiq"] = value.value
            aiq_rows.append({"dataset": dataset, "family": family, "aiq": value.value, "cost_min_per_1k_usd": lo,
                             "cost_max_per_1k_usd": hi, "cost_axis": "log10"})  # fmt: skip
    summary["on_pareto"] = summary["on_pareto"].astype(bool)
    return summary[SUMMARY_COLUMNS], pd.DataFrame(aiq_rows)


def failures(samples: list[dict[str, Any]]) -> dict[str, tuple[int, int, str]]:
    """Per policy with failed queries: (failed, total, first error message), so a dead backend is not silent."""
    total: dict[str, int] = {}
    failed: dict[str, tuple[int, str]] = {}
    for s in samples:
        total[s["policy"]] = total.get(s["policy"], 0) + 1
        if s.get("error"):
            n, first = failed.get(s["policy"], (0, str(s["error"])))
            failed[s["policy"]] = (n + 1, first)
    return {p: (n, total[p], first) for p, (n, first) in failed.items()}


def render_table(summary: pd.DataFrame, console: Any, *, title: str = "xrouter bench") -> None:
    """Print the summary as a rich table (only the pooled `all` rows when there are several datasets)."""
    from rich.table import Table

    from xrouter.eval.plots import short_label

    shown = summary[summary["dataset"] == ALL] if (summary["dataset"] == ALL).any() else summary
    if len(shown) < len(summary):
        title += " - all datasets pooled; per-dataset rows in summary.csv"
    table = Table(title=title, show_lines=False)
    table.add_column("policy", no_wrap=True)
    if shown["dataset"].nunique() > 1:
        table.add_column("dataset", no_wrap=True)
    for header in ("n", "accuracy", "$/1k", "$/correct", "calls/q", "p50 ms", "p95 ms", "pareto", "AIQ"):
        table.add_column(header, justify="right")
    table.add_column("top model (share)", no_wrap=True, max_width=34, overflow="ellipsis")
    for row in shown.itertuples(index=False):
        share = json.loads(row.model_share)
        top = next(iter(share.items()), ("-", 0.0))
        cells = [short_label(row.policy)] + ([row.dataset] if shown["dataset"].nunique() > 1 else [])
        cells += [
            str(row.n), f"{row.accuracy:.3f}", f"{row.cost_per_1k_usd:.3f}", f"{row.cost_per_correct_usd:.5f}",
            f"{row.calls_per_query:.2f}", f"{1000 * row.latency_median_s:.1f}", f"{1000 * row.latency_p95_s:.1f}",
            "*" if row.on_pareto else "", "" if pd.isna(row.family_aiq) else f"{row.family_aiq:.3f}",
            f"{top[0]} ({top[1]:.0%})",
        ]  # fmt: skip
        table.add_row(*cells)
    console.print(table)
