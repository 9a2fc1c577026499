"""AIME 2024 (`aime24/test.jsonl`: id, problem, answer) -> data_source `math__aime24`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xrouter.data.sources.common import guru_row, read_jsonl, require

DEFAULT_FILE = "aime24/test.jsonl"
INSTRUCTION = "The answer is an integer from 0 to 999. Put the final answer within \\boxed{}."


def rows(path: Path) -> Iterator[dict[str, Any]]:
    """Guru rows; query ids are `aime24.<id>` (the file's own id), ground truth the integer answer."""
    for n, (line, item) in enumerate(read_jsonl(path)):
        require(item, ("id", "problem", "answer"), f"{path}: line {line}")
        yield guru_row(
            data_source="math__aime24",
            question=f"{item['problem']}\n\n{INSTRUCTION}",
            ability="math",
            ground_truth=str(item["answer"]).strip(),
            query_id=f"aime24.{item['id']}",
            index=n,
            extra={"original_question": item["problem"]},
        )
