"""MMLU-STEM (`mmlu_stem/test.jsonl`: question, type, choices, answer index) -> data_source `mmlu_stem`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xrouter.data.sources.common import guru_row, read_jsonl, require
from xrouter.errors import DataError

DEFAULT_FILE = "mmlu_stem/test.jsonl"
LETTERS = "ABCDEFGHIJ"
INSTRUCTION = "Answer with the letter of the correct choice only."


def rows(path: Path) -> Iterator[dict[str, Any]]:
    """Guru rows with lettered choices; ground truth is the letter; query ids `mmlu_stem.test.<n>`."""
    for n, (line, item) in enumerate(read_jsonl(path)):
        where = f"{path}: line {line}"
        require(item, ("question", "choices"), where)
        choices, answer = item["choices"], item.get("answer")
        if not isinstance(choices, list) or not 2 <= len(choices) <= len(LETTERS):
            raise DataError(f"{where}: 'choices' must be a list of 2 to {len(LETTERS)} options")
        if not isinstance(answer, int) or not 0 <= answer < len(choices):
            raise DataError(f"{where}: 'answer' must be a choice index below {len(choices)}, got {answer!r}")
        options = "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(choices))
        yield guru_row(
            data_source="mmlu_stem",
            question=f"{item['question']}\n{options}\n\n{INSTRUCTION}",
            ability="multiple_choice",
            ground_truth=LETTERS[answer],
            query_id=f"mmlu_stem.test.{n}",
            index=n,
            extra={
                "original_question": item["question"],
                "subject": str(item.get("type", "")),
                "choices": [str(c) for c in choices],  # lets the choice scorer accept the option text too
            },
        )
