"""Tool schemas in OpenAI and verl formats. Run: .venv/bin/python -m pytest tests/catalog -q"""

from __future__ import annotations

import pytest

from xrouter.catalog import SELECT_TOOL_NAME, load_catalog, openai_tools, verl_tool_config


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(use_env=False)


def test_openai_schema_has_prompt_temperature_and_budget(catalog):
    """Each call tool requires optimized_system_prompt and offers temperature and a capped max_tokens."""
    tools = openai_tools(catalog, ["gpt-4.1-mini", "o3"])
    assert [t["function"]["name"] for t in tools] == ["call_gpt_4_1_mini", "call_o3", SELECT_TOOL_NAME]
    params = tools[0]["function"]["parameters"]
    assert params["required"] == ["optimized_system_prompt"]
    assert set(params["properties"]) == {"optimized_system_prompt", "temperature", "max_tokens"}
    assert "at most 32768" in params["properties"]["max_tokens"]["description"]
    # no JSON-schema bounds: verl's tool schema drops them, and training and serving must show the same tools
    assert all(set(p) <= {"type", "description"} for p in params["properties"].values())
    assert "$0.4" in tools[0]["function"]["description"] and "$1.6" in tools[0]["function"]["description"]


def test_select_response_schema(catalog):
    """select_response takes the name of an earlier call tool."""
    select = openai_tools(catalog, ["gpt-5"])[-1]["function"]
    assert select["parameters"]["required"] == ["model_call_name"]


def test_simple_mode_has_no_select_tool(catalog):
    """Simple mode leaves select_response out."""
    names = [t["function"]["name"] for t in openai_tools(catalog, ["gpt-5", "gpt-5"], simple=True)]
    assert names == ["call_gpt_5"]


def test_verl_format_points_at_plugin_classes(catalog):
    """The verl config has one native entry per model plus select_response, with plugin class names."""
    config = verl_tool_config(catalog, ["gpt-5-nano", "call_kimi_k2"])
    entries = config["tools"]
    assert len(entries) == 3
    assert entries[0]["class_name"] == "xrouter.verl_plugin.tools.CallModelTool"
    assert entries[0]["config"] == {"type": "native", "model_id": "gpt-5-nano"}
    assert entries[1]["tool_schema"]["function"]["name"] == "call_kimi_k2"
    assert entries[2]["class_name"] == "xrouter.verl_plugin.tools.SelectResponseTool"


def test_prices_in_descriptions_follow_the_catalog(tmp_path):
    """Changing a price in a user catalog changes the tool description (one home for prices)."""
    user = tmp_path / "u.yaml"
    user.write_text("models:\n  - id: gpt-4o\n    input_usd_per_mtok: 3.25\n")
    desc = openai_tools(load_catalog(user, use_env=False), ["gpt-4o"])[0]["function"]["description"]
    assert "$3.25" in desc
