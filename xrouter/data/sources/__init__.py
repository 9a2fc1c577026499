"""Source adapters: local eval sets, RouterBench and RouteLLM CSVs and guru parquet files -> guru-style rows.

Each adapter module has `rows(path) -> Iterator[dict]`; the eval-set adapters also name the file they
read inside an `evalsets/` folder (`DEFAULT_FILE`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

# name -> (module, one-line description)
SOURCES: dict[str, tuple[str, str]] = {
    "gsm8k": ("xrouter.data.sources.gsm8k", "GSM8K test JSONL (question, '#### n' answer) -> gsm8k"),
    "math500": ("xrouter.data.sources.math500", "MATH-500 JSONL (problem, answer) -> math__math500"),
    "mmlu_stem": ("xrouter.data.sources.mmlu_stem", "MMLU-STEM JSONL (question, choices, answer) -> mmlu_stem"),
    "humaneval": ("xrouter.data.sources.humaneval", "HumanEval JSONL (prompt, test, entry_point) -> humaneval"),
    "aime24": ("xrouter.data.sources.aime24", "AIME 2024 JSONL (id, problem, answer) -> math__aime24"),
    "routerbench": ("xrouter.data.sources.routerbench", "RouterBench CSV -> <eval_name> rows with recorded outcomes"),
    "routellm": ("xrouter.data.sources.routellm", "RouteLLM responses CSV -> gsm8k rows with recorded outcomes"),
    "guru": ("xrouter.data.sources.guru", "guru parquet/JSONL (LLM360/guru-RL-92k) -> same rows plus query ids"),
}


def source_module(name: str) -> ModuleType:
    """The adapter module of a source name."""
    return importlib.import_module(SOURCES[name][0])


def source_rows(name: str) -> Callable[..., Iterator[dict[str, Any]]]:
    """The `rows(path)` function of a source."""
    return source_module(name).rows
