"""RouteLLM responses CSVs (e.g. `gsm8k_responses.csv`) -> guru rows with recorded outcomes and modelled costs.

The rows are built like RouterBench's (`xrouter.data.sources.routerbench.recorded_rows`): `query_id` is the id
the outcome table gives the question (`routellm.gsm8k.<row>`), the ground truth is the final number the
correct recorded answers agree on, and `extra_info.recorded` keeps each model's score and modelled cost
(`xrouter.data.routellm` says how the cost is modelled).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xrouter.data.routellm import load_routellm_csv
from xrouter.data.sources.routerbench import recorded_rows


def rows(path: Path) -> Iterator[dict[str, Any]]:
    """Guru rows, one per question of a RouteLLM responses CSV, in file order."""
    return recorded_rows(load_routellm_csv(path), "routellm")
