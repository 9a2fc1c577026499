"""The plugin package, its registrations and the verl tools (YAML loading, backends, standalone execute).

Run: .venv/bin/python -m pytest -q tests/verl_plugin/test_tools_on_cpu.py
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from tests.verl_plugin.conftest import MODELS
from xrouter.errors import CatalogError, UsageError


class _AgentData:
    """The two AgentData attributes the tools touch."""

    def __init__(self) -> None:
        self.extra_fields: dict = {}
        self.request_id = "req-1"


def test_plugin_imports_directly_and_registers_everything():
    """Importing xrouter.verl_plugin registers xrouter_agent and xrouter_dapo (entry-point errors are silent)."""
    plugin = importlib.import_module("xrouter.verl_plugin")
    from importlib.metadata import entry_points

    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls

    assert _agent_loop_registry["xrouter_agent"]["_target_"] == "xrouter.verl_plugin.agent_loop.XRouterAgentLoop"
    assert get_reward_manager_cls("xrouter_dapo") is plugin.reward_manager.XRouterDAPORewardManager
    assert any(ep.value == "xrouter.verl_plugin" for ep in entry_points(group="verl.plugins"))


def test_tool_yaml_from_cli_loads_through_verl(tool_config: Path):
    """`xrouter tools --format verl` output loads with verl's initialize_tools_from_config."""
    from verl.tools.tool_registry import initialize_tools_from_config

    from xrouter.verl_plugin.tools import CallModelTool, SelectResponseTool

    tools = {t.name: t for t in initialize_tools_from_config(str(tool_config))}
    assert set(tools) == {"call_cheap_a", "call_strong_c", "select_response"}
    assert isinstance(tools["call_cheap_a"], CallModelTool) and tools["call_cheap_a"].spec.id == "cheap-a"
    assert isinstance(tools["select_response"], SelectResponseTool)
    assert tools["call_strong_c"].settings.backend == "replay"


def test_backend_settings_fall_back_to_environment(monkeypatch):
    """Unset config keys come from XROUTER_TOOL_* variables read at construction."""
    from xrouter.verl_plugin.backend import ToolBackendConfig

    monkeypatch.setenv("XROUTER_TOOL_BACKEND", "replay")
    monkeypatch.setenv("XROUTER_TOOL_API_BASE", "http://127.0.0.1:9/v1")
    cfg = ToolBackendConfig.from_tool_config({"type": "native", "model_id": "gpt-5-mini"}, "call_gpt_5_mini")
    assert (cfg.backend, cfg.api_base) == ("replay", "http://127.0.0.1:9/v1")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "native", "backend": "replay"}, "needs api_base"),
        ({"type": "native", "backend": "cache"}, "needs cache_path"),
        ({"type": "native", "backend": "cloud"}, "config.backend"),
        ({"type": "native", "model": "x"}, "config.model"),
    ],
)
def test_bad_backend_settings_name_the_field(monkeypatch, config, message):
    """A bad tool config fails at construction with the tool and the field in the message."""
    from xrouter.verl_plugin.backend import ToolBackendConfig

    for env in ("XROUTER_TOOL_BACKEND", "XROUTER_TOOL_API_BASE", "XROUTER_CACHE_PATH"):
        monkeypatch.delenv(env, raising=False)
    with pytest.raises(UsageError, match=message):
        ToolBackendConfig.from_tool_config(config, "call_x")


def test_unpriced_model_refuses_to_start(tmp_path: Path):
    """A pooled model without a price stops tool construction (training must not start)."""
    from verl.tools.schemas import OpenAIFunctionToolSchema

    from xrouter.catalog import call_tool_schema, load_catalog
    from xrouter.verl_plugin.tools import CallModelTool

    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "models:\n  - id: free-lunch\n    litellm_model: openai/free-lunch\n    provider: local\n    tier: budget\n"
        "    input_usd_per_mtok: null\n    output_usd_per_mtok: null\n    context_window: 4096\n"
        "    max_output_tokens: 512\n    description: A model with no price.\n"
    )
    spec = load_catalog(catalog, use_env=False).get("free-lunch")
    schema = OpenAIFunctionToolSchema.model_validate(call_tool_schema(spec))
    with pytest.raises(CatalogError, match="no price for free-lunch"):
        CallModelTool({"type": "native", "model_id": "free-lunch", "catalog": str(catalog)}, schema)


async def test_execute_records_call_and_select_returns_it(tool_config: Path):
    """Standalone execute: the call reaches the replay server, is recorded, and select returns its answer."""
    from verl.tools.tool_registry import initialize_tools_from_config

    from xrouter.engine.trajectory import TurnRecord
    from xrouter.verl_plugin.episode import EpisodeState, attach

    tools = {t.name: t for t in initialize_tools_from_config(str(tool_config))}
    agent_data = _AgentData()
    state = EpisodeState(query_id="q-add", user_messages=[{"role": "user", "content": "What is 2+3?"}])
    state.turns.append(TurnRecord(index=1, text=""))
    attach(agent_data, state)
    tool = tools["call_strong_c"]
    iid, _ = await tool.create()
    response, reward, metrics = await tool.execute(iid, {"optimized_system_prompt": "Be brief."}, agent_data=agent_data)
    await tool.release(iid)
    assert response.text == "The answer is 5" and reward == 0.0 and metrics["ok"] is True
    [record] = agent_data.extra_fields["xrouter_calls"]
    assert record["model"] == "strong-c" and record["cost_usd"] == pytest.approx(MODELS["strong-c"])
    assert record["answer"] == "The answer is 5" and record["success"] is True
    selected, _, chosen = await tools["select_response"].execute(
        "s", {"model_call_name": "call_strong_c"}, agent_data=agent_data
    )
    assert selected.text == "The answer is 5" and chosen["ok"] is True
    missing, _, refused = await tools["select_response"].execute(
        "s", {"model_call_name": "call_cheap_a"}, agent_data=agent_data
    )
    assert refused["ok"] is False and missing.text.startswith("[error]")


async def test_execute_with_bad_arguments_is_refused_without_a_call(tool_config: Path):
    """Arguments the engine rejects give its error text and no call record."""
    from verl.tools.tool_registry import initialize_tools_from_config

    from xrouter.verl_plugin.episode import EpisodeState, attach

    tool = next(t for t in initialize_tools_from_config(str(tool_config)) if t.name == "call_cheap_a")
    agent_data = _AgentData()
    attach(agent_data, EpisodeState(query_id="q-add", user_messages=[{"role": "user", "content": "What is 2+3?"}]))
    response, _, metrics = await tool.execute("i", {"temperature": 9}, agent_data=agent_data)
    assert metrics["ok"] is False and "bad_arguments" in response.text
    assert "xrouter_calls" not in agent_data.extra_fields


async def test_tools_outside_xrouter_agent_answer_with_an_error(tool_config: Path):
    """Without the episode state (another agent loop) no model is called."""
    from verl.tools.tool_registry import initialize_tools_from_config

    tools = initialize_tools_from_config(str(tool_config))
    for tool in tools:
        response, _, metrics = await tool.execute("i", {"optimized_system_prompt": "x"}, agent_data=_AgentData())
        assert metrics["ok"] is False and "xrouter_agent" in response.text


def test_tool_yaml_entries_keep_plugin_class_paths(tool_config: Path):
    """The class paths emitted by the catalog stay importable plugin classes."""
    data = yaml.safe_load(tool_config.read_text())
    paths = {e["class_name"] for e in data["tools"]}
    assert paths == {"xrouter.verl_plugin.tools.CallModelTool", "xrouter.verl_plugin.tools.SelectResponseTool"}


def test_trainer_mode_is_registered_and_step_means_average_numbers():
    """`xrouter_sync` is a registered V1 trainer; step means skip non-numeric and missing values."""
    import numpy as np
    from verl.trainer.ppo.v1.trainer_base import get_trainer_cls

    from xrouter.verl_plugin.trainer import XRouterTrainerSync, step_means

    assert get_trainer_cls("xrouter_sync") is XRouterTrainerSync
    infos = [
        {"cost_usd": 0.01, "valid": True, "acc": np.float32(1.0), "note": "x"},
        {"cost_usd": 0.03, "valid": False, "acc": float("nan")},
        None,
    ]
    assert step_means(infos) == pytest.approx(
        {"xrouter/cost_usd/mean": 0.02, "xrouter/valid/mean": 0.5, "xrouter/acc/mean": 1.0}
    )


async def test_cache_backend_serves_the_second_call_from_disk(tool_config: Path, tmp_path: Path):
    """Backend `cache`: the first call goes over HTTP and is stored, the same call again is a cache hit."""
    from verl.tools.schemas import OpenAIFunctionToolSchema

    from xrouter.llm.cache import ResponseCache
    from xrouter.verl_plugin.episode import EpisodeState, attach
    from xrouter.verl_plugin.tools import CallModelTool

    entry = next(
        e for e in yaml.safe_load(tool_config.read_text())["tools"] if e["config"].get("model_id") == "cheap-a"
    )
    config = {**entry["config"], "backend": "cache", "cache_path": str(tmp_path / "cache.sqlite")}
    tool = CallModelTool(config, OpenAIFunctionToolSchema.model_validate(entry["tool_schema"]))
    records = []
    for _ in range(2):
        agent_data = _AgentData()
        attach(agent_data, EpisodeState(query_id="q-sq", user_messages=[{"role": "user", "content": "What is 7*7?"}]))
        _, _, metrics = await tool.execute("i", {"optimized_system_prompt": "Be brief."}, agent_data=agent_data)
        records.append(metrics["record"])
    assert [r.cache_hit for r in records] == [False, True]
    assert records[1].output == "The answer is 49" and records[1].cost_usd == pytest.approx(MODELS["cheap-a"])
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        assert len(cache) == 1


def test_trainer_refuses_to_start_with_an_unpriced_pooled_model(tmp_path: Path):
    """`xrouter_sync` builds the tools before verl takes any GPU: an unpriced model or no tool config stops it."""
    from omegaconf import OmegaConf

    from xrouter.cli.main import main
    from xrouter.verl_plugin.trainer import XRouterTrainerSync

    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "models:\n  - id: free-lunch\n    litellm_model: openai/free-lunch\n    provider: local\n    tier: budget\n"
        "    input_usd_per_mtok: null\n    output_usd_per_mtok: null\n    context_window: 4096\n"
        "    max_output_tokens: 512\n    description: A model with no price.\n"
    )
    tools = tmp_path / "tools.yaml"
    assert (
        main(["tools", "--models", "free-lunch", "--format", "verl", "--catalog", str(catalog), "--out", str(tools)])
        == 0
    )
    data = yaml.safe_load(tools.read_text())
    for entry in data["tools"]:
        entry["config"]["catalog"] = str(catalog)
    tools.write_text(yaml.safe_dump(data))

    def config(path: str | None):
        return OmegaConf.create({"actor_rollout_ref": {"rollout": {"multi_turn": {"tool_config_path": path}}}})

    with pytest.raises(CatalogError, match="no price for free-lunch"):
        XRouterTrainerSync(config(str(tools)))
    with pytest.raises(UsageError, match="tool_config_path is not set"):
        XRouterTrainerSync(config(None))
