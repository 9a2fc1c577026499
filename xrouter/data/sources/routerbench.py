"""RouterBench CSVs (as in `routerbench_slices/`) -> guru rows that replay and the reward can join on.

`recorded_rows` does the same for any long outcome table (the RouteLLM adapter uses it).

* `query_id` is exactly the id `xrouter.data.outcomes` gives the query (the `sample_id`, with the
  original row index appended when a `sample_id` repeats), and `prompt` is the single user message
  the replay server matches (the prompt strings joined with newlines), so replayed calls find it.
* `data_source` is the benchmark's `eval_name` (`arc-challenge`, `winogrande`, `mbpp`).
* RouterBench stores no gold answers, only per-model correctness. For multiple-choice benchmarks the
  ground truth is the choice letter that the models judged correct answered (majority; style "rule").
  For GSM8K the ground truth is the final number the correct answers agree on (majority).
  Where no model was correct, and for MBPP (no test cases in the data), the ground truth is empty and
  the style is "recorded": score such rows with the recorded correctness in `extra_info.recorded`
  (`[{model, score, cost_usd}]`), which is also how a replayed model answer should be scored.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from xrouter.data.outcomes import load_routerbench_csv
from xrouter.data.sources.common import guru_row
from xrouter.reward.scorers.gsm8k import predicted_number

MULTIPLE_CHOICE = {"arc-challenge", "winogrande", "mmlu", "hellaswag"}
NUMERIC = {"gsm8k"}
_LETTER = re.compile(r"^\W*([A-E])\b")


def choice_letter(response: str) -> str | None:
    """The choice letter a response starts with (`"B"`, `"(C) ..."`, `"D) east"`), else None."""
    match = _LETTER.match(str(response))
    return match.group(1) if match else None


def _final_number(response: str) -> str | None:
    value = predicted_number(str(response))
    return None if value is None else f"{value:g}"


def _ground_truth(dataset: str, group: pd.DataFrame) -> tuple[str, str]:
    if dataset not in MULTIPLE_CHOICE and dataset not in NUMERIC:
        return "", "recorded"
    read = choice_letter if dataset in MULTIPLE_CHOICE else _final_number
    correct = group[group["score"] >= 1.0]["response"]
    answers = Counter(answer for answer in map(read, correct) if answer)
    if not answers:
        return "", "recorded"
    return answers.most_common(1)[0][0], "rule"


def _ability(dataset: str) -> str:
    if dataset in MULTIPLE_CHOICE:
        return "multiple_choice"
    if dataset in NUMERIC:
        return "math"
    return "codegen" if dataset in ("mbpp", "humaneval") else "general"


def _maybe(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def rows(path: Path) -> Iterator[dict[str, Any]]:
    """Guru rows, one per query of a RouterBench-format CSV, in file order."""
    return recorded_rows(load_routerbench_csv(path), "routerbench")


def recorded_rows(long: pd.DataFrame, source: str) -> Iterator[dict[str, Any]]:
    """Guru rows, one per query of a long outcome table, in table order."""
    for n, (query_id, group) in enumerate(long.groupby("query_id", sort=False)):
        dataset = str(group["dataset"].iloc[0])
        truth, style = _ground_truth(dataset, group)
        recorded = [
            {"model": str(m), "score": _maybe(s), "cost_usd": _maybe(c)}
            for m, s, c in zip(group["model"], group["score"], group["cost_usd"], strict=True)
        ]
        yield guru_row(
            data_source=dataset,
            question=str(group["query_text"].iloc[0]),
            ability=_ability(dataset),
            ground_truth=truth,
            query_id=str(query_id),
            index=n,
            style=style,
            extra={
                "split": "train",
                "dataset": dataset,
                "source": source,
                "recorded_models": [str(m) for m in group["model"]],
                "recorded": recorded,
                "answer_source": "recorded correct answers (majority letter)" if truth else "none",
            },
        )
