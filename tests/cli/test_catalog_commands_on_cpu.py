"""`xrouter models` and `xrouter tools` through main(argv). Run: .venv/bin/python -m pytest tests/cli -q"""

from __future__ import annotations

import json

import yaml

from xrouter.cli.main import main


def test_models_json_lists_every_model_with_prices(capsys):
    """--json prints at least 22 objects with the documented keys."""
    assert main(["models", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) >= 22
    keys = {"id", "tier", "input_usd_per_mtok", "output_usd_per_mtok", "litellm_model", "tool_name"}
    assert all(keys <= set(r) for r in records)


def test_models_tier_filter_and_table(capsys):
    """--tier filters; the default output is a table naming the models."""
    assert main(["models", "--tier", "specialized", "--json"]) == 0
    assert {r["id"] for r in json.loads(capsys.readouterr().out)} == {"o3", "qwen3-235b-thinking", "qwen3-coder-480b"}
    assert main(["models"]) == 0
    assert "catalog" in capsys.readouterr().out


def test_tools_verl_yaml_loads_with_one_entry_per_model(tmp_path):
    """`tools --format verl --out` writes YAML with one entry per model plus select_response."""
    out = tmp_path / "tools.yaml"
    assert main(["tools", "--models", "gpt-5,gpt-4o-mini,kimi-k2", "--format", "verl", "--out", str(out)]) == 0
    config = yaml.safe_load(out.read_text())
    names = [t["tool_schema"]["function"]["name"] for t in config["tools"]]
    assert names == ["call_gpt_5", "call_gpt_4o_mini", "call_kimi_k2", "select_response"]
    assert not list(tmp_path.glob(".*tmp"))


def test_tools_openai_json_simple_mode_and_fixed_set(capsys):
    """OpenAI JSON for a fixed set, in simple mode, has no select_response."""
    assert main(["tools", "--fixed-set", "3", "--simple"]) == 0
    names = [t["function"]["name"] for t in json.loads(capsys.readouterr().out)]
    assert "select_response" not in names and len(names) == 6


def test_bad_catalog_exits_2_with_one_line(tmp_path, capsys):
    """A broken catalog file gives exit code 2 and a one-line error naming file and problem."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - {id: gpt-4o, tier: luxury}\n")
    assert main(["models", "--catalog", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.yaml" in err and "tier" in err


def test_unknown_model_and_usage_errors_exit_2(capsys):
    """Unknown models and missing flags are usage/data errors (exit 2)."""
    assert main(["tools", "--models", "gpt-99"]) == 2
    assert "unknown model 'gpt-99'" in capsys.readouterr().err
    assert main(["tools"]) == 2
    assert main(["models", "--tier", "luxury"]) == 2
    assert main([]) == 2


def test_usage_errors_are_one_line(capsys):
    """argparse usage errors print one line naming the problem and pointing at --help."""
    assert main(["models", "--tier", "luxury"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "invalid choice: 'luxury'" in err and "--help" in err
