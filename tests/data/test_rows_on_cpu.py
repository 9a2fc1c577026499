"""Row builder: the exact training-row contract, the user-turn rule, simple mode and parquet encoding."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xrouter.catalog import SELECT_TOOL_NAME
from xrouter.data.rows import (
    AGENT_NAME,
    build_row,
    check_columns,
    decode_tools_kwargs,
    encode_for_parquet,
    output_schema,
)
from xrouter.engine.prompts import USER_QUERY_LABEL, USER_SYSTEM_LABEL, router_messages
from xrouter.errors import DataError

POOL = ["gpt-5-mini", "gpt-4.1-nano", "o3"]


def _build(source, *, mode="agent", pool=POOL, limit=2000, index=0):
    return build_row(
        source,
        where="f: row 0",
        file_stem="f",
        source_row=3,
        index=index,
        version=1,
        model_set_type="random",
        pool=pool,
        mode=mode,
        max_system_prompt_length=limit,
    )


def test_row_has_exactly_the_contract_fields(guru_rows):
    """Top-level keys, extra_info keys and values follow the training-row contract."""
    row = _build(guru_rows[0])
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "agent_name", "extra_info"}
    assert row["agent_name"] == AGENT_NAME == "xrouter_agent"
    assert row["reward_model"] == {"style": "rule", "ground_truth": "1"}
    extra = row["extra_info"]
    assert set(extra) == {
        "split", "original_question",  # original fields kept
        "index", "query_id", "user_messages", "need_tools_kwargs", "tools_kwargs", "tool_selection",
        "model_pool", "model_set_type", "mode", "version", "source_row",
    }  # fmt: skip
    assert extra["query_id"] == "math__toy.0"
    assert extra["user_messages"] == [{"role": "user", "content": "What is 0 + 1?"}]
    assert extra["tool_selection"] == ["call_gpt_5_mini", "call_gpt_4_1_nano", "call_o3"]
    assert extra["model_pool"] == POOL
    assert extra["tools_kwargs"] == {
        "call_gpt_5_mini": {"create_kwargs": {"model_id": "gpt-5-mini"}},
        "call_gpt_4_1_nano": {"create_kwargs": {"model_id": "gpt-4.1-nano"}},
        "call_o3": {"create_kwargs": {"model_id": "o3"}},
        SELECT_TOOL_NAME: {"create_kwargs": {}},
    }
    assert (extra["mode"], extra["model_set_type"], extra["version"], extra["source_row"]) == ("agent", "random", 1, 3)


def test_prompt_is_the_shared_router_messages_rule(guru_rows):
    """The prompt equals router_messages(user_messages, mode, limit) for plain and system-prompt rows."""
    for source in guru_rows[:3]:
        row = _build(source)
        assert row["prompt"] == router_messages(source["prompt"], "agent", 2000)


def test_short_user_system_prompt_is_labelled_and_long_one_is_inlined(guru_rows):
    """A short user system prompt gets its label; one over the limit is inlined before the query."""
    short = _build(guru_rows[1])["prompt"][1]["content"]
    assert short.startswith(f"{USER_SYSTEM_LABEL}\nBe terse.\n{USER_QUERY_LABEL}\n")
    long = _build(guru_rows[2])["prompt"][1]["content"]
    assert long.startswith(f"{USER_QUERY_LABEL}\nAlways answer") and USER_SYSTEM_LABEL not in long
    raised = _build(guru_rows[2], limit=10_000)["prompt"][1]["content"]
    assert raised.startswith(USER_SYSTEM_LABEL)


def test_simple_mode_uses_the_simple_prompt_and_no_select_response(guru_rows):
    """Simple mode: simple system prompt, no select_response tool kwargs."""
    row = _build(guru_rows[0], mode="simple")
    assert row["prompt"] == router_messages(guru_rows[0]["prompt"], "simple")
    assert SELECT_TOOL_NAME not in row["extra_info"]["tools_kwargs"]
    assert row["extra_info"]["mode"] == "simple"


def test_every_pooled_tool_exists_in_the_catalog(guru_rows, catalog):
    """Tool names in tools_kwargs/tool_selection resolve to the pooled catalog models."""
    extra = _build(guru_rows[0])["extra_info"]
    for name in extra["tool_selection"]:
        assert catalog.by_tool_name(name) is not None
        assert extra["tools_kwargs"][name]["create_kwargs"]["model_id"] == catalog.by_tool_name(name).id


def test_parquet_round_trip_decodes_to_the_contract_form(tmp_path, guru_rows, catalog):
    """Written with the output schema and read back, decode_tools_kwargs restores the contract value."""
    schema = output_schema(pa.Table.from_pylist(guru_rows).schema, catalog.ids(), "agent")
    rows = [_build(guru_rows[0], index=0), _build(guru_rows[1], pool=["kimi-k2"], index=1)]
    expected = [r["extra_info"]["tools_kwargs"] for r in rows]
    pq.write_table(pa.Table.from_pylist([encode_for_parquet(r) for r in rows], schema=schema), tmp_path / "o.parquet")
    back = pq.read_table(tmp_path / "o.parquet").to_pylist()
    assert back[1]["extra_info"]["tools_kwargs"]["call_o3"] is None  # union-of-keys artefact of parquet structs
    assert [decode_tools_kwargs(r["extra_info"]["tools_kwargs"]) for r in back] == [
        {**e, SELECT_TOOL_NAME: {"create_kwargs": {}}} for e in expected
    ]


@pytest.mark.parametrize(
    "prompt, message",
    [
        ([], "non-empty list"),
        ("What is 2+2?", "non-empty list"),
        ([{"role": "user", "content": "   "}], "empty prompt"),
        ([{"content": "hi"}], "prompt\\[0\\]"),
        ([{"role": "tool", "content": "x"}, {"role": "user", "content": "hi"}], "unsupported message role"),
    ],
)
def test_bad_prompts_raise_data_errors_naming_the_row(guru_rows, prompt, message):
    """Malformed prompts raise DataError with the row location."""
    with pytest.raises(DataError, match=f"f: row 0: .*{message}|f: row 0: {message}"):
        _build({**guru_rows[0], "prompt": prompt})


def test_missing_required_columns_are_named():
    """A file without prompt/reward_model is rejected with the column names."""
    with pytest.raises(DataError, match="in.parquet: missing column\\(s\\) prompt, reward_model"):
        check_columns(pa.schema([("data_source", pa.string())]), "in.parquet")


def test_routerbench_rows_reject_models_without_recorded_outcomes(guru_rows):
    """A row with recorded_models refuses pools with other models and names the replay catalog."""
    source = {**guru_rows[0], "extra_info": {"recorded_models": ["claude-v1"]}}
    with pytest.raises(DataError, match="gpt-5-mini.*--catalog-only"):
        _build(source)
    assert _build(source, pool=["claude-v1"])["extra_info"]["model_pool"] == ["claude-v1"]
