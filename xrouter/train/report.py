"""Reading a training run's step metrics (verl's `file` logger) into series, a summary and a plot.

`plot_training` draws the six panels a router run is judged by: reward, answer accuracy, cost per 1k
queries, model calls per query, each pool model's share of the calls, the valid-tool-call rate, plus the
step time. matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PANELS = (
    ("critic/score/mean", "reward (mean)", 1.0),
    ("xrouter/acc/mean", "accuracy", 1.0),
    ("xrouter/cost_usd/mean", "cost per 1k queries ($)", 1000.0),
    ("xrouter/num_calls/mean", "model calls per query", 1.0),
    ("xrouter/valid_tool_call_rate", "valid tool calls", 1.0),
    ("timing_s/step", "step time (s)", 1.0),
)


def read_steps(metrics: Path) -> list[tuple[int, dict[str, Any]]]:
    """(step, metrics) of every training step in a metrics JSONL (validation-only lines skipped)."""
    steps = []
    for line in metrics.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        data = row.get("data", {})
        if "timing_s/step" in data or "train/loss" in data:
            steps.append((int(row["step"]), data))
    return steps


def series(steps: Sequence[tuple[int, dict[str, Any]]], key: str, scale: float = 1.0) -> tuple[list[int], list[float]]:
    """The steps that logged `key` and its values times `scale`."""
    xs, ys = [], []
    for step, data in steps:
        if isinstance(data.get(key), (int, float)):
            xs.append(step)
            ys.append(float(data[key]) * scale)
    return xs, ys


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(metrics: Path, window: int = 5) -> dict[str, Any]:
    """First and last `window` steps' means of the panel metrics, the step count and the mean step time."""
    steps = read_steps(metrics)
    out: dict[str, Any] = {"steps": len(steps)}
    for key, _, scale in PANELS:
        _, ys = series(steps, key, scale)
        out[key] = {"first": _mean(ys[:window]), "last": _mean(ys[-window:])}
    phases = ("gen", "old_log_prob", "update_actor", "update_weights", "step")
    out["mean_timing_s"] = {p: _mean(series(steps, f"timing_s/{p}")[1]) for p in phases}
    return out


def plot_training(metrics: Path, out: Path, pool: Sequence[str]) -> Path:
    """Draw the step metrics of a run into one PNG (3 x 3 panels) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = read_steps(metrics)
    fig, axes = plt.subplots(3, 3, figsize=(13, 10))
    flat = list(axes.flat)
    for ax, (key, title, scale) in zip(flat, PANELS, strict=False):
        xs, ys = series(steps, key, scale)
        ax.plot(xs, ys, marker=".", linewidth=1)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    share = flat[len(PANELS)]
    for model in pool:
        xs, ys = series(steps, f"xrouter/model_share/{model}")
        share.plot(xs, ys, marker=".", linewidth=1, label=model.split("/")[-1])
    share.set_title("share of the calls per model")
    share.set_xlabel("step")
    share.legend(fontsize=7)
    share.grid(alpha=0.3)
    keep = flat[len(PANELS) + 1]
    xs, ys = series(steps, "xrouter/filter_keep_rate")
    keep.plot(xs, ys, marker=".", linewidth=1)
    keep.set_title("groups kept by the DAPO filter")
    keep.set_xlabel("step")
    keep.grid(alpha=0.3)
    flat[-1].axis("off")
    fig.suptitle(f"CPU DAPO run: {metrics.parent.name}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
