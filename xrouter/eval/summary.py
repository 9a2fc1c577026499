"""Summaries of benchmark samples: per policy x dataset metrics, Pareto membership, AIQ per policy family.

`on_pareto` is membership among the achievable policies (everything but `oracle`, which needs hindsight and
would otherwise dominate every other point); the oracle row is judged against all points.

AIQ is computed per dataset (cost per 1k queries, log10 axis) over a stated range: by default the costs where
every curve is defined (the intersection of the cost spans of the families with two or more points, so no curve
is charged for costs it never tried), else the span of all points with a positive cost; for each policy family:
all `single:*` points together (the non-routing baseline), each `learned:<DIR>` across its lambdas, each
policy swept with `--lambda` across its λ points (`<policy>@lambda=<λ>`), and every other policy on its own; only families with at least two points get a value. Below a family's cheapest point its
quality counts as 0 (relevant only with an explicit --aiq-range).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from xrouter.eval.metrics import aiq, cost_per_correct, cost_to_reach, hull_quality_at, pareto_mask, upper_hull

ALL = "all"
BUDGETS = (0.5, 1.0)  # USD per 1k queries at which aiq.csv reports each family's accuracy
SUMMARY_COLUMNS = [
    "policy", "dataset", "n", "accuracy", "cost_per_query_usd", "cost_per_1k_usd", "cost_per_correct_usd",
    "calls_per_query", "latency_median_s", "latency_p95_s", "errors", "model_share", "dropped_incomplete",
    "on_pareto", "family", "family_aiq",
]  # fmt: skip


def policy_family(policy: str) -> str:
    """The curve a policy belongs to for AIQ: `single`, `learned:<DIR>`, a λ-swept policy, or the policy itself."""
    from xrouter.eval.sweep import split_swept

    policy = split_swept(policy)[0]  # the points of one λ sweep are one curve
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
    baseline: str | None = None,
    resamples: int = 1000,
    seed: int = 0,
    budgets: Sequence[float] = BUDGETS,
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
                             "cost_max_per_1k_usd": hi, "cost_axis": "log10",
                             **_hull_facts(fam, part, budgets)})  # fmt: skip
    summary["on_pareto"] = summary["on_pareto"].astype(bool)
    aiq_frame = pd.DataFrame(aiq_rows)
    if baseline is not None and len(aiq_frame):
        aiq_frame = _against_baseline(aiq_frame, frame, summary, baseline, resamples, seed)
    return summary[SUMMARY_COLUMNS], aiq_frame


def _hull_facts(fam: pd.DataFrame, part: pd.DataFrame, budgets: Sequence[float]) -> dict[str, float]:
    """Accuracy the family's hull reaches at each budget, and the cost to reach the best single model."""
    hull = upper_hull(fam["cost_per_1k_usd"].tolist(), fam["accuracy"].tolist())
    facts = {f"accuracy_at_{b:g}_per_1k": hull_quality_at(hull, b) for b in budgets}
    singles = part[part["family"] == "single"]
    best = float(singles["accuracy"].max()) if len(singles) else float("nan")
    facts["cost_per_1k_to_best_single"] = cost_to_reach(hull, best) if best == best else float("nan")
    return facts


def _against_baseline(aiq_frame: pd.DataFrame, frame: pd.DataFrame, summary: pd.DataFrame, baseline: str,
                      resamples: int, seed: int) -> pd.DataFrame:  # fmt: skip
    """Add each family's AIQ difference against `baseline` with its paired bootstrap 95% interval."""
    from xrouter.eval.bootstrap import paired_aiq_differences

    out = []
    for dataset, rows in aiq_frame.groupby("dataset", sort=False):
        rows = rows.copy()
        if baseline in set(rows["family"]):
            part = frame if dataset == ALL else frame[frame["dataset"] == dataset]
            score = part.pivot_table(index=["dataset", "query_id"], columns="policy", values="score")
            cost = part.pivot_table(index=["dataset", "query_id"], columns="policy", values="cost_usd")
            mine = summary[(summary["dataset"] == dataset) & (summary["cost_per_1k_usd"] > 0)]
            families = {f: list(g["policy"]) for f, g in mine.groupby("family", sort=False) if f in set(rows["family"])}
            points = {p: (score[p].to_numpy(), cost[p].to_numpy()) for ps in families.values() for p in ps}
            lo, hi = float(rows["cost_min_per_1k_usd"].iloc[0]), float(rows["cost_max_per_1k_usd"].iloc[0])
            diffs = paired_aiq_differences(points, families, baseline, cost_range=(lo, hi), resamples=resamples,
                                           seed=seed)  # fmt: skip
            rows["aiq_diff_vs_baseline"] = [diffs[f].value for f in rows["family"]]
            rows["diff_ci_low"] = [diffs[f].low for f in rows["family"]]
            rows["diff_ci_high"] = [diffs[f].high for f in rows["family"]]
            rows["beats_baseline"] = [diffs[f].beats for f in rows["family"]]
            rows["baseline"] = baseline
        out.append(rows)
    return pd.concat(out, ignore_index=True)


def verdict(aiq_frame: pd.DataFrame, dataset: str = ALL) -> str:
    """One sentence: which routers beat the baseline on `dataset` (the whole paired interval above zero)."""
    rows = aiq_frame[aiq_frame["dataset"] == dataset] if (aiq_frame["dataset"] == dataset).any() else aiq_frame
    if "baseline" not in rows.columns or rows["baseline"].isna().all():
        return "no table baseline in this run (add learned:<DIR fitted with --kind table>:<lambda> policies)"
    base = str(rows["baseline"].dropna().iloc[0])
    others = rows[rows["family"] != base].dropna(subset=["aiq_diff_vs_baseline"])
    winners = others[others["beats_baseline"].astype(bool)]
    if winners.empty:
        return (f"no router beats the table ({base}): every paired 95% interval of the AIQ difference includes 0"
                " or lies below it")
    parts = [f"{r.family} (+{r.aiq_diff_vs_baseline:.4f}, 95% CI {r.diff_ci_low:+.4f} to {r.diff_ci_high:+.4f})"
             for r in winners.itertuples()]  # fmt: skip
    return f"beats the table ({base}) with the paired 95% interval above zero: " + "; ".join(parts)


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


def render_aiq(aiq_frame: pd.DataFrame, console: Any) -> None:
    """Print the AIQ of every family (pooled rows when there are several datasets) and the verdict sentence."""
    from rich.table import Table

    rows = aiq_frame[aiq_frame["dataset"] == ALL] if (aiq_frame["dataset"] == ALL).any() else aiq_frame
    table = Table(show_lines=False)
    columns = ["family", "AIQ", "vs table", "95% CI", "acc @$0.5/1k", "acc @$1/1k", "$/1k to best single"]
    for n, header in enumerate(columns):
        table.add_column(header, justify="left" if n == 0 else "right", no_wrap=n == 0)
    for r in rows.to_dict("records"):
        name = "zero router (hull of single models)" if r["family"] == "single" else r["family"]
        diff = r.get("aiq_diff_vs_baseline", float("nan"))
        ci = "" if diff != diff else f"{r['diff_ci_low']:+.4f} to {r['diff_ci_high']:+.4f}"
        table.add_row(name, f"{r['aiq']:.4f}", "" if diff != diff else f"{diff:+.4f}", ci,
                      *(_num(r.get(k)) for k in ("accuracy_at_0.5_per_1k", "accuracy_at_1_per_1k")),
                      _num(r.get("cost_per_1k_to_best_single"), "{:.3f}"))  # fmt: skip
    console.print(table)
    console.print(verdict(aiq_frame), markup=False, highlight=False)


def _num(value: Any, fmt: str = "{:.3f}") -> str:
    return "-" if value is None or value != value else fmt.format(value)
