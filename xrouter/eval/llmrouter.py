"""Convert the LLMRouter score matrix (ulab-uiuc/LLMRouter, MIT) into a RouterBench-format outcome CSV.

The release has per-query x per-model scores and per-model prices but no token counts or responses, so the
cost of a call is modelled: input tokens = characters / 4 of the query, output tokens = a typical answer
length for the task's metric (`OUTPUT_TOKENS`), priced with the model's USD-per-Mtok prices. Responses are
left empty (the release has none); the replay provider then answers with an empty text, which is enough for
benchmarks that score by the recorded outcome. Used to build the demo's shipped fallback sample.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from xrouter.errors import DataError
from xrouter.io import read_jsonl

# typical output tokens per answer, by LLMRouter metric (multiple choice is a letter; math shows its work)
OUTPUT_TOKENS = {"em_mc": 8, "GSM8K": 250, "MATH": 400, "code_eval": 200, "f1_score": 24, "commongen_coverage": 48}


def llmrouter_outcomes(folder: str | Path, tasks: Sequence[str], per_task: int, *, seed: int = 0) -> pd.DataFrame:
    """A wide RouterBench-format frame: `per_task` seeded queries of each task in `tasks`."""
    folder = Path(folder)
    scores = json.loads((folder / "dcrouter_scores_train.json").read_text(encoding="utf-8"))
    queries = {q["query"]: q for q in (row for _, row in read_jsonl(folder / "default_query_train.jsonl"))}
    prices = json.loads((folder / "default_llm.json").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    rows = []
    for task in tasks:
        pool = [s for s in scores if queries.get(s["question"], {}).get("task_name") == task]
        if not pool:
            raise DataError(f"{folder}: no queries of task {task!r}")
        for i, item in enumerate(sorted(rng.sample(pool, min(per_task, len(pool))), key=lambda s: s["question"])):
            meta = queries[item["question"]]
            n_in, n_out = math.ceil(len(item["question"]) / 4), OUTPUT_TOKENS.get(meta["metric"], 64)
            row = {"sample_id": f"llmrouter.{task}.{i}", "prompt": repr([item["question"]]), "eval_name": task}
            for model, value in sorted(item["scores"].items()):
                if model not in prices:
                    raise DataError(f"{folder}/default_llm.json: no price for model {model!r}")
                p = prices[model]
                row[model] = float(value)
                row[f"{model}|total_cost"] = (n_in * p["input_price"] + n_out * p["output_price"]) / 1e6
            rows.append(row)
    return pd.DataFrame(rows)
