"""Helpers shared by the source adapters: JSONL reading with located errors and the guru row shape."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from xrouter.errors import DataError


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; DataError names the file and line."""
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {number}: bad JSON ({exc.msg})") from None
                if not isinstance(value, dict):
                    raise DataError(f"{path}: line {number}: expected a JSON object")
                yield number, value
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


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
