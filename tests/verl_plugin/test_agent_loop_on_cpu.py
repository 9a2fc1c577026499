"""The `xrouter_agent` loop on verl's real ToolAgentLoop machinery, with a scripted token-level policy.

Run: .venv/bin/python -m pytest -q tests/verl_plugin/test_agent_loop_on_cpu.py

Target calls go through the tools' LiteLLM client over HTTP to the replay server on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.verl_plugin.conftest import MODELS, QUERIES
from xrouter.engine.prompts import router_messages
from xrouter.verl_plugin.scripted import ScriptedPolicyServer, call, select, tool_call_text

POOL = tuple(MODELS)


def make_loop(tiny_model: Path, tool_config: Path, script: list[str], max_turns: int = 3):
    """Build the loop inside the running event loop (verl's AgentLoopBase captures it)."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap, ToolListWrap
    from verl.tools.tool_registry import initialize_tools_from_config
    from verl.utils.dataset.rl_dataset import RLHFDataset

    from xrouter.verl_plugin.agent_loop import XRouterAgentLoop

    cfg = OmegaConf.create(
        {
            "xrouter": {"max_turns": max_turns, "max_calls_per_turn": 4, "max_total_calls": 8},
            "actor_rollout_ref": {
                "rollout": {
                    "prompt_length": 4096,
                    "response_length": 4096,
                    "full_determinism": False,
                    "multi_turn": {
                        "max_user_turns": None,
                        "max_assistant_turns": max_turns,
                        "max_parallel_calls": 4,
                        "max_tool_response_length": 2048,
                        "tool_response_truncate_side": "middle",
                        "format": "hermes",
                    },
                },
                "model": {"path": str(tiny_model)},
            },
            "data": {"apply_chat_template_kwargs": {}},
        }
    )
    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    server = ScriptedPolicyServer(str(tiny_model), {"": script})
    tools = initialize_tools_from_config(str(tool_config))
    return XRouterAgentLoop(
        trainer_config=DictConfigWrap(cfg),
        server_manager=server,
        tokenizer=tok,
        processor=None,
        dataset_cls=RLHFDataset,
        data_config=DictConfigWrap(cfg.data),
        tools=ToolListWrap(tools),
    )


def row_kwargs(query_id: str, mode: str = "agent", pool: tuple[str, ...] = POOL) -> dict[str, Any]:
    """What verl hands `run` for one training row (training-row contract)."""
    user = [{"role": "user", "content": QUERIES[query_id][0]}]
    names = [f"call_{m.replace('-', '_')}" for m in pool]
    return {
        "raw_prompt": router_messages(user, mode),
        "data_source": "toy",
        "extra_info": {"index": 0, "query_id": query_id, "user_messages": user, "mode": mode, "tool_selection": names},
        "tools_kwargs": {n: {"create_kwargs": {"model_id": m}} for n, m in zip(names, pool, strict=True)},
    }


async def run_episode(tiny_model, tool_config, script, query_id="q-cap", mode="agent", pool=POOL, max_turns=3):
    loop = make_loop(tiny_model, tool_config, script, max_turns)
    out = await loop.run({"temperature": 1.0}, **row_kwargs(query_id, mode, pool))
    return loop, out


def segments(mask: list[int]) -> list[int]:
    """Mask values of consecutive runs, e.g. [1, 0, 1]."""
    runs: list[int] = []
    for m in mask:
        if not runs or runs[-1] != m:
            runs.append(m)
    return runs


async def test_call_then_select_ends_with_selected_answer(tiny_model, tool_config):
    """call -> select_response: the selected answer is returned, cost charged, select's reply not appended."""
    loop, out = await run_episode(tiny_model, tool_config, [call("call_strong_c"), select("call_strong_c")])
    ef = out.extra_fields
    assert ef["xrouter_finish"] == "select_response" and ef["xrouter_valid"] is True
    assert ef["xrouter_answer"] == "The answer is Paris"
    assert ef["xrouter_cost_usd"] == pytest.approx(MODELS["strong-c"])
    [record] = ef["xrouter_calls"]
    assert record["model"] == "strong-c" and record["answer"] == "The answer is Paris" and record["success"] is True
    assert record["input_tokens"] == 20 and record["output_tokens"] == 5 and record["latency_s"] >= 0
    assert ef["xrouter_num_turns"] == 2
    assert segments(out.response_mask) == [1, 0, 1]
    observation = loop.tokenizer.decode([t for t, m in zip(out.response_ids, out.response_mask, strict=True) if not m])
    assert "<tool_response>" in observation and "The answer is Paris" in observation
    assert out.response_mask[-1] == 1  # the episode ended on the policy's own select turn


async def test_parallel_calls_run_in_one_turn(tiny_model, tool_config):
    """Two calls in one turn both run; selecting the cheap one returns its (wrong) answer."""
    _, out = await run_episode(
        tiny_model, tool_config, [call("call_cheap_a") + call("call_strong_c"), select("call_cheap_a")]
    )
    ef = out.extra_fields
    assert sorted(c["model"] for c in ef["xrouter_calls"]) == ["cheap-a", "strong-c"]
    assert ef["xrouter_cost_usd"] == pytest.approx(sum(MODELS.values()))
    assert ef["xrouter_answer"] == "The answer is Lyon"
    assert ef["xrouter_num_turns"] == 2


async def test_direct_answer_is_valid_and_free(tiny_model, tool_config):
    """A plain-text first turn is a valid direct answer with no calls; the whole response is policy tokens."""
    _, out = await run_episode(tiny_model, tool_config, ["<think>easy</think>The answer is 5"], query_id="q-add")
    ef = out.extra_fields
    assert ef["xrouter_finish"] == "direct_answer" and ef["xrouter_valid"] is True
    assert ef["xrouter_answer"] == "The answer is 5"
    assert ef["xrouter_calls"] == [] and ef["xrouter_cost_usd"] == 0.0
    assert set(out.response_mask) == {1}


async def test_call_on_last_turn_is_refused_and_invalid(tiny_model, tool_config):
    """With max_turns=2 a call on turn 2 is not run (engine rule) and the trajectory is invalid."""
    _, out = await run_episode(
        tiny_model, tool_config, [call("call_cheap_a"), call("call_strong_c")], query_id="q-sq", max_turns=2
    )
    ef = out.extra_fields
    assert ef["xrouter_valid"] is False and ef["xrouter_finish"] == "no_answer"
    assert [c["model"] for c in ef["xrouter_calls"]] == ["cheap-a"]
    assert ef["xrouter_refused_calls"] == 1
    assert ef["xrouter_num_turns"] == 2


async def test_unknown_tool_gets_engine_error_and_episode_continues(tiny_model, tool_config):
    """An unknown tool is refused with the engine's message, which the policy reads on the next turn."""
    loop, out = await run_episode(
        tiny_model, tool_config, [tool_call_text("call_gpt_99", optimized_system_prompt="x"), "The answer is 5"]
    )
    ef = out.extra_fields
    assert ef["xrouter_finish"] == "direct_answer" and ef["xrouter_calls"] == []
    assert ef["xrouter_refused_calls"] == 1
    text = loop.tokenizer.decode(out.response_ids)
    assert "[error] call_gpt_99 was not run (unavailable_tool)" in text


async def test_call_outside_row_pool_is_refused(tiny_model, tool_config):
    """A tool that exists in the config but not in the row's tool_selection is treated as unavailable."""
    _, out = await run_episode(tiny_model, tool_config, [call("call_strong_c"), "Paris"], pool=("cheap-a",))
    ef = out.extra_fields
    assert ef["xrouter_calls"] == [] and ef["xrouter_refused_calls"] == 1
    assert ef["xrouter_answer"] == "Paris"


async def test_simple_mode_delegation_ends_episode(tiny_model, tool_config):
    """Simple mode: one call and the delegated answer goes to the user; no second generation."""
    _, out = await run_episode(tiny_model, tool_config, [call("call_strong_c"), "unused"], mode="simple")
    ef = out.extra_fields
    assert ef["xrouter_finish"] == "delegated" and ef["xrouter_answer"] == "The answer is Paris"
    assert ef["xrouter_num_turns"] == 1 and ef["xrouter_mode"] == "simple"
    assert set(out.response_mask) == {1}


async def test_select_of_uncalled_model_is_refused(tiny_model, tool_config):
    """select_response naming a model never called is refused; ending there leaves no valid answer."""
    _, out = await run_episode(tiny_model, tool_config, [select("call_cheap_a"), select("call_cheap_a")], max_turns=2)
    ef = out.extra_fields
    assert ef["xrouter_valid"] is False and ef["xrouter_calls"] == []


async def test_malformed_tool_call_is_refused_like_serving(tiny_model, tool_config):
    """A hermes block that is not JSON is a refused call (as in serving), not a silent direct answer."""
    broken = '<tool_call>\n{"name": "call_cheap_a", "arguments": {oops}\n</tool_call>'
    loop, out = await run_episode(tiny_model, tool_config, [broken + call("call_strong_c"), "Paris"])
    ef = out.extra_fields
    assert [c["model"] for c in ef["xrouter_calls"]] == ["strong-c"]  # the well-formed call of the turn still ran
    assert ef["xrouter_refused_calls"] == 1
    assert ef["xrouter_finish"] == "direct_answer" and ef["xrouter_answer"] == "Paris" and ef["xrouter_num_turns"] == 2
    assert segments(out.response_mask) == [1, 0, 1]
    observation = loop.tokenizer.decode([t for t, m in zip(out.response_ids, out.response_mask, strict=True) if not m])
    assert "[error]" in observation and "The answer is Paris" in observation


async def test_turn_of_only_malformed_calls_does_not_end_the_episode(tiny_model, tool_config):
    """verl's parser would drop the block and end the episode; the engine refuses it and asks for another turn."""
    broken = '<tool_call>\n{"name": "call_cheap_a", "arguments": \n</tool_call>'
    _, out = await run_episode(tiny_model, tool_config, [broken, "The answer is 5"], query_id="q-add")
    ef = out.extra_fields
    assert ef["xrouter_num_turns"] == 2 and ef["xrouter_refused_calls"] == 1 and ef["xrouter_calls"] == []
    assert ef["xrouter_finish"] == "direct_answer" and ef["xrouter_answer"] == "The answer is 5"


async def test_serving_renders_the_training_prompt_token_for_token(tiny_model, tool_config):
    """The `hf:` router policy builds exactly the prompt ids the training agent loop built for the same row."""
    import yaml

    from xrouter.catalog import load_catalog, openai_tools
    from xrouter.engine.hf_policy import HFRouterPolicy
    from xrouter.engine.policy import PolicySettings

    _, out = await run_episode(tiny_model, tool_config, ["I answer myself."], mode="agent")
    catalog_file = yaml.safe_load(tool_config.read_text())["tools"][0]["config"]["catalog"]
    tools = openai_tools(load_catalog(catalog_file, use_env=False), list(POOL))
    policy = HFRouterPolicy(str(tiny_model), PolicySettings())
    assert policy.prompt_ids(row_kwargs("q-cap")["raw_prompt"], tools) == list(out.prompt_ids)
