"""Fixtures for the evaluation tests: a 30-query RouterBench slice and a replay server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from xrouter.data.outcomes import load_outcomes
from xrouter.serve.background import BackgroundServer


@pytest.fixture(scope="session")
def routerbench_dir(shared_data: Path) -> Path:
    """The RouterBench slices folder (train files only)."""
    folder = shared_data / "routerbench_slices"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return folder


@pytest.fixture(scope="session")
def slice30(routerbench_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 rows of the train files (10 per benchmark), with one ARC row that has a missing outcome (row 75)."""
    parts = []
    for name in ("arc_challenge_train.csv", "mbpp_train.csv", "winograde_train.csv"):
        wide = pd.read_csv(routerbench_dir / name)
        rows = [75, *range(1, 10)] if name.startswith("arc") else list(range(10))
        parts.append(wide.iloc[rows])
    out = tmp_path_factory.mktemp("slice") / "slice30_train.csv"
    pd.concat(parts, ignore_index=True).to_csv(out, index=False)
    return out


@pytest.fixture(scope="session")
def train_subset(routerbench_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 rows of the train files (160 ARC, 80 MBPP, 160 Winogrande): small enough to embed quickly on CPU."""
    parts = []
    for name, n in (("arc_challenge_train.csv", 160), ("mbpp_train.csv", 80), ("winograde_train.csv", 160)):
        parts.append(pd.read_csv(routerbench_dir / name).iloc[:n])
    out = tmp_path_factory.mktemp("subset") / "subset400_train.csv"
    pd.concat(parts, ignore_index=True).to_csv(out, index=False)
    return out


@pytest.fixture(scope="session")
def replay_server(slice30: Path) -> Iterator[BackgroundServer]:
    """`create_replay_app` over the 30-query slice, served over real HTTP."""
    from xrouter.llm.replay import ReplayStore, create_replay_app

    with BackgroundServer(create_replay_app(ReplayStore(load_outcomes(slice30)))) as server:
        yield server


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache folder for the whole test session."""
    return tmp_path_factory.mktemp("embeddings")
