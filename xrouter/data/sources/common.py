"""Helpers shared by the source adapters: JSONL reading with located errors and the guru row shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xrouter.errors import DataError
from xrouter.io import read_jsonl

__all__ = ["guru_row", "read_jsonl", "require"]


def require(obj: Mapping[str, Any], fields: Sequence[str], where: str) -> None:
    """DataError naming the first missing or empty field."""
    for name in fields:
        if obj.get(name) in (None, ""):
            raise DataError(f"{where}: missing field {name!r}")


def guru_row(
    *,
    data_source: str,
    question: str,
    ability: str,
    ground_truth: str,
    query_id: str,
    index: int,
    extra: Mapping[str, Any] | None = None,
    style: str = "rule",
) -> dict[str, Any]:
    """One row in the Reasoning360 "guru" convention with a stable `extra_info.query_id`."""
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": question}],
        "ability": ability,
        "reward_model": {"style": style, "ground_truth": ground_truth},
        "extra_info": {"split": "test", "index": index, "query_id": query_id, "dataset": data_source, **(extra or {})},
    }
