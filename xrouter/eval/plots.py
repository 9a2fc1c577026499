"""Cost-quality frontier plot: accuracy against dollars per 1k queries on a log cost axis.

The dashed line is the upper convex hull of the achievable policies (every point except `oracle`, which
needs hindsight and is drawn as a red star). The hull is convex in linear cost, so on the log axis it is
drawn as the curve it really is. Points at the same place share one label.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from xrouter.errors import DataError
from xrouter.eval.metrics import upper_hull
from xrouter.io import atomic_path

_FAMILY_COLORS = {"single": "tab:blue", "learned": "tab:orange", "router": "tab:green", "oracle": "tab:red",
                  "hf": "tab:purple"}  # fmt: skip


def short_label(label: str) -> str:
    """Compact policy label for plots and tables: `learned:/a/b/knn:30` -> `learned:knn λ=30`."""
    from xrouter.eval.sweep import split_swept

    base, swept = split_swept(label)
    if swept is not None:
        return f"{short_label(base)} λ={swept:g}"
    if label.startswith("learned:"):
        from xrouter.eval.learned import parse_learned_policy

        folder, lam = parse_learned_policy(label[len("learned:") :])
        name = Path(folder).name or folder
        return f"learned:{name}" + ("" if lam is None else f" λ={lam:g}")
    return label


def _color(label: str) -> str:
    return _FAMILY_COLORS.get(label.split(":", 1)[0], "0.45")


def plot_frontier(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    title: str = "",
    label_col: str = "policy",
    hull: bool = True,
    cost_col: str = "cost_per_1k_usd",
    quality_col: str = "accuracy",
    hindsight: Collection[str] = ("oracle",),
) -> Path:
    """Scatter accuracy vs cost per 1k queries (log x), label each point, draw the upper hull; write a PNG.

    Points with a non-positive cost are drawn at half the smallest positive cost so the log axis can show them.
    Points whose label is in `hindsight` (e.g. the oracle, or reward-optimal points that know every outcome)
    are drawn but left out of the hull, which covers only policies a router can actually run.
    """
    import matplotlib

    matplotlib.use("Agg")  # chosen here, not at import, so importing xrouter never touches a GUI backend
    import matplotlib.pyplot as plt

    for column in (label_col, cost_col, quality_col):
        if column not in frame.columns:
            raise DataError(f"plot_frontier: frame has no column {column!r} (columns: {', '.join(frame.columns)})")
    data = frame.dropna(subset=[cost_col, quality_col]).copy()
    if data.empty:
        raise DataError("plot_frontier: no rows with both a cost and an accuracy to plot")
    positive = data.loc[data[cost_col] > 0, cost_col]
    floor = float(positive.min()) / 2 if not positive.empty else 1e-6
    data["_x"] = data[cost_col].where(data[cost_col] > 0, floor)
    data["_label"] = data[label_col].astype(str)

    fig, ax = plt.subplots(figsize=(10, 6.5), dpi=110)
    try:
        groups = data.groupby([data["_x"].round(12), data[quality_col].round(12)], sort=False)
        for (x, y), part in groups:
            labels = list(dict.fromkeys(part["_label"]))
            first = labels[0]
            is_oracle = "oracle" in labels
            ax.scatter([x], [y], color=_color("oracle" if is_oracle else first), s=90 if is_oracle else 30,
                       marker="*" if is_oracle else "o", zorder=3)  # fmt: skip
            # below-right of the point: the upper hull never runs below a point, so it cannot cross the label
            ax.annotate(" = ".join(short_label(lab) for lab in labels), (x, y), fontsize=7, xytext=(5, -4),
                        textcoords="offset points", color="0.15", va="top")  # fmt: skip
        _sweep_lines(ax, data, quality_col)
        achievable = data[~data["_label"].isin(set(hindsight))]
        if hull and len(achievable) > 1:
            vertices = upper_hull(achievable["_x"].tolist(), achievable[quality_col].tolist())
            xs, ys = _curve(vertices)
            ax.plot(
                xs, ys, color="0.3", linewidth=1.1, linestyle="--", zorder=2, label="upper hull of achievable policies"
            )
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
        ax.set_xscale("log")
        _dollar_ticks(ax, float(data["_x"].min()), float(data["_x"].max()))
        ax.set_xlabel("cost per 1k queries (USD, log scale)")
        ax.set_ylabel("accuracy")
        ax.grid(True, which="both", alpha=0.3)
        if title:
            ax.set_title(title, fontsize=10)
        fig.tight_layout()
        target = Path(path)
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return target


def _sweep_lines(ax, data: pd.DataFrame, quality_col: str) -> None:  # noqa: ANN001 - a matplotlib Axes
    """Join the λ points of each swept policy (`--lambda`) in λ order: one router's curve."""
    from xrouter.eval.sweep import split_swept

    parts = [split_swept(label) for label in data["_label"]]
    swept = data.assign(_base=[b for b, _ in parts], _lam=[lam for _, lam in parts]).dropna(subset=["_lam"])
    for base, part in swept.groupby("_base", sort=False):
        if len(part) < 2:
            continue
        part = part.sort_values("_lam")
        ax.plot(part["_x"], part[quality_col], color=_color(str(base)), linewidth=1.2, alpha=0.8, zorder=2,
                label=f"{short_label(str(base))}: λ {part['_lam'].min():g} to {part['_lam'].max():g}")  # fmt: skip


def _curve(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hull segments (linear in cost) sampled densely so they render as curves on a log axis."""
    if len(vertices) < 2:
        return vertices[:, 0], vertices[:, 1]
    xs = np.concatenate([np.geomspace(a, b, 32) for a, b in zip(vertices[:-1, 0], vertices[1:, 0], strict=True)])
    return xs, np.interp(xs, vertices[:, 0], vertices[:, 1])


def cost_ticks(lo: float, hi: float) -> list[float]:
    """Tick positions for a log cost axis over [lo, hi]: 1-2-5 steps, or every integer step if that gives < 3."""
    decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    ticks: list[float] = []
    for steps in ((1, 2, 5), tuple(range(1, 10))):
        ticks = [float(f"{m * 10.0**e:.12g}") for e in decades for m in steps if lo <= m * 10.0**e <= hi]
        if len(ticks) >= 3:
            break
    return ticks


def _dollar_ticks(ax, lo: float, hi: float) -> None:  # noqa: ANN001 - a matplotlib Axes
    """Major ticks from `cost_ticks`, labelled in dollars; no minor labels."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ax.xaxis.set_major_locator(FixedLocator(cost_ticks(lo / 1.15, hi * 1.15)))  # 1.15: the axis margin
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: dollars(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def dollars(value: float) -> str:
    """`$0.05`, `$2`, `$0.0002`: plain decimals, never powers of ten."""
    return "$" + (f"{value:.10f}".rstrip("0").rstrip(".") if value < 1 else f"{value:g}")
