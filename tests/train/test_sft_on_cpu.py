"""Warm-start traces: target policies, the held-out split, the agent and simple formats, `xrouter sft-data`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from xrouter.catalog import SELECT_TOOL_NAME, tool_name_for
from xrouter.errors import DataError, UsageError
from xrouter.eval.split import in_split
from xrouter.reward.config import RewardConfig
from xrouter.train.sft import TraceConfig, build_traces, task_table

CHEAP, STRONG = "cheap-a", "strong-c"
TOOLS = [{"type": "function", "function": {"name": tool_name_for(m), "description": m}} for m in (CHEAP, STRONG)]
SELECT = {"type": "function", "function": {"name": SELECT_TOOL_NAME, "description": "select"}}


def row(qid: str, task: str, cheap_right: bool, mode: str = "simple") -> dict:
    recorded = [{"model": CHEAP, "score": float(cheap_right), "cost_usd": 0.0001},
                {"model": STRONG, "score": 1.0, "cost_usd": 0.01}]  # fmt: skip
    extra = {"query_id": qid, "model_pool": [CHEAP, STRONG], "recorded": recorded, "mode": mode,
             "tool_selection": [tool_name_for(CHEAP), tool_name_for(STRONG)]}  # fmt: skip
    prompt = [{"role": "system", "content": "route"}, {"role": "user", "content": f"USER REQUEST:\n{qid}?"}]
    return {"data_source": task, "prompt": prompt, "extra_info": extra, "where": f"rows {qid}"}


def tools_for(r: dict) -> list[dict]:
    return TOOLS + ([SELECT] if r["extra_info"]["mode"] == "agent" else [])


def fit_ids(n: int) -> list[str]:
    return [q for q in (f"q{i}" for i in range(200)) if in_split(q, "fit", holdout=0.3, seed=0)][:n]


def test_held_out_queries_never_become_traces():
    """Only queries of the fit split are written: the split bench evaluates on stays unseen."""
    ids = [f"q{i}" for i in range(60)]
    traces = build_traces([row(q, "t", True) for q in ids], tools_for, TraceConfig())
    kept = {t["query_id"] for t in traces}
    assert kept == {q for q in ids if in_split(q, "fit", holdout=0.3, seed=0)}
    assert 0 < len(kept) < len(ids)


def test_uniform_targets_cover_the_pool_and_repeat_for_a_seed():
    """uniform draws each pool model; the same seed gives the same traces, --per-row draws several per row."""
    rows = [row(q, "t", True) for q in fit_ids(40)]
    first = build_traces(rows, tools_for, TraceConfig(seed=3))
    assert first == build_traces(rows, tools_for, TraceConfig(seed=3))
    assert set(Counter(t["target"] for t in first)) == {CHEAP, STRONG}
    assert len(build_traces(rows, tools_for, TraceConfig(per_row=3))) == 3 * len(rows)


def test_table_picks_the_best_mean_reward_per_task_at_lambda():
    """Task a: the cheap model is always right (it wins at any λ > 0); task b: it is always wrong."""
    rows = [row(q, "a", True) for q in fit_ids(6)] + [row(q, "b", False) for q in fit_ids(12)[6:]]
    assert task_table(rows, RewardConfig(cost_lambda=5.0)) == {"a": CHEAP, "b": STRONG}
    traces = build_traces(rows, tools_for, TraceConfig(target="table", reward=RewardConfig(cost_lambda=5.0)))
    assert {(t["data_source"], t["target"]) for t in traces} == {("a", CHEAP), ("b", STRONG)}


def test_table_uses_each_rows_own_lambda():
    """Rows at λ 0 and 200 of one task (cheap right half the time): the strong model at 0, the cheap one at 200."""
    rows = []
    for i, q in enumerate(fit_ids(20)):
        r = row(q, "a", i % 2 == 0)
        r["extra_info"]["cost_lambda"] = 0.0 if i < 10 else 200.0
        rows.append(r)
    table = task_table(rows, RewardConfig(cost_lambda=5.0))
    assert table == {("a", 0.0): STRONG, ("a", 200.0): CHEAP}
    traces = build_traces(rows, tools_for, TraceConfig(target="table", reward=RewardConfig(cost_lambda=5.0)))
    assert [t["target"] for t in traces] == [STRONG] * 10 + [CHEAP] * 10


def test_cheapest_correct_follows_each_rows_recorded_outcome():
    """cheapest-correct calls the cheap model where it was right, the strong one elsewhere."""
    right, wrong = fit_ids(2)
    traces = build_traces(
        [row(right, "a", True), row(wrong, "a", False)], tools_for, TraceConfig(target="cheapest-correct")
    )
    assert {t["query_id"]: t["target"] for t in traces} == {right: CHEAP, wrong: STRONG}


def test_simple_trace_is_the_rows_prompt_then_one_hermes_call_with_a_task_note():
    """The conversation starts with the row's own prompt; the target turn is a think note and one call."""
    (qid,) = fit_ids(1)
    trace = build_traces([row(qid, "arc", True)], tools_for, TraceConfig(target="table"))[0]
    messages, tools = json.loads(trace["messages"]), json.loads(trace["tools"])
    assert messages[:2] == row(qid, "arc", True)["prompt"] and tools == TOOLS
    turn = messages[2]
    assert turn["content"] == "<think>Task: arc.</think>\n"
    (call,) = turn["tool_calls"]
    assert call["function"]["name"] == tool_name_for(trace["target"])
    assert set(call["function"]["arguments"]) == {"optimized_system_prompt"}


def test_agent_trace_reads_the_recorded_answer_and_selects_it():
    """Agent mode: call, the recorded answer as the tool response, then select_response naming the call."""
    (qid,) = fit_ids(1)
    answers = {(qid, CHEAP): "The answer is 5", (qid, STRONG): "5"}
    config = TraceConfig(target="cheapest-correct", think=False)
    trace = build_traces([row(qid, "t", True, mode="agent")], tools_for, config, lambda q, m: answers[(q, m)])[0]
    messages = json.loads(trace["messages"])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert messages[2]["content"] == "" and messages[3]["content"] == "The answer is 5"
    select = messages[4]["tool_calls"][0]["function"]
    assert select == {"name": SELECT_TOOL_NAME, "arguments": {"model_call_name": tool_name_for(CHEAP)}}
    assert SELECT_TOOL_NAME in [t["function"]["name"] for t in json.loads(trace["tools"])]


def test_agent_rows_without_answers_and_rows_without_outcomes_are_clear_errors():
    """No recorded answers for agent mode is a usage error; a row without outcomes names the row."""
    (qid,) = fit_ids(1)
    with pytest.raises(UsageError, match="--outcomes"):
        build_traces([row(qid, "t", True, mode="agent")], tools_for, TraceConfig())
    bare = row(qid, "t", True)
    bare["extra_info"] = {**bare["extra_info"], "recorded": []}
    with pytest.raises(DataError, match=f"rows {qid}: extra_info has no recorded outcomes"):
        build_traces([bare], tools_for, TraceConfig())


def test_sft_data_command_writes_json_text_columns_and_refuses_to_overwrite(tmp_path: Path, capsys):
    """`xrouter sft-data` on a rows parquet: JSON-text messages/tools, a summary table, exit 2 on a second run."""
    import pandas as pd

    from xrouter.cli.main import main

    rows = pd.DataFrame([{k: v for k, v in row(q, "t", q.endswith("1")).items() if k != "where"} for q in fit_ids(8)])
    rows.to_parquet(tmp_path / "rows.parquet")
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(TOOLS))
    argv = [
        "sft-data",
        "--rows",
        str(tmp_path / "rows.parquet"),
        "--tools",
        str(tools),
        "--out",
        str(tmp_path / "sft.parquet"),
    ]
    assert main(argv) == 0
    written = pd.read_parquet(tmp_path / "sft.parquet")
    assert len(written) == 8 and isinstance(written["messages"].iloc[0], str)
    assert json.loads(written["tools"].iloc[0]) == TOOLS
    assert main(argv) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
