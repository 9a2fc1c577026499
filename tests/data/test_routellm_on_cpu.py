"""RouteLLM responses CSVs as outcome tables and guru rows. Run: .venv/bin/python -m pytest tests/data -q"""

from __future__ import annotations

import pandas as pd
import pytest

from xrouter.catalog import Usage, cost_usd, load_catalog
from xrouter.data.outcomes import load_outcomes
from xrouter.data.routellm import PRICED_AS, count_tokens
from xrouter.data.sources import source_rows
from xrouter.errors import DataError

MIXTRAL, GPT4 = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"


@pytest.fixture
def routellm_csv(tmp_path):
    """Three GSM8K-style rows in RouteLLM's column layout (the first one missing nothing, the last wrong twice)."""
    frame = pd.DataFrame({
        "prompt": ["Tom has 3 apples and buys 4. How many?", "What is 10 / 4?", "Sam runs 2 km a day. How far in 3 days?"],
        MIXTRAL: ["True", "False", "False"],
        GPT4: ["True", "True", "False"],
        f"{MIXTRAL}_response": ["3 + 4 = 7\n#### 7", "10 / 4 = 3\n#### 3", "2 + 3 = 5\n#### 5"],
        f"{GPT4}_response": ["He has 3 + 4 = 7 apples.", "10 / 4 = 2.5, so the answer is 2.5.", "2 * 3 = 6 km"],
    })  # fmt: skip
    path = tmp_path / "gsm8k_responses.csv"
    frame.to_csv(path, index=False)
    return path


def test_routellm_csv_loads_with_costs_from_tokens_and_catalog_prices(routellm_csv):
    """Each (question, model) gets its score, answer, token counts and the catalog price of those tokens."""
    table = load_outcomes(routellm_csv)
    assert table.models == [MIXTRAL, GPT4]
    assert list(table.queries()["query_id"]) == ["routellm.gsm8k.0", "routellm.gsm8k.1", "routellm.gsm8k.2"]
    assert set(table.frame["dataset"]) == {"gsm8k"}
    assert table.pivot("score").loc["routellm.gsm8k.1"].tolist() == [0.0, 1.0]
    catalog = load_catalog(None, use_env=False, base="routerbench_models.yaml")
    row = table.frame[(table.frame.query_id == "routellm.gsm8k.1") & (table.frame.model == MIXTRAL)].iloc[0]
    n_in, n_out = count_tokens([row.query_text, row.response])
    assert (row.input_tokens, row.output_tokens) == (n_in, n_out) and n_in > 3
    expected = cost_usd(catalog.get(PRICED_AS[MIXTRAL]), Usage(input_tokens=n_in, output_tokens=n_out))
    assert row.cost_usd == pytest.approx(expected)
    costs = table.pivot("cost_usd")
    assert (costs[GPT4] > 10 * costs[MIXTRAL]).all()  # $10/$30 against $0.60/$0.60 per 1M tokens


def test_routellm_rows_carry_the_agreed_final_number(routellm_csv):
    """The ground truth is the number the correct answers give; no correct answer means recorded scoring."""
    rows = list(source_rows("routellm")(routellm_csv))
    assert [r["reward_model"] for r in rows] == [
        {"style": "rule", "ground_truth": "7"},
        {"style": "rule", "ground_truth": "2.5"},
        {"style": "recorded", "ground_truth": ""},
    ]
    assert rows[0]["data_source"] == "gsm8k" and rows[0]["extra_info"]["source"] == "routellm"
    assert rows[1]["extra_info"]["query_id"] == "routellm.gsm8k.1"


def test_routellm_bad_cells_and_unknown_models_are_named(routellm_csv, tmp_path):
    """A non-boolean outcome names its row and column; a model with no catalog price is named."""
    frame = pd.read_csv(routellm_csv, dtype=str)
    frame.loc[1, GPT4] = "maybe"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"row 3, column 'gpt-4-1106-preview'"):
        load_outcomes(tmp_path / "bad.csv")
    renamed = pd.read_csv(routellm_csv, dtype=str).rename(columns={GPT4: "acme/x", f"{GPT4}_response": "acme/x_response"})
    renamed.to_csv(tmp_path / "unknown.csv", index=False)
    with pytest.raises(DataError, match="no catalog price for model 'acme/x'"):
        load_outcomes(tmp_path / "unknown.csv")


def test_other_csv_layouts_are_refused_with_the_file_named(tmp_path):
    """A CSV that is neither RouterBench nor RouteLLM is a data error naming the file."""
    pd.DataFrame({"question": ["q"], "answer": ["a"]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(DataError, match="x.csv: missing column 'sample_id'"):
        load_outcomes(tmp_path / "x.csv")


def test_routellm_gsm8k_file_loads_complete(shared_data):
    """The published GSM8K file: 1,319 questions, GPT-4 85.7 % and Mixtral 63.8 % correct, GPT-4 far dearer."""
    path = shared_data / "routellm_gpt4_mixtral" / "gsm8k" / "gsm8k_responses.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    table, dropped = load_outcomes(path).complete()
    assert dropped == 0 and len(table.queries()) == 1319
    means = table.pivot("score").mean()
    assert means[GPT4] == pytest.approx(1130 / 1319) and means[MIXTRAL] == pytest.approx(842 / 1319)
    assert 20 < table.pivot("cost_usd")[GPT4].mean() / table.pivot("cost_usd")[MIXTRAL].mean() < 100
