"""A training workspace from RouterBench outcome files: rows, a fixed model pool, tools and traces.

One function runs the project's own commands in order, so the CPU training pipeline, its tests and
users get the same files:

1. `xrouter preprocess-source routerbench --split fit` (held-out queries never reach training);
2. a pool catalog: the chosen RouterBench models, as one fixed set;
3. `xrouter preprocess` with that fixed set as every row's pool (agent or simple mode);
4. `xrouter tools --format verl` for the pool;
5. `xrouter sft-data` warm-start traces for the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from xrouter.errors import DataError, XRouterError


@dataclass(frozen=True)
class Workspace:
    """Files of a prepared workspace."""

    rows: Path
    tools: Path
    catalog: Path
    traces: Path


def pool_catalog(models: Sequence[str], path: Path) -> Path:
    """Write the shipped RouterBench catalog entries of `models`, with fixed set "1" = the pool."""
    from xrouter.catalog.catalog import shipped_catalog_text

    data = yaml.safe_load(shipped_catalog_text("routerbench_models.yaml"))
    known = {m["id"]: m for m in data["models"]}
    missing = [m for m in models if m not in known]
    if missing:
        raise DataError(f"pool models not in the RouterBench catalog: {', '.join(missing)}")
    data["models"] = [known[m] for m in models]
    data["fixed_sets"] = {"1": list(models)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _xrouter(argv: list[str]) -> None:
    from xrouter.cli.main import main

    code = main(argv)
    if code != 0:
        raise XRouterError(f"`xrouter {' '.join(argv)}` failed with exit code {code}")


def prepare(
    work: Path,
    outcomes: Sequence[Path],
    pool: Sequence[str],
    *,
    mode: str = "simple",
    limit: int = 0,
    holdout: float = 0.3,
    split_seed: int = 0,
    sft_args: Sequence[str] = (),
) -> Workspace:
    """Run steps 1-5 into `work` (it must not hold an earlier workspace)."""
    work.mkdir(parents=True, exist_ok=True)
    split = ["--split", "fit", "--holdout", str(holdout), "--split-seed", str(split_seed)]
    source = work / "source"
    for path in outcomes:
        _xrouter(["preprocess-source", "routerbench", "--input", str(path), "--out", str(source),
                  "--limit", str(limit), *split])  # fmt: skip
    catalog = pool_catalog(pool, work / "pool_catalog.yaml")
    rows = work / "rows"
    mode_flag = ["--simple-mode"] if mode == "simple" else []
    _xrouter(["preprocess", "--input-dir", str(source), "--output-dir", str(rows), "--num-repetitions", "1",
              "--catalog", str(catalog), "--catalog-only", "--use-fixed-set-only", "--fixed-set-choice", "1",
              "--workers", "1", *mode_flag])  # fmt: skip
    tools = work / "tools.yaml"
    simple = ["--simple"] if mode == "simple" else []
    _xrouter(["tools", "--models", ",".join(pool), "--format", "verl", "--catalog", str(catalog),
              "--out", str(tools), *simple])  # fmt: skip
    traces = work / "sft.parquet"
    answers = ["--outcomes", *map(str, outcomes)] if mode == "agent" else []
    _xrouter(["sft-data", "--rows", str(rows), "--tools", str(tools), "--out", str(traces), "--holdout",
              str(holdout), "--split-seed", str(split_seed), *answers, *sft_args])  # fmt: skip
    return Workspace(rows=rows, tools=tools, catalog=catalog, traces=traces)
