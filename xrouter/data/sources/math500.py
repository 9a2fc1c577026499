"""MATH-500 (`math500/test.jsonl`: problem, solution, answer, subject, level) -> data_source `math__math500`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xrouter.data.sources.common import guru_row, read_jsonl, require

DEFAULT_FILE = "math500/test.jsonl"
INSTRUCTION = "Put the final answer within \\boxed{}."


def rows(path: Path) -> Iterator[dict[str, Any]]:
    """Guru rows; query ids are `math500.test.<n>`; ground truth is the `answer` field."""
    for n, (line, item) in enumerate(read_jsonl(path)):
        require(item, ("problem", "answer"), f"{path}: line {line}")
        yield guru_row(
            data_source="math__math500",
            question=f"{item['problem']}\n\n{INSTRUCTION}",
            ability="math",
            ground_truth=str(item["answer"]),
            query_id=f"math500.test.{n}",
            index=n,
            extra={
                "original_question": item["problem"],
                "subject": str(item.get("subject", "")),
                "level": str(item.get("level", "")),
            },
        )
