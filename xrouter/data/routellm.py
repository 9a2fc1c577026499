"""RouteLLM's recorded outcomes (lm-sys/RouteLLM, Apache-2.0) as a long outcome table with modelled costs.

RouteLLM publishes its GSM8K evaluation as `routellm/evals/gsm8k/gsm8k_responses.csv`: one row per GSM8K test
question with `prompt` (the question), one True/False column per model and `<model>_response` (the answer
text). It records no token counts and no cost, so both are modelled here:

* tokens: the question (input) and the answer (output) counted with GPT-4's tokenizer (cl100k, shipped with
  LiteLLM, so nothing is downloaded); the few-shot exemplars RouteLLM may have prepended are not in the file
  and are not counted, so input costs are a lower bound;
* price: the catalog's entry for the model (`xrouter/resources/routerbench_models.yaml`, the early-2024 list
  prices RouterBench used: GPT-4 Turbo $10 / $30, Mixtral 8x7B $0.60 / $0.60 per 1M tokens) through
  `xrouter.catalog.pricing.cost_usd`, the one home of prices. A model is priced as the catalog id in
  `PRICED_AS`, or under its own name when the catalog has it.

Query ids are `routellm.<task>.<row>` (row = 0-based data row); the task is `gsm8k` for
`gsm8k_responses.csv`, else the file's stem.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from xrouter.catalog.catalog import Catalog, load_catalog
from xrouter.catalog.pricing import Usage, cost_usd
from xrouter.errors import CatalogError, DataError

PRICE_CATALOG = "routerbench_models.yaml"
# data name -> catalog id whose price applies (RouteLLM's Mixtral is RouterBench's mixtral-8x7b-chat)
PRICED_AS = {"mistralai/Mixtral-8x7B-Instruct-v0.1": "mistralai/mixtral-8x7b-chat"}
_SUFFIX = "_response"
_TRUE = {"true": 1.0, "1": 1.0, "1.0": 1.0, "false": 0.0, "0": 0.0, "0.0": 0.0}


def routellm_models(columns: Iterable[str]) -> list[str]:
    """Model names of a RouteLLM frame: the columns that have a `<model>_response` twin."""
    cols = list(columns)
    return [c for c in cols if c != "prompt" and f"{c}{_SUFFIX}" in cols]


def is_routellm_columns(columns: Iterable[str]) -> bool:
    """Whether a CSV header is RouteLLM's outcome format (`prompt` plus model / `<model>_response` pairs)."""
    cols = list(columns)
    return "prompt" in cols and "sample_id" not in cols and bool(routellm_models(cols))


def count_tokens(texts: list[str]) -> list[int]:
    """Token counts with GPT-4's tokenizer (offline: LiteLLM ships the cl100k vocabulary)."""
    import litellm

    return [int(litellm.token_counter(model="gpt-4-1106-preview", text=t)) for t in texts]


def _score(cell: object, where: str) -> float:
    if pd.isna(cell):
        return float("nan")
    value = _TRUE.get(str(cell).strip().lower())
    if value is None:
        raise DataError(f"{where}: expected True or False, got {str(cell)[:40]!r}")
    return value


def _price_spec(catalog: Catalog, model: str, path: Path):  # noqa: ANN202 - a ModelSpec
    try:
        spec = catalog.get(PRICED_AS.get(model, model))
    except CatalogError:
        raise DataError(f"{path}: no catalog price for model {model!r} (add it to PRICED_AS or the catalog)") from None
    if not spec.has_price:
        raise DataError(f"{path}: catalog entry {spec.id!r} has no price")
    return spec


def load_routellm_csv(path: str | Path, catalog: Catalog | None = None) -> pd.DataFrame:
    """Long outcome table (one row per question x model) from a RouteLLM responses CSV."""
    path = Path(path)
    try:
        wide = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read RouteLLM CSV ({exc})") from None
    if not is_routellm_columns(wide.columns):
        raise DataError(f"{path}: not a RouteLLM responses file (needs 'prompt' and '<model>', '<model>_response')")
    catalog = catalog or load_catalog(None, use_env=False, base=PRICE_CATALOG)
    task = "gsm8k" if path.stem == "gsm8k_responses" else path.stem
    questions = wide["prompt"].fillna("").astype(str).tolist()
    ids = [f"routellm.{task}.{i}" for i in range(len(wide))]
    n_in = count_tokens(questions)
    frames = []
    for model in routellm_models(wide.columns):
        spec = _price_spec(catalog, model, path)
        answers = wide[f"{model}{_SUFFIX}"].fillna("").astype(str).tolist()
        n_out = count_tokens(answers)
        scores = [_score(v, f"{path}: row {i + 2}, column {model!r}") for i, v in enumerate(wide[model])]
        costs = [cost_usd(spec, Usage(input_tokens=a, output_tokens=b)) for a, b in zip(n_in, n_out, strict=True)]
        frames.append(pd.DataFrame({
            "dataset": task, "query_id": ids, "query_text": questions, "model": model, "response": answers,
            "cost_usd": costs, "score": scores, "input_tokens": n_in, "output_tokens": n_out,
            "cached_input_tokens": 0,
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)
