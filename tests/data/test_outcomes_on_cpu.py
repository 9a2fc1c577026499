"""Loading recorded outcomes. Run: .venv/bin/python -m pytest tests/data -q"""

from __future__ import annotations

import pandas as pd
import pytest

from xrouter.data.outcomes import load_outcomes, normalize_text
from xrouter.errors import DataError


def test_routerbench_csv_loads_long_with_joined_text(shared_data):
    """A RouterBench CSV becomes one row per (query, model) with literal lists joined."""
    table = load_outcomes(shared_data / "routerbench_slices" / "mbpp_train.csv")
    assert len(table.models) == 11 and "gpt-4-1106-preview" in table.models
    assert len(table.frame) == 299 * 11
    raw = pd.read_csv(shared_data / "routerbench_slices" / "mbpp_train.csv")
    first = table.frame[(table.frame.query_id == raw.sample_id[0]) & (table.frame.model == "claude-v2")].iloc[0]
    assert first.cost_usd == pytest.approx(raw["claude-v2|total_cost"][0], abs=1e-12)
    assert first.score == raw["claude-v2"][0]
    assert not first.query_text.startswith("[")


def test_repeated_sample_ids_are_made_unique(shared_data):
    """ARC has repeated sample_ids with different prompts; ids get the row index appended."""
    table = load_outcomes(shared_data / "routerbench_slices" / "arc_challenge_train.csv")
    assert table.frame.query_id.nunique() == 1039
    assert any("#" in q for q in table.frame.query_id.unique())


def test_complete_drops_rows_with_missing_outcomes(shared_data):
    """Queries with any missing model outcome are dropped and counted."""
    table = load_outcomes(shared_data / "routerbench_slices" / "arc_challenge_train.csv")
    complete, dropped = table.complete()
    assert dropped == 1039 - complete.frame.query_id.nunique() and dropped > 0
    assert complete.pivot("score").notna().all().all()


def test_outcome_table_parquet_roundtrip(tmp_path):
    """An xrouter outcome parquet loads; missing required columns are named."""
    frame = pd.DataFrame(
        {
            "query_id": ["q1", "q1"],
            "query_text": ["hi", "hi"],
            "model": ["a", "b"],
            "response": ["x", "y"],
            "cost_usd": [0.1, 0.2],
            "score": [1.0, 0.0],
            "input_tokens": [10, 10],
        }
    )
    frame.to_parquet(tmp_path / "o.parquet")
    table = load_outcomes(tmp_path / "o.parquet")
    assert table.models == ["a", "b"] and table.pivot("score").loc["q1", "b"] == 0.0
    frame.drop(columns=["score"]).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="missing column.*score"):
        load_outcomes(tmp_path / "bad.parquet")


def test_normalize_text_collapses_whitespace():
    """Matching ignores runs of whitespace and surrounding blanks."""
    assert normalize_text("  a\n\n b\tc ") == "a b c"


def test_empty_csv_is_a_data_error_naming_the_file(tmp_path):
    """An empty CSV gives a DataError naming the file, not a pandas traceback."""
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.csv: cannot read outcome CSV"):
        load_outcomes(empty)
