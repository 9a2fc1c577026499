"""HumanEval (`humaneval/HumanEval.jsonl`: task_id, prompt, entry_point, test) -> data_source `humaneval`.

The ground truth is a JSON string: `functional` (the benchmark's `check` function followed by a call
on the entry point, to run after the candidate code), `entry_point` and the original `prompt`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xrouter.data.sources.common import guru_row, read_jsonl, require

DEFAULT_FILE = "humaneval/HumanEval.jsonl"
INSTRUCTION = "Complete the following Python function. Reply with the whole function in one ```python code block."


def rows(path: Path) -> Iterator[dict[str, Any]]:
    """Guru rows; query ids are the task ids (`HumanEval/0`, ...)."""
    for n, (line, item) in enumerate(read_jsonl(path)):
        require(item, ("task_id", "prompt", "entry_point", "test"), f"{path}: line {line}")
        truth = {
            "functional": f"{item['test']}\n\ncheck({item['entry_point']})\n",
            "entry_point": item["entry_point"],
            "prompt": item["prompt"],
        }
        yield guru_row(
            data_source="humaneval",
            question=f"{INSTRUCTION}\n\n```python\n{item['prompt']}```",
            ability="codegen",
            ground_truth=json.dumps(truth),
            query_id=str(item["task_id"]),
            index=n,
            extra={"original_question": item["prompt"]},
        )
