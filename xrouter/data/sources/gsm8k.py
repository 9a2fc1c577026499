"""GSM8K (`gsm8k/test.jsonl`: question, answer ending in `#### <number>`) -> guru rows, data_source `gsm8k`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xrouter.data.sources.common import guru_row, read_jsonl, require
from xrouter.errors import DataError

DEFAULT_FILE = "gsm8k/test.jsonl"
INSTRUCTION = "Solve the problem step by step, then put the final numeric answer within \\boxed{}."


def final_answer(solution: str, where: str) -> str:
    """The number after the last `####` of a GSM8K solution, without thousands separators."""
    if "####" not in solution:
        raise DataError(f"{where}: answer has no '#### <number>' line")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def rows(path: Path) -> Iterator[dict[str, Any]]:
    """Guru rows; query ids are `gsm8k.test.<n>` (n = 0-based item number)."""
    for n, (line, item) in enumerate(read_jsonl(path)):
        where = f"{path}: line {line}"
        require(item, ("question", "answer"), where)
        yield guru_row(
            data_source="gsm8k",
            question=f"{item['question']}\n\n{INSTRUCTION}",
            ability="math",
            ground_truth=final_answer(item["answer"], where),
            query_id=f"gsm8k.test.{n}",
            index=n,
            extra={"original_question": item["question"], "solution": item["answer"]},
        )
